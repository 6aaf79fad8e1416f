package hooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
)

func openService(t *testing.T, cfg Config) (*Service, *docs.Manager) {
	t.Helper()
	m, err := docs.Open(filepath.Join(t.TempDir(), "h.db"), docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(m, cfg)
	t.Cleanup(func() { s.Close(); m.Close() })
	return s, m
}

// TestPublic: the addresses deliveries may go to without AllowPrivate.
func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"100.64.1.1": false, "198.18.0.1": false, "224.0.0.1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false,
	} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v", addr, got)
		}
	}
}

// TestDialRefusesPrivate: without AllowPrivate, a connection to a
// loopback address is refused as it is made, whatever the URL's host
// (here a name that resolves to it), before anything is sent.
func TestDialRefusesPrivate(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit <- struct{}{} }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	c := Config{}
	c.fill()
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		_, err := newClient(c).Get(u)
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("%s: %v, want ErrPrivateAddress", u, err)
		}
	}
	c.AllowPrivate = true
	resp, err := newClient(c).Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	resp.Body.Close()
	<-hit
}

// TestBackoff: each wait is between half and all of RetryBase doubled per
// attempt, capped at RetryMax.
func TestBackoff(t *testing.T) {
	s := &Service{cfg: Config{RetryBase: 5 * time.Second, RetryMax: time.Hour}}
	for n := 1; n <= 100; n++ {
		want := time.Hour
		if n < 12 {
			want = min(want, 5*time.Second<<(n-1))
		}
		for range 20 {
			if d := s.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want %s to %s", n, d, want/2, want)
			}
		}
	}
}

// testHandles names ids as the server's handles do, opaquely.
type testHandles map[string]string

func (h testHandles) Doc(id string) string       { return h["d:"+id] }
func (h testHandles) Workspace(id string) string { return h["w:"+id] }

// TestAudiences: a view audience never sees an edit link; an edit
// audience sees both links; the administrator, internal ids; a token's
// holder, handles and no link. Every audience gets the handle.
func TestAudiences(t *testing.T) {
	h := testHandles{}
	s, m := openService(t, Config{Handles: h})
	meta, err := m.Create(docs.CreateParams{Name: "a.go", Text: "x", Author: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	h["d:"+meta.ID], h["w:"+meta.Workspace] = "d-opaque", "w-opaque"
	for a, check := range map[Audience]func(string) bool{
		View: func(b string) bool {
			return !strings.Contains(b, meta.EditLink) && strings.Contains(b, `"id":"`+meta.ViewLink+`"`) && !strings.Contains(b, meta.Workspace)
		},
		Edit: func(b string) bool {
			return strings.Contains(b, `"id":"`+meta.EditLink+`"`) && strings.Contains(b, `"edit":"`+meta.EditLink+`"`) && !strings.Contains(b, meta.Workspace)
		},
		Admin: func(b string) bool {
			return strings.Contains(b, `"id":"`+meta.ID+`"`) && strings.Contains(b, `"workspace":"`+meta.Workspace+`"`)
		},
		Token: func(b string) bool {
			return strings.Contains(b, `"id":"d-opaque"`) && strings.Contains(b, `"workspace":"w-opaque"`) && !strings.Contains(b, `"links"`) &&
				!strings.Contains(b, meta.EditLink) && !strings.Contains(b, meta.ViewLink) && !strings.Contains(b, meta.ID) && !strings.Contains(b, meta.Workspace)
		},
	} {
		evs, err := s.Events(Query{Audience: a})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events: %v %v", evs, err)
		}
		if b := string(evs[0].Body); !check(b) || !strings.Contains(b, `"handle":"d-opaque"`) || evs[0].Type != TypeCreated {
			t.Errorf("audience %d: %s", a, b)
		}
		if seq, err := s.ParseEventID(evs[0].ID); err != nil || seq != evs[0].Seq {
			t.Errorf("id %s: %d %v", evs[0].ID, seq, err)
		}
	}
}

// TestEndpointAudiences: a workspace's endpoint is rendered for Edit or
// Token, a server-wide one for Admin, and no other; a rotation disables
// the endpoints its old edit link made or last changed, and only those.
func TestEndpointAudiences(t *testing.T) {
	s, m := openService(t, Config{})
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	u := "https://hooks.example.com/"
	for _, tc := range []struct {
		scope string
		a     Audience
		ok    bool
	}{{"", Admin, true}, {"", Edit, false}, {"", Token, false}, {ws.ID, Edit, true}, {ws.ID, Token, true}, {ws.ID, Admin, false}, {ws.ID, View, false}} {
		ep, err := s.Create(tc.scope, tc.a, Params{URL: &u})
		if tc.ok != (err == nil) || err == nil && ep.Audience() != tc.a || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q, %d): %+v %v", tc.scope, tc.a, ep, err)
		}
	}
	byLink, _ := s.Create(ws.ID, Edit, Params{URL: &u, ByLink: true})
	byToken, _ := s.Create(ws.ID, Token, Params{URL: &u})
	changedByLink, _ := s.Create(ws.ID, Token, Params{URL: &u})
	desc := "changed"
	if _, err := s.Update(ws.ID, changedByLink.ID, Params{Description: &desc, ByLink: true}); err != nil {
		t.Fatal(err)
	}
	vouched, _ := s.Create(ws.ID, Edit, Params{URL: &u, ByLink: true})
	if _, err := s.Update(ws.ID, vouched.ID, Params{Description: &desc}); err != nil { // by the API token, say
		t.Fatal(err)
	}
	n, err := s.DisableByLink(ws.ID, "rotated")
	if err != nil || n != 2 {
		t.Fatalf("DisableByLink: %d %v, want 2", n, err)
	}
	for id, enabled := range map[string]bool{byLink.ID: false, changedByLink.ID: false, byToken.ID: true, vouched.ID: true} {
		in, err := s.Get(ws.ID, id)
		if err != nil || in.Enabled != enabled || !enabled && in.DisabledReason != "rotated" {
			t.Errorf("endpoint %s after the rotation: %+v %v", id, in.Endpoint, err)
		}
	}
}

// TestCloseAbandonsAttempt: Close ends an attempt in flight at once; it is
// not counted, and the event stays at the head of the queue.
func TestCloseAbandonsAttempt(t *testing.T) {
	started, end := make(chan struct{}, 10), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-end:
		}
	}))
	defer srv.Close()
	defer close(end)
	path := filepath.Join(t.TempDir(), "c.db")
	m, err := docs.Open(path, docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(m, Config{AllowPrivate: true, Timeout: time.Hour})
	u := srv.URL
	ep, err := s.Create("", Admin, Params{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(docs.CreateParams{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close waited for the attempt")
	}
	m.Close()
	m, err = docs.Open(path, docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s = New(m, Config{AllowPrivate: true, Timeout: time.Hour})
	defer s.Close()
	<-started // attempted again after the start
	ds, err := s.Deliveries("", ep.ID, 0, 10)
	if err != nil || len(ds) != 0 {
		t.Fatalf("deliveries %+v %v: the abandoned attempt was recorded", ds, err)
	}
}
