package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/apitest"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/server"
)

// apiChecker checks the tests' API exchanges against the server's OpenAPI
// description; built once, as compiling its schemas is the costly part.
var apiChecker = sync.OnceValues(func() (*apitest.Checker, error) {
	return apitest.New(server.OpenAPI())
})

// serve starts the real server and returns its URL and a document's edit
// and view links.
func serve(t *testing.T, cfg server.Config) (base, edit, view string) {
	t.Helper()
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "c.db"), docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(cfg, mgr, server.NewMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	checker, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(checker.Handler(t, srv))
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Drain(ctx)
		mgr.Close()
	})
	resp, err := http.Post(hs.URL+"/api/docs", "application/json", bytes.NewReader([]byte(`{"name":"e.txt","text":"e"}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		ID    string
		Links struct{ View string }
	}
	json.NewDecoder(resp.Body).Decode(&d)
	return hs.URL, d.ID, d.Links.View
}

// inbox collects a client's events.
type inbox struct {
	mu     sync.Mutex
	events []client.Event
	errors []string
	more   chan struct{}
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1000)} }

func (b *inbox) event(e client.Event) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	b.more <- struct{}{}
}

func (b *inbox) error(code, msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, code)
	b.mu.Unlock()
	b.more <- struct{}{}
}

// wait waits until n events are in.
func (b *inbox) wait(t *testing.T, n int) []client.Event {
	t.Helper()
	for {
		b.mu.Lock()
		got := append([]client.Event(nil), b.events...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.more:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d events of %d after 10s", len(got), n)
		}
	}
}

func dial(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEmitAndData: events to one user, to all and to all but the sender
// arrive with the sender's user id and are counted by EmitAck; refusals
// come back as a *ServerError; app data set at Dial and with SetData is
// what the others see in Peers.
func TestEmitAndData(t *testing.T) {
	base, edit, view := serve(t, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	annBox, bobBox := newInbox(), newInbox()
	ann := dial(t, client.Config{URL: base, Doc: edit, Name: "Ann", Data: map[string]any{"role": "author"}, OnEvent: annBox.event})
	bob := dial(t, client.Config{URL: base, Doc: view, Name: "Bob", OnEvent: bobBox.event, OnError: bobBox.error})

	n, err := ann.EmitAck(ctx, "follow-me", map[string]int{"line": 12}, client.Target{Users: []string{bob.User()}})
	if err != nil || n != 1 {
		t.Fatalf("to Bob: %d, %v", n, err)
	}
	if e := bobBox.wait(t, 1)[0]; e.Name != "follow-me" || string(e.Data) != `{"line":12}` || e.From != ann.User() {
		t.Fatalf("Bob got %+v", e)
	}
	if n, err := ann.EmitAck(ctx, "tests", "running", client.Target{}); err != nil || n != 2 {
		t.Fatalf("to all: %d, %v", n, err)
	}
	if n, err := ann.EmitAck(ctx, "tests", nil, client.Target{ExcludeSelf: true}); err != nil || n != 1 {
		t.Fatalf("to all but Ann: %d, %v", n, err)
	}
	got := bobBox.wait(t, 3)
	if string(got[1].Data) != `"running"` || string(got[2].Data) != "null" {
		t.Fatalf("Bob got %+v", got)
	}
	if mine := annBox.wait(t, 1); len(mine) != 1 || string(mine[0].Data) != `"running"` {
		t.Fatalf("Ann got %+v", mine)
	}

	// Bob is view-only: his events are refused by default.
	_, err = bob.EmitAck(ctx, "hello", nil, client.Target{})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != "read_only" {
		t.Fatalf("a viewer's event: %v", err)
	}
	if err := bob.Emit("hello", nil, client.Target{}); err != nil {
		t.Fatal(err)
	}
	for {
		bobBox.mu.Lock()
		errs := append([]string(nil), bobBox.errors...)
		bobBox.mu.Unlock()
		if len(errs) > 0 {
			if errs[0] != "read_only" {
				t.Fatalf("Emit's refusal: %v", errs)
			}
			break
		}
		<-bobBox.more
	}
	if _, err := ann.EmitAck(ctx, "bad name", nil, client.Target{}); !errors.As(err, &se) || se.Code != "invalid" {
		t.Fatalf("a bad name: %v", err)
	}

	// App data.
	if err := ann.SetData(map[string]any{"status": "away", "role": nil}); err != nil {
		t.Fatal(err)
	}
	err = bob.WaitUntil(ctx, func() bool {
		peers := bob.Peers()
		return len(peers) == 1 && peers[0].ID == ann.User() && peers[0].Name == "Ann" && string(peers[0].Data["status"]) == `"away"` && peers[0].Data["role"] == nil
	})
	if err != nil {
		t.Fatalf("Bob sees %+v (%v)", bob.Peers(), err)
	}
	if err := ann.WaitUntil(ctx, func() bool { return string(ann.Data()["status"]) == `"away"` }); err != nil {
		t.Fatalf("Ann's own data: %s (%v)", ann.Data(), err)
	}

	// A reconnect keeps the data; an event in flight fails with the
	// connection rather than hang.
	ann.Drop()
	if _, err := ann.EmitAck(ctx, "x", nil, client.Target{}); !errors.Is(err, client.ErrNotConnected) && !errors.Is(err, client.ErrConnectionLost) {
		t.Fatalf("while reconnecting: %v", err)
	}
	if err := ann.WaitJoined(ctx); err != nil {
		t.Fatal(err)
	}
	if d := ann.Data(); string(d["status"]) != `"away"` || d["role"] != nil {
		t.Fatalf("after a reconnect: %s", d)
	}
}

// ExampleClient_EmitAck sends an app event to one other user and learns
// how many of their sessions it reached; every session handles events in
// Config.OnEvent.
func ExampleClient_EmitAck() {
	ctx := context.Background()
	c, err := client.Dial(ctx, client.Config{
		URL: "http://localhost:8080", Doc: "DOC_ID", Name: "Ann",
		Data: map[string]any{"role": "reviewer"},
		OnEvent: func(e client.Event) {
			if e.Name == "follow-me" {
				var at struct{ Line int }
				json.Unmarshal(e.Data, &at)
				// scroll to at.Line …
			}
		},
	})
	if err != nil {
		return
	}
	defer c.Close()
	for _, p := range c.Peers() {
		if string(p.Data["role"]) == `"author"` {
			n, err := c.EmitAck(ctx, "follow-me", map[string]int{"line": 120}, client.Target{Users: []string{p.ID}})
			_, _ = n, err // n sessions of the author got it
		}
	}
	c.SetData(map[string]any{"status": "away"})
}
