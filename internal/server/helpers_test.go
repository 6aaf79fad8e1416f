package server

import (
	"net/http"
	"sync"
	"testing"

	"github.com/collab-editor/collab/internal/apitest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func testCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

// apiChecker checks API exchanges against openapi.yaml; built once, as
// compiling the document's schemas is the costly part.
var apiChecker = sync.OnceValues(func() (*apitest.Checker, error) {
	return apitest.New(openAPIYAML)
})

// checkAPI wraps a test's server so that every API request it serves, and
// every answer, is checked against openapi.yaml: a mismatch fails t.
func checkAPI(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	return c.Handler(t, h)
}
