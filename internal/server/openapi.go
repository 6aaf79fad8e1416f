package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/goccy/go-yaml"
)

// openAPIYAML is the OpenAPI 3.1 description of the REST API, kept by hand
// (its header comment says how to change it). Every test's requests and
// answers are checked against it (internal/apitest).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is openAPIYAML as JSON, converted once when the program
// starts; openapi_test.go proves the conversion cannot fail.
var openAPIJSON = yamlToJSON(openAPIYAML)

func yamlToJSON(y []byte) []byte {
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		panic("server: openapi.yaml: " + err.Error())
	}
	var out bytes.Buffer
	if err := json.Indent(&out, j, "", " "); err != nil {
		panic("server: openapi.yaml as JSON: " + err.Error())
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// OpenAPI returns the OpenAPI description the server serves, in YAML (the
// source, with its comments). Callers must not modify it.
func OpenAPI() []byte { return openAPIYAML }

// handleOpenAPI serves the OpenAPI document as JSON.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPIJSON)
}

// handleOpenAPIYAML serves the OpenAPI document as it is kept, in YAML.
func (s *Server) handleOpenAPIYAML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPIYAML)
}
