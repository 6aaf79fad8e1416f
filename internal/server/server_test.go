package server

import (
	"net/http/httptest"
	"testing"
)

// TestWSDocID: the upgrade path that skips the router matches exactly the
// route GET /api/docs/{id}/ws, and nothing else.
func TestWSDocID(t *testing.T) {
	for _, tc := range []struct {
		method, path, id string
	}{
		{"GET", "/api/docs/abc/ws", "abc"},
		{"GET", "/api/docs/a-b_c/ws", "a-b_c"},
		{"POST", "/api/docs/abc/ws", ""},
		{"GET", "/api/docs//ws", ""},
		{"GET", "/api/docs/a/b/ws", ""},
		{"GET", "/api/docs/abc/ws/", ""},
		{"GET", "/api/docs/abc", ""},
		{"GET", "/api/docsabc/ws", ""},
		{"GET", "/d/abc/ws", ""},
	} {
		id, ok := wsDocID(httptest.NewRequest(tc.method, tc.path, nil))
		if id != tc.id || ok != (tc.id != "") {
			t.Errorf("%s %s: %q %v, want %q", tc.method, tc.path, id, ok, tc.id)
		}
	}
}
