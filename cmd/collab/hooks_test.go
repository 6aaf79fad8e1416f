package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestWebhooksThroughRun: through the real entry point and its flags, a
// server-wide endpoint on loopback (-webhook-allow-private) gets signed
// events, an edit's summary after the debounce; an event whose receiver
// is down when collab stops is delivered after collab starts again on the
// same data, with the same webhook-id, when its retry is due.
func TestWebhooksThroughRun(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	reqs := make(chan got, 20)
	var status atomic.Int32
	status.Store(200)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		// The answer is chosen before the test hears of the request: the
		// test changes it once it has.
		code := int(status.Load())
		reqs <- got{r.Header.Clone(), b}
		w.WriteHeader(code)
	}))
	defer rcv.Close()
	next := func(want string) got {
		t.Helper()
		select {
		case g := <-reqs:
			if !strings.Contains(string(g.body), `"type":"`+want+`"`) {
				t.Fatalf("got %s, want a %s", g.body, want)
			}
			return g
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event", want)
		}
		return got{}
	}
	data := filepath.Join(t.TempDir(), "h.db")
	flags := []string{"-api-token", "tok", "-webhook-allow-private", "-change-debounce", "200ms"}
	base, stop := startRun(t, data, "", flags...)
	req, _ := http.NewRequest("POST", base+"/api/admin/hooks", strings.NewReader(`{"url":"`+rcv.URL+`"}`))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hook struct{ ID, Secret string }
	json.NewDecoder(resp.Body).Decode(&hook)
	resp.Body.Close()
	wh, err := standardwebhooks.NewWebhook(hook.Secret)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create hook: %s %v", resp.Status, err)
	}
	id := createDoc(t, base, "notes.md", "a")
	if g := next("document.created"); wh.Verify(g.body, g.header) != nil {
		t.Fatalf("unverified: %v %s", g.header, g.body)
	}
	put, _ := http.NewRequest("PUT", base+"/api/docs/"+id, strings.NewReader("ab"))
	put.Header.Set("Content-Type", "text/plain")
	if resp, err := apiClient(t).Do(put); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	if g := next("document.changed"); !strings.Contains(string(g.body), `"fromRev":2,"toRev":2`) {
		t.Fatalf("summary %s", g.body)
	} else if err := wh.Verify(g.body, g.header); err != nil {
		t.Fatalf("summary %s, headers %v: %v", g.body, g.header, err)
	}

	status.Store(503)
	ren, _ := http.NewRequest("PATCH", base+"/api/docs/"+id, strings.NewReader(`{"name":"b.md"}`))
	ren.Header.Set("Content-Type", "application/json")
	if resp, err := apiClient(t).Do(ren); err != nil || resp.StatusCode != 200 {
		t.Fatalf("rename: %v %v", resp, err)
	}
	failed := next("document.renamed")
	stop()
	status.Store(200)
	startRun(t, data, "", flags...)
	again := next("document.renamed")
	if again.header.Get("webhook-id") != failed.header.Get("webhook-id") || wh.Verify(again.body, again.header) != nil {
		t.Fatalf("after restart: %v, before: %v", again.header, failed.header)
	}
}
