package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
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

// TestRefusedJoinSaysWhy: a session refused for the document's session
// limit gets the error message before the close frame.
func TestRefusedJoinSaysWhy(t *testing.T) {
	_, base := testServer(t, Config{MaxSessionsPerDoc: 1})
	id := mkdoc(t, base, "hi")
	a := dialRaw(t, base, id, "")
	a.send(`{"type":"join","client":"a"}`)
	a.next("joined")
	b := dialRaw(t, base, id, "")
	b.send(`{"type":"join","client":"b"}`)
	if m := b.next("error"); m["code"] != "too_many_sessions" {
		t.Fatalf("refused join: %v", m)
	}
	if code := b.closeCode(); code != closeTooMany {
		t.Fatalf("refused join: close %d, want %d", code, closeTooMany)
	}
}

// TestCursorFloodIsTold: cursor updates beyond the rate are dropped with
// one rate_limited error (no id) per burst; the session goes on editing.
func TestCursorFloodIsTold(t *testing.T) {
	_, base := testServer(t, Config{CursorsPerSecond: 1})
	id := mkdoc(t, base, "hello")
	a := dialRaw(t, base, id, "")
	a.send(`{"type":"join","client":"a"}`)
	j := a.next("joined")
	rev := fmt.Sprint(j["rev"])
	for range 20 {
		a.send(`{"type":"cursor","rev":` + rev + `,"ranges":[{"anchor":1,"head":1}]}`)
	}
	a.send(`{"type":"op","rev":` + rev + `,"id":"a:1","op":["!",5]}`)
	var errs []map[string]any
	a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for acked := false; !acked; {
		_, data, err := a.c.ReadMessage()
		if err != nil {
			t.Fatalf("session ended: %v (errors %v)", err, errs)
		}
		var msgs []map[string]any
		if data[0] == '[' {
			json.Unmarshal(data, &msgs)
		} else {
			var m map[string]any
			json.Unmarshal(data, &m)
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			switch m["type"] {
			case "error":
				errs = append(errs, m)
			case "ack":
				acked = true
			}
		}
	}
	if len(errs) != 1 || errs[0]["code"] != "rate_limited" || errs[0]["id"] != nil {
		t.Fatalf("errors for a burst of cursors: %v, want one rate_limited without id", errs)
	}
}
