package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/hooks"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookReq is one request a receiver got.
type hookReq struct {
	header http.Header
	body   []byte
	event  map[string]any
}

// receiver is a real HTTP receiver of webhooks on loopback. status says
// what it answers (hang: it waits until release is closed or the request
// is abandoned); every request is sent on got.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	status  int
	hang    bool
	got     chan hookReq
	release chan struct{}
	active  atomic.Int32 // requests being answered
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{status: status, got: make(chan hookReq, 100), release: make(chan struct{})}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.active.Add(1)
		defer rc.active.Add(-1)
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		json.Unmarshal(body, &ev)
		rc.got <- hookReq{header: r.Header.Clone(), body: body, event: ev}
		rc.mu.Lock()
		status, hang := rc.status, rc.hang
		rc.mu.Unlock()
		if hang {
			select {
			case <-rc.release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", status)
	}))
	t.Cleanup(func() {
		select {
		case <-rc.release:
		default:
			close(rc.release)
		}
		rc.Close()
	})
	return rc
}

func (rc *receiver) set(status int, hang bool) {
	rc.mu.Lock()
	rc.status, rc.hang = status, hang
	rc.mu.Unlock()
}

// next returns the next request, failing the test after 10 s.
func (rc *receiver) next(t *testing.T) hookReq {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no request")
	}
	return hookReq{}
}

// attempts hears of a server's delivery attempts once each is recorded
// (Hooks.OnAttempt), so a test waits for one rather than polling the
// delivery log.
type attempts chan attempt

type attempt struct {
	endpoint string
	hooks.Delivery
}

// next returns the next attempt recorded, failing the test after 10 s.
func (a attempts) next(t *testing.T) attempt {
	t.Helper()
	select {
	case at := <-a:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery attempt was recorded")
	}
	return attempt{}
}

// until returns the first attempt recorded, from now on, for which ok
// holds.
func (a attempts) until(t *testing.T, ok func(attempt) bool) attempt {
	t.Helper()
	for {
		if at := a.next(t); ok(at) {
			return at
		}
	}
}

// hooksConfig is a server config for webhook tests: loopback receivers
// allowed, the clock given, each attempt sent on the attempts returned
// (it holds the most a test makes: a worker waits on a full one).
func hooksConfig(clock *testClock) (Config, attempts) {
	ch := make(attempts, 1000)
	cfg := Config{APIToken: adminToken, Hooks: hooks.Config{AllowPrivate: true,
		OnAttempt: func(endpoint string, d hooks.Delivery) { ch <- attempt{endpoint, d} }}}
	if clock != nil {
		cfg.Now, cfg.AfterFunc = clock.Now, clock.AfterFunc
	}
	return cfg, ch
}

// mkws creates a workspace and returns its edit and view links.
func mkws(t *testing.T, base string) (edit, view string) {
	t.Helper()
	st, body := postJSON(t, "POST", base+"/api/workspaces", "", `{}`)
	if st != http.StatusCreated {
		t.Fatalf("create workspace: %d %v", st, body)
	}
	links := body["links"].(map[string]any)
	return links["edit"].(string), links["view"].(string)
}

// mkdocIn creates a document in a workspace and returns its edit and view
// links.
func mkdocIn(t *testing.T, base, ws, name, text string) (edit, view string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "text": text, "workspace": ws})
	st, body := postJSON(t, "POST", base+"/api/docs", "", string(b))
	if st != http.StatusCreated {
		t.Fatalf("create %s: %d %v", name, st, body)
	}
	return body["id"].(string), body["links"].(map[string]any)["view"].(string)
}

// mkhook creates a webhook endpoint at base+path (".../hooks") for url.
func mkhook(t *testing.T, base, path, token, url string, extra string) map[string]any {
	t.Helper()
	st, body := postJSON(t, "POST", base+path, token, `{"url":"`+url+`"`+extra+`}`)
	if st != http.StatusCreated {
		t.Fatalf("create hook: %d %v", st, body)
	}
	return body
}

func getWith(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

type deliveryLog struct {
	Deliveries []struct {
		Event, Type, Status       string
		Attempts                  int
		FirstAttempt, NextAttempt string
		Log                       []struct {
			Status   int
			Error    string
			Response string
		}
	}
}

func deliveries(t *testing.T, url, token string) deliveryLog {
	t.Helper()
	var l deliveryLog
	if st := getWith(t, url+"/deliveries", token, &l); st != http.StatusOK {
		t.Fatalf("delivery log: %d", st)
	}
	return l
}

// verifySpec checks a delivery's signature as the Standard Webhooks spec
// says, written from it independently of the library: HMAC-SHA256 with
// the base64-decoded secret (after "whsec_") over "id.timestamp.body",
// base64, as one of the space-separated "v1,<sig>" entries.
func verifySpec(t *testing.T, secret string, r hookReq) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") || len(key) < 24 {
		t.Fatalf("secret %q is not whsec_ and base64 of 24+ bytes", secret)
	}
	id, ts := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || id == "" {
		t.Fatalf("headers %v", r.header)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(r.header.Get("webhook-signature"), " ") {
		if sig == want {
			return
		}
	}
	t.Fatalf("signature %q, want %q", r.header.Get("webhook-signature"), want)
}

// TestWebhookSignedAndScoped: a workspace's endpoint, created with its
// edit link, gets its documents' events (and no other workspace's),
// signed so that both the Standard Webhooks library and a check written
// from the spec verify them; the secret is shown once; a view link may
// not manage endpoints; the API token manages server-wide ones, which
// see everything with internal ids.
func TestWebhookSignedAndScoped(t *testing.T) {
	cfg, _ := hooksConfig(nil)
	_, base := testServer(t, cfg)
	rcv, other, all := newReceiver(t, 200), newReceiver(t, 200), newReceiver(t, 204)
	wsEdit, wsView := mkws(t, base)
	otherWS, _ := mkws(t, base)
	hook := mkhook(t, base, "/api/workspaces/"+wsEdit+"/hooks", "", rcv.URL, `,"description":"ci"`)
	secret, _ := hook["secret"].(string)
	mkhook(t, base, "/api/workspaces/"+otherWS+"/hooks", "", other.URL, "")
	admin := mkhook(t, base, "/api/admin/hooks", adminToken, all.URL, `,"types":["document.created"]`)

	docEdit, docView := mkdocIn(t, base, wsEdit, "src/a.go", "package a\n")
	r := rcv.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Fatalf("the library does not verify the delivery: %v", err)
	}
	verifySpec(t, secret, r)
	data := r.event["data"].(map[string]any)
	doc := data["document"].(map[string]any)
	links := doc["links"].(map[string]any)
	if r.event["type"] != "document.created" || r.event["id"] != r.header.Get("webhook-id") || doc["id"] != docEdit || links["edit"] != docEdit ||
		links["view"] != docView || doc["name"] != "src/a.go" || doc["workspace"] != nil || data["toRev"] != 1.0 {
		t.Fatalf("event %s", r.body)
	}
	if r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
	// The other workspace's endpoint hears of its own document first.
	mkdocIn(t, base, otherWS, "b.go", "")
	if o := other.next(t); !strings.Contains(string(o.body), `"name":"b.go"`) {
		t.Fatalf("the other workspace's endpoint got %s first", o.body)
	}
	// The server-wide endpoint saw both creations, with internal ids.
	a1, a2 := all.next(t), all.next(t)
	d1 := a1.event["data"].(map[string]any)["document"].(map[string]any)
	if d1["workspace"] == nil || d1["name"] != "src/a.go" || !strings.Contains(string(a2.body), `"name":"b.go"`) {
		t.Fatalf("server-wide: %s then %s", a1.body, a2.body)
	}
	adminWH, _ := standardwebhooks.NewWebhook(admin["secret"].(string))
	if err := adminWH.Verify(a1.body, a1.header); err != nil {
		t.Fatal(err)
	}

	// The secret is shown once.
	var got map[string]any
	if st := getWith(t, base+"/api/workspaces/"+wsEdit+"/hooks/"+hook["id"].(string), "", &got); st != 200 || got["secret"] != nil || got["url"] != rcv.URL {
		t.Fatalf("GET hook: %d %v", st, got)
	}
	var list struct{ Hooks []map[string]any }
	getWith(t, base+"/api/workspaces/"+wsEdit+"/hooks", "", &list)
	if len(list.Hooks) != 1 || list.Hooks[0]["secret"] != nil {
		t.Fatalf("list %v", list)
	}
	// A view link manages nothing; another workspace's link does not
	// reach this workspace's endpoints; admin routes need the token.
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", "/api/workspaces/" + wsView + "/hooks", "", `{"url":"` + rcv.URL + `"}`, 403},
		{"GET", "/api/workspaces/" + wsView + "/hooks", "", "", 403},
		{"GET", "/api/workspaces/" + otherWS + "/hooks/" + hook["id"].(string), "", "", 404},
		{"DELETE", "/api/workspaces/" + otherWS + "/hooks/" + hook["id"].(string), "", "", 404},
		{"GET", "/api/admin/hooks", "", "", 401},
		{"POST", "/api/admin/hooks", "wrong", `{"url":"` + rcv.URL + `"}`, 401},
		{"POST", "/api/workspaces/" + wsEdit + "/hooks", "", `{"url":"ftp://example.com/"}`, 400},
		{"POST", "/api/workspaces/" + wsEdit + "/hooks", "", `{"url":"https://example.com/","types":["document.exploded"]}`, 400},
		{"POST", "/api/workspaces/" + wsEdit + "/hooks", "", `{"url":"https://u:p@example.com/"}`, 400},
		{"POST", "/api/workspaces/" + wsEdit + "/hooks", "", `{"types":[]}`, 400},
		{"POST", "/api/workspaces/" + wsEdit + "/hooks", "", `{"url":"https://example.com/","extra":1}`, 400},
		{"PATCH", "/api/workspaces/" + wsEdit + "/hooks/hook_nope", "", `{"enabled":false}`, 404},
	} {
		st, body := postJSON(t, tc.method, base+tc.path, tc.token, tc.body)
		if st != tc.status || body["code"] == nil {
			t.Errorf("%s %s: %d %v, want %d with a code", tc.method, tc.path, st, body, tc.status)
		}
	}
}

// TestWebhookPrivateAddresses: without AllowPrivate, an endpoint on a
// loopback or private address, or "localhost", is refused when saved.
func TestWebhookPrivateAddresses(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	ws, _ := mkws(t, base)
	for _, u := range []string{"http://127.0.0.1:9/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/", "http://169.254.169.254/latest/", "http://100.64.0.1/", "http://[fd00::1]/"} {
		st, body := postJSON(t, "POST", base+"/api/workspaces/"+ws+"/hooks", "", `{"url":"`+u+`"}`)
		if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["detail"]), "not public") {
			t.Errorf("%s: %d %v", u, st, body)
		}
	}
	if st, body := postJSON(t, "POST", base+"/api/workspaces/"+ws+"/hooks", "", `{"url":"https://hooks.example.com/collab"}`); st != http.StatusCreated {
		t.Errorf("a public name: %d %v", st, body)
	}
}

// TestWebhookRetriesAfterDowntime: a receiver that is down gets the event
// again after the backoff the delivery log announces (the clock is the
// test's), with the same webhook-id, then the events after it in order;
// the log shows both attempts.
func TestWebhookRetriesAfterDowntime(t *testing.T) {
	clock := newTimerClock()
	cfg, tried := hooksConfig(clock)
	_, base := testServer(t, cfg)
	rcv := newReceiver(t, http.StatusServiceUnavailable)
	ws, _ := mkws(t, base)
	hook := mkhook(t, base, "/api/workspaces/"+ws+"/hooks", "", rcv.URL, "")
	hookURL := base + "/api/workspaces/" + ws + "/hooks/" + hook["id"].(string)
	mkdocIn(t, base, ws, "a.txt", "")
	first := rcv.next(t)
	tried.next(t)
	l := deliveries(t, hookURL, "")
	if len(l.Deliveries) != 1 || l.Deliveries[0].Attempts != 1 {
		t.Fatalf("log after the first attempt: %+v", l)
	}
	d := l.Deliveries[0]
	next, _ := time.Parse(time.RFC3339, d.NextAttempt)
	firstAt, _ := time.Parse(time.RFC3339, d.FirstAttempt)
	if d.Status != "pending" || d.Log[0].Status != 503 || d.Log[0].Response != "answer 503" || d.Event != first.header.Get("webhook-id") {
		t.Fatalf("log after a failure: %+v", d)
	}
	if wait := next.Sub(firstAt); wait < 2500*time.Millisecond || wait > 5*time.Second {
		t.Fatalf("first retry after %s, want 2.5-5 s (5 s with jitter)", wait)
	}
	// Two more events queue behind it.
	mkdocIn(t, base, ws, "b.txt", "")
	mkdocIn(t, base, ws, "c.txt", "")
	select {
	case r := <-rcv.got:
		t.Fatalf("a later event overtook the failing one: %s", r.body)
	default:
	}
	rcv.set(200, false)
	clock.Set(next.Add(time.Millisecond)) // the log shows milliseconds
	again := rcv.next(t)
	if again.header.Get("webhook-id") != first.header.Get("webhook-id") || !bytes.Equal(again.body, first.body) {
		t.Fatalf("retry: %v %s, first %v %s", again.header, again.body, first.header, first.body)
	}
	if b, c := rcv.next(t), rcv.next(t); !strings.Contains(string(b.body), "b.txt") || !strings.Contains(string(c.body), "c.txt") {
		t.Fatalf("then %s and %s", b.body, c.body)
	}
	// The retry, then b and c: three attempts, c's the last.
	for range 3 {
		tried.next(t)
	}
	l = deliveries(t, hookURL, "")
	if len(l.Deliveries) != 3 || l.Deliveries[0].Status != "delivered" {
		t.Fatalf("log after the retry: %+v", l)
	}
	if d := l.Deliveries[2]; d.Status != "delivered" || d.Attempts != 2 || d.Log[0].Status != 503 || d.Log[1].Status != 200 || d.NextAttempt != "" {
		t.Fatalf("log of the retried event: %+v", d)
	}
}

// TestWebhookGivesUp: an event still failing GiveUpAfter after its first
// attempt is marked failed and disables its endpoint, with a reason;
// enabled again, the endpoint goes on with the next event; the failed
// one is sent again on request.
func TestWebhookGivesUp(t *testing.T) {
	clock := newTimerClock()
	cfg, tried := hooksConfig(clock)
	cfg.Hooks.GiveUpAfter = time.Hour
	_, base := testServer(t, cfg)
	rcv := newReceiver(t, 500)
	hook := mkhook(t, base, "/api/admin/hooks", adminToken, rcv.URL, "")
	hookURL := base + "/api/admin/hooks/" + hook["id"].(string)
	id := mkdoc(t, base, "x")
	first := rcv.next(t)
	attempts := 1
	for {
		tried.next(t)
		l := deliveries(t, hookURL, adminToken)
		if len(l.Deliveries) != 1 || l.Deliveries[0].Attempts != attempts {
			t.Fatalf("log after attempt %d: %+v", attempts, l)
		}
		if l.Deliveries[0].Status == "failed" {
			break
		}
		next, _ := time.Parse(time.RFC3339, l.Deliveries[0].NextAttempt)
		clock.Set(next.Add(time.Millisecond)) // the log shows milliseconds
		rcv.next(t)
		attempts++
		if attempts > 20 {
			t.Fatal("no end to the retries")
		}
	}
	// 5 s doubling to an hour: 5+10+...+1280 s is 42 min, and the next
	// wait ends past the hour (with jitter, 9-11 attempts in all).
	if attempts < 8 || attempts > 12 {
		t.Fatalf("gave up after %d attempts", attempts)
	}
	var got map[string]any
	getWith(t, hookURL, adminToken, &got)
	if got["enabled"] != false || !strings.Contains(fmt.Sprint(got["disabledReason"]), first.header.Get("webhook-id")) {
		t.Fatalf("endpoint after giving up: %v", got)
	}
	// Disabled: a new event waits.
	if st, body := postJSON(t, "PATCH", base+"/api/docs/"+id, adminToken, `{"name":"y"}`); st != 200 {
		t.Fatalf("rename: %d %v", st, body)
	}
	rcv.set(200, false)
	if st, body := postJSON(t, "PATCH", hookURL, adminToken, `{"enabled":true}`); st != 200 || body["enabled"] != true || body["disabledReason"] != nil {
		t.Fatalf("enable: %d %v", st, body)
	}
	if r := rcv.next(t); r.event["type"] != "document.renamed" {
		t.Fatalf("after enabling: %s", r.body)
	}
	// The failed event, on request.
	st, body := postJSON(t, "POST", hookURL+"/deliveries/"+first.header.Get("webhook-id")+"/redeliver", adminToken, "")
	if st != http.StatusAccepted || body["status"] != "pending" {
		t.Fatalf("redeliver: %d %v", st, body)
	}
	if r := rcv.next(t); r.header.Get("webhook-id") != first.header.Get("webhook-id") {
		t.Fatalf("redelivered %v", r.header)
	}
	tried.until(t, func(a attempt) bool { return a.Event == first.header.Get("webhook-id") })
	if l := deliveries(t, hookURL, adminToken); len(l.Deliveries) != 2 || l.Deliveries[1].Status != "delivered" || l.Deliveries[1].Attempts != attempts+1 {
		t.Fatalf("log after the redelivery: %+v", l)
	}
	for _, bad := range []string{"evt_nope_1", "nonsense", "evt_" + strings.Repeat("x", 8) + "_99"} {
		if st, body := postJSON(t, "POST", hookURL+"/deliveries/"+bad+"/redeliver", adminToken, ""); st != 400 || body["code"] != "invalid" {
			t.Errorf("redeliver %s: %d %v", bad, st, body)
		}
	}
}

// startAt serves the database at path until stop is called (drained and
// closed, as a shutdown does).
func startAt(t *testing.T, path string, cfg Config) (base string, stop func()) {
	t.Helper()
	mgr, err := docs.Open(path, docs.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, mgr, NewMetrics(), slog.New(slog.NewTextHandler(testLogOut, nil)))
	hs := httptest.NewServer(srv)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			hs.Close()
			srv.Drain(context.Background())
			mgr.Close()
		})
	}
	t.Cleanup(stop)
	return hs.URL, stop
}

// TestWebhookRestartMidRetry: collab stops while an event is being
// retried; started again on the same data, it delivers the event when
// the delivery log said it would, with the same webhook-id, the attempt
// counted after the first; an edit summary due at the stop is delivered
// too.
func TestWebhookRestartMidRetry(t *testing.T) {
	clock := newTimerClock()
	path := filepath.Join(t.TempDir(), "restart.db")
	cfg, tried := hooksConfig(clock)
	base, stop := startAt(t, path, cfg)
	rcv := newReceiver(t, http.StatusBadGateway)
	hook := mkhook(t, base, "/api/admin/hooks", adminToken, rcv.URL, "")
	hookPath := "/api/admin/hooks/" + hook["id"].(string)
	id := mkdoc(t, base, "hello")
	first := rcv.next(t)
	tried.next(t)
	l := deliveries(t, base+hookPath, adminToken)
	if len(l.Deliveries) != 1 || l.Deliveries[0].Attempts != 1 {
		t.Fatalf("log after the first attempt: %+v", l)
	}
	next, _ := time.Parse(time.RFC3339, l.Deliveries[0].NextAttempt)
	// An edit whose summary is not due yet when collab stops.
	if st, _ := postJSON(t, "PUT", base+"/api/docs/"+id, "", `{"text":"hello world"}`); st != 200 {
		t.Fatal("edit refused")
	}
	stop()

	rcv.set(200, false)
	base, _ = startAt(t, path, cfg)
	select {
	case r := <-rcv.got:
		t.Fatalf("delivered before its retry was due: %s", r.body)
	default:
	}
	clock.Set(next.Add(time.Millisecond)) // the log shows milliseconds
	again := rcv.next(t)
	if again.header.Get("webhook-id") != first.header.Get("webhook-id") || !bytes.Equal(again.body, first.body) {
		t.Fatalf("after restart: %v %s", again.header, again.body)
	}
	changed := rcv.next(t)
	if changed.event["type"] != "document.changed" || !strings.Contains(string(changed.body), `"fromRev":2,"toRev":2`) {
		t.Fatalf("the edit's summary: %s", changed.body)
	}
	tried.until(t, func(a attempt) bool { return a.Event == changed.header.Get("webhook-id") })
	l = deliveries(t, base+hookPath, adminToken)
	if len(l.Deliveries) != 2 || l.Deliveries[1].Status != "delivered" {
		t.Fatalf("log after restart: %+v", l)
	}
	if d := l.Deliveries[1]; d.Attempts != 2 || d.Log[0].Status != 502 || d.Log[1].Status != 200 {
		t.Fatalf("log: %+v", d)
	}
}

// TestWebhookHangingReceiverBlocksNothing: while a receiver hangs on a
// delivery, edits go on at once and another endpoint gets its events;
// the hanging attempt times out and is retried.
func TestWebhookHangingReceiverBlocksNothing(t *testing.T) {
	clock := newTimerClock()
	cfg, tried := hooksConfig(clock)
	cfg.Hooks.Timeout = 2 * time.Second
	_, base := testServer(t, cfg)
	slow, fast := newReceiver(t, 200), newReceiver(t, 200)
	slow.set(200, true)
	slowHook := mkhook(t, base, "/api/admin/hooks", adminToken, slow.URL, "")
	mkhook(t, base, "/api/admin/hooks", adminToken, fast.URL, "")
	id := mkdoc(t, base, "")
	slow.next(t) // it hangs from here
	fast.next(t)
	start := time.Now()
	a := joinRaw(t, base, id, "c1-0123456789")
	for i := range 20 {
		a.send(fmt.Sprintf(`{"type":"op","rev":%d,"id":"c1-0123456789:%d","op":%s}`, i, i+1, appendOp(i, "x")))
		if m := a.nextOf("ack"); m["rev"] != float64(i+1) {
			t.Fatalf("ack %v", m)
		}
	}
	// Every edit was acknowledged while the delivery hung (its timeout
	// is 2 s: it cannot have ended and started again meanwhile).
	if n := slow.active.Load(); n != 1 || time.Since(start) >= cfg.Hooks.Timeout {
		t.Fatalf("after the edits: %d requests in flight at the slow receiver, %s", n, time.Since(start))
	}
	// The edits' summary is due a second after the server heard of the
	// first of them.
	clock.waitTimer(t, time.Second)
	clock.Add(time.Second)
	if r := fast.next(t); r.event["type"] != "document.changed" || !strings.Contains(string(r.body), `"toRev":20`) {
		t.Fatalf("fast endpoint: %s", r.body)
	}
	// The hanging attempt ends at the timeout, and is logged.
	slowID := slowHook["id"].(string)
	tried.until(t, func(a attempt) bool { return a.endpoint == slowID })
	if l := deliveries(t, base+"/api/admin/hooks/"+slowID, adminToken); len(l.Deliveries) != 1 || l.Deliveries[0].Attempts < 1 || !timedOut(l.Deliveries[0].Log[0].Error) {
		t.Fatalf("the slow endpoint's log: %+v", l)
	}
}

// appendOp is the op that appends s to a text of n code points.
func appendOp(n int, s string) string {
	if n == 0 {
		return `["` + s + `"]`
	}
	return fmt.Sprintf(`[%d,"%s"]`, n, s)
}

// timedOut reports whether an attempt's error is its timeout (the
// context's, or the transport's wait for the answer's headers).
func timedOut(msg string) bool {
	return strings.Contains(msg, "deadline exceeded") || strings.Contains(msg, "timeout awaiting response headers")
}

// sse is a client of an event stream.
type sse struct {
	resp *http.Response
	rd   *bufio.Reader
}

type sseEvent struct{ id, typ, data string }

func openSSE(t *testing.T, url, token, last string) *sse {
	t.Helper()
	// A test that waits for an event that never comes fails, not hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream %s: %s %s", url, resp.Status, b)
	}
	return &sse{resp: resp, rd: bufio.NewReader(resp.Body)}
}

// closed reads the stream to its end, which must be a closed message,
// and returns that message's data; events before it fail the test.
func (s *sse) closed(t *testing.T) map[string]any {
	t.Helper()
	var typ, data string
	for {
		line, err := s.rd.ReadString('\n')
		if err == io.EOF && line == "" {
			break
		}
		if err != nil {
			t.Fatalf("reading to the end of the stream: %v", err)
		}
		switch line = strings.TrimSuffix(line, "\n"); {
		case strings.HasPrefix(line, "id: "):
			t.Fatalf("an event before the stream's end: %s", line)
		case strings.HasPrefix(line, "event: "):
			typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	var c map[string]any
	if typ != "closed" || json.Unmarshal([]byte(data), &c) != nil {
		t.Fatalf("the stream ended with %q %q, want a closed message", typ, data)
	}
	return c
}

// next reads the next event; comments go to comments if set.
func (s *sse) next(t *testing.T, comments *[]string) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.id != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			if comments != nil {
				*comments = append(*comments, line)
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data += line[6:]
		}
	}
}

// TestEventStreamResume: a document's stream (view link) and its
// workspace's stream carry the events with ids; one reconnected with
// Last-Event-ID (header or query) gets exactly the events after it; a
// view link never sees an edit link; a deletion ends the document's
// stream; an id older than the journal keeps gets 410.
func TestEventStreamResume(t *testing.T) {
	clock := newTimerClock()
	cfg, _ := hooksConfig(clock)
	srv, base := serveTest(t, cfg, docs.Config{MaxBytes: 1 << 20, JournalMax: 5}, nil)
	wsEdit, wsView := mkws(t, base)
	docEdit, docView := mkdocIn(t, base, wsEdit, "a.txt", "")
	docStream := openSSE(t, base+"/api/docs/"+docView+"/events", "", "")
	wsStream := openSSE(t, base+"/api/workspaces/"+wsView+"/events", "", "")
	// put's own stream, where it hears of each summary.
	summaries := openSSE(t, base+"/api/workspaces/"+wsView+"/events", "", "")
	// put edits the document and waits for the edit's summary, moving
	// the clock on once the summary is due (a second after the server
	// hears of the edit, which may be just after the PUT's answer).
	put := func(text string) {
		t.Helper()
		st, body := postJSON(t, "PUT", base+"/api/docs/"+docEdit, "", `{"text":"`+text+`"}`)
		if st != 200 {
			t.Fatalf("PUT: %d %v", st, body)
		}
		clock.waitTimer(t, time.Second)
		clock.Add(time.Second)
		want := fmt.Sprintf(`"toRev":%v`, body["rev"])
		for e := summaries.next(t, nil); e.typ != "document.changed" || !strings.Contains(e.data, want); e = summaries.next(t, nil) {
		}
	}
	put("one")
	if st, _ := postJSON(t, "PATCH", base+"/api/docs/"+docEdit, "", `{"name":"b.txt"}`); st != 200 {
		t.Fatal("rename refused")
	}
	e1, e2 := docStream.next(t, nil), docStream.next(t, nil)
	if e1.typ != "document.changed" || e2.typ != "document.renamed" || !strings.Contains(e2.data, `"oldName":"a.txt","newName":"b.txt"`) {
		t.Fatalf("document stream: %+v %+v", e1, e2)
	}
	w1, w2 := wsStream.next(t, nil), wsStream.next(t, nil)
	if w1.id != e1.id || w2.id != e2.id {
		t.Fatalf("workspace stream ids %s %s, document's %s %s", w1.id, w2.id, e1.id, e2.id)
	}
	for _, e := range []sseEvent{e1, e2, w1, w2} {
		if strings.Contains(e.data, docEdit) || !strings.Contains(e.data, docView) {
			t.Fatalf("a view stream's event: %s", e.data)
		}
	}
	docStream.resp.Body.Close()
	put("two")
	put("three")
	// Resume after e1: e2, then the two summaries, nothing else.
	again := openSSE(t, base+"/api/docs/"+docView+"/events", "", e1.id)
	if g := again.next(t, nil); g.id != e2.id {
		t.Fatalf("resumed with %+v, want %s", g, e2.id)
	}
	s1, s2 := again.next(t, nil), again.next(t, nil)
	if s1.typ != "document.changed" || s2.typ != "document.changed" || !strings.Contains(s1.data, `"fromRev":2,"toRev":2`) || !strings.Contains(s2.data, `"fromRev":3,"toRev":3`) {
		t.Fatalf("resumed: %+v %+v", s1, s2)
	}
	// The query parameter, for EventSource fallbacks; an edit link's
	// stream shows the edit link.
	byQuery := openSSE(t, base+"/api/docs/"+docEdit+"/events?lastEventId="+s1.id, "", "")
	if g := byQuery.next(t, nil); g.id != s2.id || !strings.Contains(g.data, docEdit) {
		t.Fatalf("by query: %+v", g)
	}
	// Deletion: the stream's last event.
	if st := deleteWith(t, base+"/api/docs/"+docEdit, adminToken); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if g := byQuery.next(t, nil); g.typ != "document.deleted" {
		t.Fatalf("after deletion: %+v", g)
	}
	if _, err := byQuery.rd.ReadString('\n'); err != io.EOF {
		t.Fatalf("the stream goes on after the deletion: %v", err)
	}
	// Forgotten: the journal keeps 5 entries.
	for i := range 6 {
		mkdocIn(t, base, wsEdit, fmt.Sprintf("n%d", i), "")
	}
	if _, err := srv.docs.TrimJournal(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		last, code string
		status     int
	}{{e1.id, "events_expired", 410}, {"evt_x_1", "invalid", 400}, {"12", "invalid", 400}} {
		req, _ := http.NewRequest("GET", base+"/api/workspaces/"+wsView+"/events", nil)
		req.Header.Set("Last-Event-ID", tc.last)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tc.status || p["code"] != tc.code {
			t.Errorf("Last-Event-ID %s: %d %v", tc.last, resp.StatusCode, p)
		}
	}
}

func deleteWith(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("DELETE", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEventStreamHeartbeatAndAccess: an idle stream gets a comment every
// EventsHeartbeat on the server's clock, and nothing before; the
// server-wide stream needs the API token; a rotated link's stream ends at
// once, saying why, and the old link opens none.
func TestEventStreamHeartbeatAndAccess(t *testing.T) {
	clock := newTimerClock()
	cfg, _ := hooksConfig(clock)
	cfg.EventsHeartbeat = time.Minute
	_, base := testServer(t, cfg)
	edit, _ := mkdocIn(t, base, "", "a.txt", "")
	s := openSSE(t, base+"/api/docs/"+edit+"/events", "", "")
	for i := range 3 {
		clock.Add(cfg.EventsHeartbeat - time.Second)
		// Nothing yet: the next line read is the ping the next second
		// brings (a ping says the server's time).
		clock.Add(time.Second)
		var line string
		for line == "" || line == "\n" || line == "retry: 2000\n" || line == ": collab events\n" {
			var err error
			if line, err = s.rd.ReadString('\n'); err != nil {
				t.Fatalf("heartbeat %d: %v", i, err)
			}
		}
		if want := fmt.Sprintf(": ping %d\n", clock.Now().Unix()); line != want {
			t.Fatalf("heartbeat %d: %q, want %q", i, line, want)
		}
	}
	if st := getWith(t, base+"/api/admin/events", "", nil); st != 401 {
		t.Fatalf("server-wide stream without the token: %d", st)
	}
	all := openSSE(t, base+"/api/admin/events", adminToken, "")
	mkdocIn(t, base, "", "b.txt", "")
	if e := all.next(t, nil); e.typ != "document.created" || !strings.Contains(e.data, `"workspace":`) {
		t.Fatalf("server-wide: %+v", e)
	}
	// Rotation ends the stream at once, with a closed message, without
	// the clock moving.
	if st, body := postJSON(t, "POST", base+"/api/docs/"+edit+"/rotate", adminToken, ""); st != 200 {
		t.Fatalf("rotate: %d %v", st, body)
	}
	if c := s.closed(t); c["code"] != "forbidden" {
		t.Fatalf("the rotated link's stream: %v", c)
	}
	if st := getWith(t, base+"/api/docs/"+edit+"/events", "", nil); st != 404 {
		t.Fatalf("a stream with the old link: %d", st)
	}
}

// TestWebhookDebounce: a document's edits within Debounce make one
// document.changed event with their range and their authors (ids and
// names); later edits, another.
func TestWebhookDebounce(t *testing.T) {
	clock := newTimerClock()
	cfg, _ := hooksConfig(clock)
	_, base := testServer(t, cfg)
	rcv := newReceiver(t, 200)
	mkhook(t, base, "/api/admin/hooks", adminToken, rcv.URL, `,"types":["document.changed"]`)
	id := mkdoc(t, base, "")
	ann, j := joinWith(t, base, id, "", `"client":"tab1-0123456789abcdef","author":"ann-secret-0123456789","name":"Ann"`)
	annID := j["author"].(string)
	for i := range 5 {
		ann.send(fmt.Sprintf(`{"type":"op","rev":%d,"id":"tab1-0123456789abcdef:%d","op":%s}`, i, i+1, appendOp(i, "a")))
		ann.nextOf("ack")
	}
	req, _ := http.NewRequest("PUT", base+"/api/docs/"+id, strings.NewReader("aaaaab"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Collab-Author", "bot-7")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	select {
	case r := <-rcv.got:
		t.Fatalf("an event before the debounce: %s", r.body)
	default:
	}
	// The summary is due a second after the server heard of the first
	// edit.
	clock.waitTimer(t, time.Second)
	clock.Add(time.Second)
	r := rcv.next(t)
	var ev struct {
		Data struct {
			FromRev, ToRev uint64
			Authors        []struct{ ID, Name string }
		}
	}
	json.Unmarshal(r.body, &ev)
	if ev.Data.FromRev != 1 || ev.Data.ToRev != 6 || len(ev.Data.Authors) != 2 || ev.Data.Authors[0].ID != annID || ev.Data.Authors[0].Name != "Ann" || ev.Data.Authors[1].ID != "bot-7" {
		t.Fatalf("summary %s", r.body)
	}
	ann.nextOf("op")
	ann.send(`{"type":"op","rev":6,"id":"tab1-0123456789abcdef:6","op":[6,"c"]}`)
	ann.nextOf("ack")
	clock.waitTimer(t, time.Second)
	clock.Add(time.Second)
	r = rcv.next(t)
	if !strings.Contains(string(r.body), `"fromRev":7,"toRev":7`) {
		t.Fatalf("second summary %s", r.body)
	}
}
