package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// sessionPage is GET /api/docs/{id}/sessions.
type sessionPage struct {
	Sessions []struct {
		First, Last, Revisions uint64
		Start, End             time.Time
		Authors                []string
		Added, Removed         int
		Labels                 []struct {
			ID   string
			Rev  uint64
			Name string
		}
	}
	Authors authorsMap
	Next    *uint64
}

// TestSessionsRoute: the history in edit sessions, newest first, paged,
// with authors' names, line counts and labels; and the diff of a session
// in one call.
func TestSessionsRoute(t *testing.T) { forBackends(t, testSessionsRoute) }

func testSessionsRoute(t *testing.T, bk backend) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	_, base := bk.serveTest(t, Config{}, docs.Config{Now: now}, nil)
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	id := doc.ID
	ann, ja := joinWith(t, base, id, "", `"client":"ann-tab-0123456789ab","author":"ann-secret-0123456789ab","name":"Ann"`)
	bob, jb := joinWith(t, base, id, "", `"client":"bob-tab-0123456789ab","author":"bob-secret-0123456789ab","name":"Bob"`)
	rev := uint64(1)
	seqs := map[*rawConn]int{}
	typeLine := func(who *rawConn, client, line string) {
		t.Helper()
		clock.Add(int64(10 * time.Second))
		seqs[who]++
		who.send(fmt.Sprintf(`{"type":"op","rev":%d,"id":"%s:%d","op":[%d,%q]}`, rev, client, seqs[who], 10+(rev-1)*4, line))
		who.nextOf("ack")
		rev++
	}
	typeLine(ann, "ann-tab-0123456789ab", "aaa\n") // 2
	typeLine(ann, "ann-tab-0123456789ab", "bbb\n") // 3
	clock.Add(int64(time.Hour))
	typeLine(bob, "bob-tab-0123456789ab", "ccc\n") // 4
	typeLine(ann, "ann-tab-0123456789ab", "ddd\n") // 5
	clock.Add(int64(docs.SessionGap + time.Second))
	typeLine(bob, "bob-tab-0123456789ab", "eee\n") // 6
	annID, bobID := ja["author"].(string), jb["author"].(string)
	api := apiClient{t, base}
	var label struct{ ID string }
	if r := api.call("POST", "/api/docs/"+id+"/labels", map[string]any{"rev": 4, "name": "v1.2 sent to review"}, map[string]string{"X-Collab-Author": annID}, &label); r.StatusCode != http.StatusCreated {
		t.Fatalf("POST label: %s", r.Status)
	}

	var p1, p2 sessionPage
	getJSON(t, base, "/api/docs/"+id+"/sessions?limit=2", &p1)
	if len(p1.Sessions) != 2 || p1.Next == nil || *p1.Next != 4 {
		t.Fatalf("first page: %+v", p1)
	}
	s6, s4 := p1.Sessions[0], p1.Sessions[1]
	if s6.First != 6 || s6.Last != 6 || s6.Revisions != 1 || strings.Join(s6.Authors, " ") != bobID || s6.Added != 1 || s6.Removed != 0 {
		t.Errorf("newest session: %+v", s6)
	}
	if s4.First != 4 || s4.Last != 5 || s4.Revisions != 2 || strings.Join(s4.Authors, " ") != bobID+" "+annID || s4.Added != 2 ||
		s4.End.Sub(s4.Start).Round(time.Second) != 10*time.Second {
		t.Errorf("the session of two: %+v", s4)
	}
	if len(s4.Labels) != 1 || s4.Labels[0].ID != label.ID || s4.Labels[0].Rev != 4 || len(s6.Labels) != 0 {
		t.Errorf("labels in sessions: %+v, %+v", s4.Labels, s6.Labels)
	}
	if p1.Authors[annID].Name != "Ann" || p1.Authors[bobID].Name != "Bob" {
		t.Errorf("authors: %+v", p1.Authors)
	}
	getJSON(t, base, fmt.Sprintf("/api/docs/%s/sessions?limit=2&before=%d", id, *p1.Next), &p2)
	if len(p2.Sessions) != 1 || p2.Next != nil {
		t.Fatalf("last page: %+v", p2)
	}
	if s1 := p2.Sessions[0]; s1.First != 1 || s1.Last != 3 || s1.Added != 3 || s1.Removed != 0 || s1.Authors[0] != "api" {
		t.Errorf("oldest session: %+v", s1)
	}
	// A session's diff is one call.
	r := api.call("GET", fmt.Sprintf("/api/docs/%s/diff?from=%d&to=%d&format=unified", id, s4.First-1, s4.Last), nil, nil, nil)
	body, _ := io.ReadAll(r.Body)
	plus := 0
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++") {
			plus++
		}
	}
	if !strings.Contains(string(body), "+ccc\n+ddd\n") || plus != s4.Added {
		t.Errorf("the session's diff (+%d lines, the session says %d):\n%s", plus, s4.Added, body)
	}
	// With the whole text as context, for a side-by-side view; without any.
	for _, c := range []struct {
		context string
		has     []string
		not     string
	}{{"1000", []string{" package a\n", " aaa\n", " bbb\n", "+ccc\n"}, ""}, {"0", []string{"+ccc\n+ddd\n"}, " bbb\n"}} {
		r := api.call("GET", fmt.Sprintf("/api/docs/%s/diff?from=%d&to=%d&format=unified&context=%s", id, s4.First-1, s4.Last, c.context), nil, nil, nil)
		body, _ := io.ReadAll(r.Body)
		for _, h := range c.has {
			if !strings.Contains(string(body), h) {
				t.Errorf("context=%s: no %q in\n%s", c.context, h, body)
			}
		}
		if c.not != "" && strings.Contains(string(body), c.not) {
			t.Errorf("context=%s: %q in\n%s", c.context, c.not, body)
		}
	}
	if r := api.call("GET", "/api/docs/"+id+"/diff?format=unified&context=-1", nil, nil, nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("context=-1: %s", r.Status)
	}
	// Bad paging.
	for _, q := range []string{"limit=0", "limit=201", "before=x"} {
		if r := api.call("GET", "/api/docs/"+id+"/sessions?"+q, nil, nil, nil); r.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: %s", q, r.Status)
		}
	}
	if r := api.call("GET", "/api/docs/nope/sessions", nil, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("sessions of no document: %s", r.Status)
	}
}

// TestLabelsRoute: labels are made and removed with edit access only,
// listed with any, and checked.
func TestLabelsRoute(t *testing.T) { forBackends(t, testLabelsRoute) }

func testLabelsRoute(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"one\n"}`)
	putText(t, base, doc.ID, "one\ntwo\n")
	labels := func(link string) []labelView {
		t.Helper()
		var out struct{ Labels []labelView }
		getJSON(t, base, "/api/docs/"+link+"/labels", &out)
		return out.Labels
	}
	// send does a request with a JSON body (when not "").
	send := func(method, path, body string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	post := func(link, body string, hdr map[string]string) (*http.Response, labelView) {
		t.Helper()
		var l labelView
		r := send("POST", "/api/docs/"+link+"/labels", body, hdr)
		if r.StatusCode == http.StatusCreated {
			if err := json.NewDecoder(r.Body).Decode(&l); err != nil {
				t.Fatal(err)
			}
		}
		return r, l
	}
	r, v1 := post(doc.Links.Edit, `{"rev":1,"name":"first"}`, nil)
	if r.StatusCode != http.StatusCreated || v1.Rev != 1 || v1.Name != "first" || v1.ID == "" || v1.Author != "api" {
		t.Fatalf("POST with the edit link: %s %+v", r.Status, v1)
	}
	_, v2 := post(doc.Links.Edit, `{"rev":2,"name":"v2 \u2014 sent"}`, map[string]string{"X-Collab-Author": "ann"})
	if got := labels(doc.Links.View); len(got) != 2 || got[0].ID != v1.ID || got[1].ID != v2.ID || got[1].Author != "ann" || got[1].Name != "v2 — sent" {
		t.Errorf("GET with the view link: %+v", got)
	}
	// The view link, and a view embed token, may not change them.
	viewTok, handle := mintEmbed(t, base, doc.Links.Edit, `{"mode":"view","name":"Guest"}`)
	for _, link := range []string{doc.Links.View, handle + "?token=" + viewTok} {
		path, query, _ := strings.Cut(link, "?")
		if query != "" {
			query = "?" + query
		}
		if r := send("POST", "/api/docs/"+path+"/labels"+query, `{"rev":1,"name":"x"}`, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %s: %s", link, r.Status)
		}
		if r := send("DELETE", "/api/docs/"+path+"/labels/"+v1.ID+query, "", nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("DELETE with %s: %s", link, r.Status)
		}
		if r := send("GET", "/api/docs/"+path+"/labels"+query, "", nil); r.StatusCode != http.StatusOK {
			t.Errorf("GET with %s: %s", link, r.Status)
		}
	}
	// An edit embed token may; the label is its author's.
	editTok, handle2 := mintEmbed(t, base, doc.Links.Edit, `{"mode":"edit","name":"Ann","subject":"u-42"}`)
	if r := send("POST", "/api/docs/"+handle2+"/labels?token="+editTok, `{"rev":2,"name":"by token"}`, nil); r.StatusCode != http.StatusCreated {
		t.Errorf("POST with an edit token: %s", r.Status)
	}
	for _, bad := range []struct {
		body string
		want int
	}{{`{"name":"x"}`, 400}, {`{"rev":1,"name":""}`, 400}, {`{"rev":1}`, 400}, {`{"rev":1,"name":"x","extra":1}`, 400}, {`{"rev":9,"name":"x"}`, 404}, {`not json`, 400}} {
		if r := send("POST", "/api/docs/"+doc.Links.Edit+"/labels", bad.body, nil); r.StatusCode != bad.want {
			t.Errorf("POST %s: %s, want %d", bad.body, r.Status, bad.want)
		}
	}
	if r := send("DELETE", "/api/docs/"+doc.Links.Edit+"/labels/"+v1.ID, "", nil); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %s", r.Status)
	}
	if r := send("DELETE", "/api/docs/"+doc.Links.Edit+"/labels/"+v1.ID, "", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE again: %s", r.Status)
	}
	if got := labels(doc.Links.Edit); len(got) != 2 || got[0].ID != v2.ID {
		t.Errorf("after the DELETE: %+v", got)
	}
}

// BenchmarkSessionsRoute asks for the edit sessions of a document of
// 100,000 revisions, made through the edit path by 32 writers at once in
// bursts of fifty revisions a second apart, with pauses of twenty minutes
// between the bursts (about 2,000 sessions): the newest page of fifty,
// and a page from a random revision. Each request goes through the whole
// handler (link, sessions, names, JSON), without the network.
func BenchmarkSessionsRoute(b *testing.B) {
	var clock atomic.Int64
	var calls atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time {
		step := time.Second
		if calls.Add(1)%50 == 0 {
			step = 20 * time.Minute
		}
		return time.Unix(0, clock.Add(int64(step)))
	}
	mgr, err := docs.Open(filepath.Join(b.TempDir(), "b.db"), docs.Config{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	srv, _ := serveManager(b, Config{}, mgr, nil)
	meta, err := mgr.Create(docs.CreateParams{Name: "big.go", Text: "package big\n"})
	if err != nil {
		b.Fatal(err)
	}
	d, err := mgr.Open(meta.ID)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Release()
	const revs, writers = 100_000, 32
	start := time.Now()
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(revs - 1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; left.Add(-1) >= 0; i++ {
				text, rev, _ := d.Text()
				n := text.Len()
				at := (i*7919 + w*104729) % (n + 1)
				var op ot.Operation
				if n > 20_000 {
					op.Retain(at).Delete(min(3, n-at)).Retain(n - at - min(3, n-at))
				} else {
					piece := "x"
					if i%20 == 0 {
						piece = "\n"
					}
					op.Retain(at).Insert(piece).Retain(n - at)
				}
				if _, err := d.Submit(docs.Edit{Base: rev, Op: op, Author: fmt.Sprintf("writer%d", w%4), OpID: fmt.Sprintf("w%d:%d", w, i+1)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	b.Logf("made %d revisions through the edit path in %v", revs, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	get := func(b *testing.B, path string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "/api/docs/"+meta.EditLink+path, nil)
		w := &discardWriter{h: http.Header{}}
		srv.ServeHTTP(w, req)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("GET %s: %d", path, w.status)
		}
	}
	b.Run("newest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(b, "/sessions")
		}
	})
	b.Run("page", func(b *testing.B) {
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			get(b, fmt.Sprintf("/sessions?before=%d", 2+(i*7919)%revs))
		}
	})
}

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
