package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/collab-editor/collab/internal/docs"
)

// TestErrorCodeKeyReused: an idempotency key reused for another request
// maps to 422 idempotency_key_reused wherever it comes from, as the
// store's wrapped error, not only in the PUT handler.
func TestErrorCodeKeyReused(t *testing.T) {
	err := fmt.Errorf("%w: the key was used for revision 7", docs.ErrKeyReused)
	if code, status := errorCode(err); code != "idempotency_key_reused" || status != http.StatusUnprocessableEntity {
		t.Errorf("errorCode(%v) = %q, %d; want idempotency_key_reused, 422", err, code, status)
	}
}
