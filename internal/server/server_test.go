package server

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/gorilla/websocket"
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
func TestRefusedJoinSaysWhy(t *testing.T) { forBackends(t, testRefusedJoinSaysWhy) }

func testRefusedJoinSaysWhy(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxSessionsPerDoc: 1})
	id := mkdoc(t, base, "hi")
	joinRaw(t, base, id, "a") // the one session the document allows
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
func TestCursorFloodIsTold(t *testing.T) { forBackends(t, testCursorFloodIsTold) }

func testCursorFloodIsTold(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{CursorsPerSecond: 1})
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
		msgs, err := a.frame()
		if err != nil {
			t.Fatalf("session ended: %v (errors %v)", err, errs)
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

// TestDroppedSessionsCounted: every drop reason is in /metrics from the
// start, and a message over the limit (closed with 1009) is counted.
func TestDroppedSessionsCounted(t *testing.T) { forBackends(t, testDroppedSessionsCounted) }

func testDroppedSessionsCounted(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxMessageBytes: 1 << 10})
	for _, reason := range []string{dropSlowConsumer, dropRateLimited, dropHeartbeat, dropTooBig} {
		if m := metricsText(t, base); !strings.Contains(m, `collab_sessions_dropped_total{reason="`+reason+`"} 0`) {
			t.Fatalf("reason %s is not in /metrics:\n%s", reason, m)
		}
	}
	id := mkdoc(t, base, "x")
	a := joinRaw(t, base, id, "a-0123456789")
	b := joinRaw(t, base, id, "b-0123456789")
	a.send(`{"type":"chat","text":"` + strings.Repeat("x", 2<<10) + `"}`)
	if code := a.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
	// The server counts the drop as its read ends, just after the close,
	// and then tells the others that a left.
	if m := b.nextOf("leave"); m["user"] != a.user {
		t.Fatalf("leave %v, want %s's", m, a.user)
	}
	if m := metricsText(t, base); !strings.Contains(m, `collab_sessions_dropped_total{reason="message_too_big"} 1`) {
		t.Fatalf("the drop is not counted:\n%s", m)
	}
}

// TestClientRefusesTooLargeEdit: the Go client refuses an edit that would
// not fit in one message of the server's limit, before making it, and the
// session goes on.
func TestClientRefusesTooLargeEdit(t *testing.T) { forBackends(t, testClientRefusesTooLargeEdit) }

func testClientRefusesTooLargeEdit(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxMessageBytes: 1 << 10})
	id := mkdoc(t, base, "x")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Insert(1, strings.Repeat("y", 2<<10)); !errors.Is(err, client.ErrTooLarge) {
		t.Fatalf("a 2 KB insert against a 1 KB limit: %v", err)
	}
	if c.Text() != "x" {
		t.Fatalf("the refused edit changed the text: %q", c.Text())
	}
	if err := c.Insert(1, "!"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if text, _ := restText(t, base, id); text != "x!" {
		t.Fatalf("server text %q", text)
	}
}
