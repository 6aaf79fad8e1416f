package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/hooks"
	"github.com/collab-editor/collab/internal/jwttest"
	"github.com/golang-jwt/jwt/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The tests of what a host application's users do with tokens beyond
// editing: follow event streams (as a browser's EventSource does, with
// ?token=) and, as owners, manage the workspace's webhooks; and of what
// ends them: the token's expiry, a rotation of the links.

// streamStatus opens a stream that must be refused and returns the
// status and problem; a stream that opens (200) is closed at once, so a
// test expecting a refusal fails instead of hanging.
func streamStatus(t *testing.T, url, bearer string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p map[string]any
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &p)
	}
	return resp.StatusCode, p
}

// secretsOf are the strings a token's holder must never see of c: its
// internal id, its links and its workspace's.
func (h *host) secretsOf(c created) []string {
	l, err := h.srv.docs.ResolveLink(c.WorkspaceLinks.Edit)
	if err != nil {
		h.t.Fatal(err)
	}
	return []string{c.ID, c.Links.Edit, c.Links.View, c.WorkspaceLinks.Edit, c.WorkspaceLinks.View, l.Target}
}

// checkHandlesOnly checks that an event's body names the document by its
// handle and the workspace by its, shows no link, and none of secrets.
func checkHandlesOnly(t *testing.T, body, handle, wsHandle string, secrets ...string) {
	t.Helper()
	var ev struct {
		Data struct {
			Document map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatalf("event %s: %v", body, err)
	}
	d := ev.Data.Document
	if d["id"] != handle || d["handle"] != handle || d["workspace"] != wsHandle || d["links"] != nil {
		t.Fatalf("a token's event names the document %v, want handle %s in workspace %s and no links", d, handle, wsHandle)
	}
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Fatalf("a token's event shows %q: %s", s, body)
		}
	}
}

// TestTokenFollowsEventStreams: a document's token follows that
// document's stream with ?token= (as EventSource must), a workspace's
// token the workspace's with Authorization: Bearer; their events name
// documents and workspaces by handle, and never show a link or an
// internal id; each stream carries its scope's events and no others.
func TestTokenFollowsEventStreams(t *testing.T) {
	h := newHost(t, Config{})
	a, ah, wsh := h.doc("a.go", "a", "")
	b, bh, _ := h.doc("b.go", "b", a.WorkspaceLinks.Edit)
	other, _, _ := h.doc("other.go", "o", "")
	viewA := h.sign(jwttest.Key{}, h.claims("doc", ah, jwt.MapClaims{"role": "view"}))
	editWS := h.sign(h.es, h.claims("workspace", wsh, nil))
	docStream := openSSE(t, h.base+"/api/docs/"+ah+"/events?token="+viewA, "", "")
	wsStream := openSSE(t, h.base+"/api/workspaces/"+wsh+"/events", editWS, "")
	adminStream := openSSE(t, h.base+"/api/admin/events", adminToken, "")

	rename := func(link, name string) {
		t.Helper()
		if st, body := postJSON(t, "PATCH", h.base+"/api/docs/"+link, "", `{"name":"`+name+`"}`); st != 200 {
			t.Fatalf("rename: %d %v", st, body)
		}
	}
	rename(a.Links.Edit, "src/a.go")
	rename(other.Links.Edit, "other2.go")                // another workspace
	c, ch, _ := h.doc("c.go", "", a.WorkspaceLinks.Edit) // created in the workspace
	if st := deleteWith(t, h.base+"/api/docs/"+b.Links.Edit, adminToken); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	rename(a.Links.Edit, "lib/a.go")

	secrets := append(append(append(h.secretsOf(a), h.secretsOf(b)...), h.secretsOf(c)...), h.secretsOf(other)...)
	// The document's stream: a's two renames, nothing between them.
	for _, want := range []string{`"oldName":"a.go","newName":"src/a.go"`, `"oldName":"src/a.go","newName":"lib/a.go"`} {
		e := docStream.next(t, nil)
		if e.typ != hooks.TypeRenamed || !strings.Contains(e.data, want) {
			t.Fatalf("the document's stream: %+v, want a rename %s", e, want)
		}
		checkHandlesOnly(t, e.data, ah, wsh, secrets...)
	}
	// The workspace's stream: its documents' events, in order.
	for _, want := range []struct{ typ, handle string }{{hooks.TypeRenamed, ah}, {hooks.TypeCreated, ch}, {hooks.TypeDeleted, bh}, {hooks.TypeRenamed, ah}} {
		e := wsStream.next(t, nil)
		if e.typ != want.typ {
			t.Fatalf("the workspace's stream: %+v, want %s of %s", e, want.typ, want.handle)
		}
		checkHandlesOnly(t, e.data, want.handle, wsh, secrets...)
	}
	// The same events, with the same ids, as the API token sees them
	// (where every document shows its handle too).
	for range 5 {
		e := adminStream.next(t, nil)
		if !strings.Contains(e.data, `"handle":"d-`) || !strings.Contains(e.data, `"links":{"edit":`) {
			t.Fatalf("the server-wide stream: %+v", e)
		}
	}
}

// TestTokenStreamScope: a token follows only what it grants: a
// document's token no other document and not the workspace, a
// workspace's token no other workspace and none of its documents; a
// token names streams by handle, never by link; a token that does not
// verify opens nothing.
func TestTokenStreamScope(t *testing.T) {
	h := newHost(t, Config{})
	a, ah, wsh := h.doc("a.go", "", "")
	_, bh, _ := h.doc("b.go", "", a.WorkspaceLinks.Edit)
	_, oh, owsh := h.doc("other.go", "", "")
	docA := h.sign(h.rs, h.claims("doc", ah, nil))
	ownerA := h.sign(h.rs, h.claims("doc", ah, jwt.MapClaims{"role": "owner"}))
	ws := h.sign(h.ed, h.claims("workspace", wsh, jwt.MapClaims{"role": "owner"}))
	now := h.clock.Now()
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, h.claims("doc", ah, nil)).SignedString([]byte("not the host's secret, but 32+ bytes long"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, token, code string
		status                  int
	}{
		{"a document's token on another document", "/api/docs/" + bh + "/events", docA, "forbidden", 403},
		{"a document owner's token on another document", "/api/docs/" + bh + "/events", ownerA, "forbidden", 403},
		{"a document's token on its workspace", "/api/workspaces/" + wsh + "/events", docA, "forbidden", 403},
		{"a workspace's token on another workspace", "/api/workspaces/" + owsh + "/events", ws, "forbidden", 403},
		{"a workspace's token on another workspace's document", "/api/docs/" + oh + "/events", ws, "forbidden", 403},
		{"a token naming its document by a link", "/api/docs/" + a.Links.View + "/events", docA, "forbidden", 403},
		{"a token naming its workspace by a link", "/api/workspaces/" + a.WorkspaceLinks.View + "/events", ws, "forbidden", 403},
		{"an expired token", "/api/docs/" + ah + "/events", h.sign(h.rs, h.claims("doc", ah, jwt.MapClaims{"exp": now.Add(-time.Second).Unix()})), "token_expired", 401},
		{"a token not yet valid", "/api/docs/" + ah + "/events", h.sign(h.rs, h.claims("doc", ah, jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})), "token_not_yet_valid", 401},
		{"a token of another secret", "/api/docs/" + ah + "/events", forged, "invalid_token", 401},
	} {
		for _, via := range []string{"query", "header"} {
			url, bearer := h.base+tc.path+"?token="+tc.token, ""
			if via == "header" {
				url, bearer = h.base+tc.path, tc.token
			}
			if st, p := streamStatus(t, url, bearer); st != tc.status || p["code"] != tc.code {
				t.Errorf("%s (%s): %d %v, want %d %s", tc.name, via, st, p, tc.status, tc.code)
			}
		}
	}
	// What each does grant.
	for _, tc := range []struct{ path, token string }{{"/api/docs/" + ah + "/events", docA}, {"/api/docs/" + bh + "/events", ws}, {"/api/workspaces/" + wsh + "/events", ws}} {
		if st, p := streamStatus(t, h.base+tc.path+"?token="+tc.token, ""); st != 200 {
			t.Errorf("%s: %d %v", tc.path, st, p)
		}
	}
}

// TestTokenStreamEndsAtExpiry: a token's streams end when it expires on
// the server's clock (its exp with the configured leeway), not before,
// with a closed message that says so, as its WebSocket session is closed
// with 4003 at the same moment; the token then opens none.
func TestTokenStreamEndsAtExpiry(t *testing.T) {
	const leeway = 30 * time.Second
	h := newHost(t, Config{JWTLeeway: leeway})
	a, ah, wsh := h.doc("a.go", "", "")
	exp := h.clock.Now().Add(time.Minute)
	docTok := h.sign(jwttest.Key{}, h.claims("doc", ah, jwt.MapClaims{"role": "view", "exp": exp.Unix()}))
	wsTok := h.sign(h.rs, h.claims("workspace", wsh, jwt.MapClaims{"exp": exp.Unix()}))
	docStream := openSSE(t, h.base+"/api/docs/"+ah+"/events?token="+docTok, "", "")
	wsStream := openSSE(t, h.base+"/api/workspaces/"+wsh+"/events", wsTok, "")
	session, _ := dialToken(t, h.base, ah, "", wsTok)
	session.send(`{"type":"join","client":"expiring-0123456789"}`)
	session.next("joined")

	// Past exp, within the leeway: the streams go on (an event reaches
	// both), the session is answered, and the token still opens a stream.
	h.clock.Set(exp.Add(leeway - time.Second))
	session.send(`{"type":"event","id":"e1","name":"still-here"}`)
	session.next("eventAck")
	if st, body := postJSON(t, "PATCH", h.base+"/api/docs/"+a.Links.Edit, "", `{"name":"b.go"}`); st != 200 {
		t.Fatalf("rename: %d %v", st, body)
	}
	var last string
	for _, s := range []*sse{docStream, wsStream} {
		e := s.next(t, nil)
		if e.typ != hooks.TypeRenamed {
			t.Fatalf("before the expiry: %+v", e)
		}
		last = e.id
	}
	late := openSSE(t, h.base+"/api/docs/"+ah+"/events?token="+docTok, "", last)

	// At the expiry, every stream of the token ends, saying why, and its
	// session is closed.
	h.clock.Set(exp.Add(leeway))
	for _, s := range []*sse{docStream, wsStream, late} {
		if c := s.closed(t); c["code"] != "token_expired" {
			t.Fatalf("the stream at the expiry: %v", c)
		}
	}
	if code := session.closeCode(); code != closeForbidden {
		t.Fatalf("the session at the expiry: close %d, want %d", code, closeForbidden)
	}
	// The reconnection EventSource makes is refused: it stops there.
	if st, p := streamStatus(t, h.base+"/api/docs/"+ah+"/events?token="+docTok+"&lastEventId="+last, ""); st != 401 || p["code"] != "token_expired" {
		t.Fatalf("reconnecting with the expired token: %d %v", st, p)
	}
	// A new token resumes where the old one stopped.
	fresh := h.sign(jwttest.Key{}, h.claims("doc", ah, jwt.MapClaims{"role": "view"}))
	again := openSSE(t, h.base+"/api/docs/"+ah+"/events?token="+fresh, "", last)
	if st, body := postJSON(t, "PATCH", h.base+"/api/docs/"+a.Links.Edit, "", `{"name":"c.go"}`); st != 200 {
		t.Fatalf("rename: %d %v", st, body)
	}
	if e := again.next(t, nil); !strings.Contains(e.data, `"newName":"c.go"`) {
		t.Fatalf("resumed with a new token: %+v", e)
	}
}

// TestRotationEndsStreamsAndLinkHooks: rotating a workspace's links ends
// the streams opened with the old ones at once, as it closes WebSocket
// sessions (4003), and disables the webhook endpoints the old edit link
// made, until the new edit link enables them again: whoever held the old
// link hears nothing more through it. What the API token and tokens made
// goes on. Rotating a document's links ends its old links' streams.
func TestRotationEndsStreamsAndLinkHooks(t *testing.T) {
	h := newHost(t, Config{Hooks: hooks.Config{AllowPrivate: true}})
	a, _, wsh := h.doc("a.go", "", "")
	wsEdit, wsView := a.WorkspaceLinks.Edit, a.WorkspaceLinks.View
	owner := h.sign(h.rs, h.claims("workspace", wsh, jwt.MapClaims{"role": "owner"}))
	byLink, byAdmin, byToken := newReceiver(t, 200), newReceiver(t, 200), newReceiver(t, 200)
	linkHook := mkhook(t, h.base, "/api/workspaces/"+wsEdit+"/hooks", "", byLink.URL, "")
	mkhook(t, h.base, "/api/workspaces/"+wsEdit+"/hooks", adminToken, byAdmin.URL, "")
	mkhook(t, h.base, "/api/workspaces/"+wsh+"/hooks", owner, byToken.URL, "")
	// Before the rotation, every endpoint hears of a creation.
	h.doc("before.go", "", wsEdit)
	for _, rc := range []*receiver{byLink, byAdmin, byToken} {
		if r := rc.next(t); r.event["type"] != hooks.TypeCreated {
			t.Fatalf("before the rotation: %s", r.body)
		}
	}
	editStream := openSSE(t, h.base+"/api/workspaces/"+wsEdit+"/events", "", "")
	viewStream := openSSE(t, h.base+"/api/workspaces/"+wsView+"/events", "", "")
	tokenStream := openSSE(t, h.base+"/api/workspaces/"+wsh+"/events", owner, "")
	docStream := openSSE(t, h.base+"/api/docs/"+a.Links.View+"/events", "", "")

	st, rot := postJSON(t, "POST", h.base+"/api/workspaces/"+wsEdit+"/rotate", adminToken, "")
	if st != 200 {
		t.Fatalf("rotate: %d %v", st, rot)
	}
	newEdit := rot["links"].(map[string]any)["edit"].(string)
	// At once, without the clock moving: the old links' streams end.
	for _, s := range []*sse{editStream, viewStream} {
		if c := s.closed(t); c["code"] != "forbidden" {
			t.Fatalf("a rotated workspace link's stream: %v", c)
		}
	}
	for _, link := range []string{wsEdit, wsView} {
		if st, p := streamStatus(t, h.base+"/api/workspaces/"+link+"/events", ""); st != 404 {
			t.Errorf("a stream with an old link: %d %v", st, p)
		}
	}
	if st := getWith(t, h.base+"/api/workspaces/"+wsEdit+"/hooks", "", nil); st != 404 {
		t.Errorf("the hooks with the old edit link: %d", st)
	}
	// The old edit link's endpoint is disabled, saying why; the others
	// are not.
	var list struct{ Hooks []hookView }
	getWith(t, h.base+"/api/workspaces/"+newEdit+"/hooks", "", &list)
	if len(list.Hooks) != 3 {
		t.Fatalf("hooks after the rotation: %+v", list.Hooks)
	}
	for _, hv := range list.Hooks {
		if disabled := hv.ID == linkHook["id"]; hv.Enabled == disabled || disabled && !strings.Contains(hv.DisabledReason, "rotated") {
			t.Errorf("after the rotation: %+v", hv)
		}
	}
	// What the rotation left: the token's stream and the document's
	// link's (a workspace's rotation leaves its documents' links), and
	// the endpoints of the API token and of the token.
	if st, body := postJSON(t, "PATCH", h.base+"/api/docs/"+a.Links.Edit, "", `{"name":"b.go"}`); st != 200 {
		t.Fatalf("rename: %d %v", st, body)
	}
	for _, s := range []*sse{tokenStream, docStream} {
		if e := s.next(t, nil); e.typ != hooks.TypeRenamed {
			t.Fatalf("a stream the rotation leaves: %+v", e)
		}
	}
	for _, rc := range []*receiver{byAdmin, byToken} {
		if r := rc.next(t); r.event["type"] != hooks.TypeRenamed {
			t.Fatalf("an endpoint the rotation leaves: %s", r.body)
		}
	}
	var log deliveryLog
	if getWith(t, h.base+"/api/workspaces/"+newEdit+"/hooks/"+linkHook["id"].(string)+"/deliveries", "", &log); len(log.Deliveries) != 1 {
		t.Fatalf("the disabled endpoint's deliveries: %+v", log)
	}
	select {
	case r := <-byLink.got:
		t.Fatalf("the disabled endpoint got %s", r.body)
	default:
	}
	// The new edit link enables it again after checking it: it gets the
	// event it missed (held, not lost, and not sent before).
	if st, body := postJSON(t, "PATCH", h.base+"/api/workspaces/"+newEdit+"/hooks/"+linkHook["id"].(string), "", `{"enabled":true}`); st != 200 || body["enabled"] != true {
		t.Fatalf("enabling: %d %v", st, body)
	}
	if r := byLink.next(t); r.event["type"] != hooks.TypeRenamed {
		t.Fatalf("the enabled endpoint: %s", r.body)
	}

	// A document's rotation ends its old links' streams.
	if st, body := postJSON(t, "POST", h.base+"/api/docs/"+a.Links.Edit+"/rotate", adminToken, ""); st != 200 {
		t.Fatalf("rotate the document: %d %v", st, body)
	}
	if c := docStream.closed(t); c["code"] != "forbidden" {
		t.Fatalf("a rotated document link's stream: %v", c)
	}
}

// TestOwnerTokenWebhooks: an owner token of a workspace manages its
// webhook endpoints: the ones it makes get the workspace's events with
// handles and no link, signed as every delivery is; it sees none of the
// endpoints made with the edit link (whose events carry links), which
// the edit link manages with its own. Editors, viewers and a document's
// owner manage none.
func TestOwnerTokenWebhooks(t *testing.T) {
	h := newHost(t, Config{Hooks: hooks.Config{AllowPrivate: true}})
	a, ah, wsh := h.doc("a.go", "", "")
	owner := h.sign(h.rs, h.claims("workspace", wsh, jwt.MapClaims{"role": "owner"}))
	rcv, linked := newReceiver(t, 200), newReceiver(t, 200)
	for _, tc := range []struct{ name, token string }{
		{"an editor", h.sign(h.rs, h.claims("workspace", wsh, nil))},
		{"a viewer", h.sign(h.rs, h.claims("workspace", wsh, jwt.MapClaims{"role": "view"}))},
		{"a document's owner", h.sign(h.rs, h.claims("doc", ah, jwt.MapClaims{"role": "owner"}))},
	} {
		for _, m := range []string{"GET", "POST"} {
			if st, p := postJSON(t, m, h.base+"/api/workspaces/"+wsh+"/hooks", tc.token, `{"url":"`+rcv.URL+`"}`); st != 403 || p["code"] != "forbidden" {
				t.Errorf("%s: %s hooks: %d %v", tc.name, m, st, p)
			}
		}
	}
	mine := mkhook(t, h.base, "/api/workspaces/"+wsh+"/hooks", owner, rcv.URL, `,"types":["document.created","document.deleted"]`)
	if mine["audience"] != "handles" || !strings.HasPrefix(mine["secret"].(string), "whsec_") {
		t.Fatalf("the owner token's endpoint: %v", mine)
	}
	theirs := mkhook(t, h.base, "/api/workspaces/"+a.WorkspaceLinks.Edit+"/hooks", "", linked.URL, "")
	if theirs["audience"] != "links" {
		t.Fatalf("the edit link's endpoint: %v", theirs)
	}

	c, ch, _ := h.doc("c.go", "package c\n", a.WorkspaceLinks.Edit)
	r := rcv.next(t)
	wh, err := standardwebhooks.NewWebhook(mine["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The host's clock is the test's: the timestamp is its time.
	if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil || r.header.Get("webhook-timestamp") != strconv.FormatInt(h.clock.Now().Unix(), 10) {
		t.Fatalf("verifying the delivery: %v (timestamp %s)", err, r.header.Get("webhook-timestamp"))
	}
	verifySpec(t, mine["secret"].(string), r)
	if r.event["type"] != hooks.TypeCreated {
		t.Fatalf("delivery %s", r.body)
	}
	checkHandlesOnly(t, string(r.body), ch, wsh, append(h.secretsOf(a), h.secretsOf(c)...)...)
	if l := linked.next(t); !strings.Contains(string(l.body), `"edit":"`+c.Links.Edit+`"`) {
		t.Fatalf("the edit link's endpoint: %s", l.body)
	}

	// The token sees its endpoints only; the others are not found.
	var list struct{ Hooks []hookView }
	if st := getWith(t, h.base+"/api/workspaces/"+wsh+"/hooks", owner, &list); st != 200 || len(list.Hooks) != 1 || list.Hooks[0].ID != mine["id"] {
		t.Fatalf("the token's list: %d %+v", st, list)
	}
	hid := theirs["id"].(string)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "", ""}, {"PATCH", "", `{"url":"` + rcv.URL + `"}`}, {"DELETE", "", ""},
		{"GET", "/deliveries", ""}, {"POST", "/deliveries/" + r.event["id"].(string) + "/redeliver", ""},
	} {
		if st, p := postJSON(t, tc.method, h.base+"/api/workspaces/"+wsh+"/hooks/"+hid+tc.path, owner, tc.body); st != 404 || p["code"] != "not_found" {
			t.Errorf("the token, %s the edit link's endpoint%s: %d %v", tc.method, tc.path, st, p)
		}
	}
	if in := getWith(t, h.base+"/api/workspaces/"+a.WorkspaceLinks.Edit+"/hooks/"+hid, "", &theirs); in != 200 || theirs["url"] != linked.URL {
		t.Fatalf("the edit link's endpoint after the token's tries: %d %v", in, theirs)
	}
	// The token's own: its delivery log, a change, a redelivery.
	var log deliveryLog
	if st := getWith(t, h.base+"/api/workspaces/"+wsh+"/hooks/"+mine["id"].(string)+"/deliveries", owner, &log); st != 200 || len(log.Deliveries) != 1 {
		t.Fatalf("the token's delivery log: %d %+v", st, log)
	}
	if st, p := postJSON(t, "POST", h.base+"/api/workspaces/"+wsh+"/hooks/"+mine["id"].(string)+"/deliveries/"+r.event["id"].(string)+"/redeliver", owner, ""); st != 202 {
		t.Fatalf("redeliver: %d %v", st, p)
	}
	if again := rcv.next(t); again.header.Get("webhook-id") != r.header.Get("webhook-id") {
		t.Fatalf("redelivered %v", again.header)
	}
	// The edit link sees both, and manages the token's too.
	getWith(t, h.base+"/api/workspaces/"+a.WorkspaceLinks.Edit+"/hooks", "", &list)
	if len(list.Hooks) != 2 {
		t.Fatalf("the edit link's list: %+v", list)
	}
	if st, p := postJSON(t, "PATCH", h.base+"/api/workspaces/"+a.WorkspaceLinks.Edit+"/hooks/"+mine["id"].(string), "", `{"description":"checked"}`); st != 200 || p["audience"] != "handles" {
		t.Fatalf("the edit link changing the token's endpoint: %d %v", st, p)
	}
	if st := deleteWith(t, h.base+"/api/workspaces/"+wsh+"/hooks/"+mine["id"].(string), owner); st != 204 {
		t.Fatalf("the token deleting its endpoint: %d", st)
	}
}

// TestBrowserEventSourceWithToken runs the EventSource snippet of
// docs/WEBHOOKS.md in a real browser: a page of the host follows a
// workspace's events with its user's token in ?token=, sees documents by
// handle only; when the token expires (the test moves the server's
// clock) the stream's closed message makes the snippet follow again with
// a new token from the last event's id, missing nothing.
func TestBrowserEventSourceWithToken(t *testing.T) {
	clock := newTestClock()
	env := newBrowserEnvWith(t, Config{JWTSecret: hostSecret, Now: clock.Now, AfterFunc: clock.AfterFunc, APIToken: adminToken})
	// The server-wide stream tells the id of the document's creation, from
	// which the page's stream resumes: it misses nothing whenever it
	// connects.
	all := openSSE(t, env.base+"/api/admin/events", adminToken, "")
	id := env.create("notes.md", "")
	created := all.next(t, nil)
	var doc struct{ Handle, WorkspaceHandle string }
	env.call("GET", "/api/docs/"+id, "", nil, http.StatusOK, &doc)
	mint := func(exp time.Time) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"workspace": doc.WorkspaceHandle, "role": "view", "sub": "u-7", "exp": exp.Unix()}).SignedString([]byte(hostSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := clock.Now().Add(time.Minute)
	first, fresh := mint(exp), mint(exp.Add(time.Hour))

	md, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "WEBHOOKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(md), "## Event streams")
	_, rest, ok := strings.Cut(section, "```js\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(code, "function follow(") {
		t.Fatal("docs/WEBHOOKS.md has no ```js snippet with function follow in its section on event streams")
	}
	p := env.open(env.base + "/") // a page of collab's origin, as the host's would be behind one domain
	evalIn[bool](p, fmt.Sprintf(`window.seen = []; console.log = (...a) => window.seen.push(a.join(' '));
window.fetchNewToken = async () => %s;
%s
follow(%s, %s, %s); true`, jsString(fresh), code, jsString(doc.WorkspaceHandle), jsString(first), jsString(created.id)))

	rename := func(name string) {
		t.Helper()
		env.call("PATCH", "/api/docs/"+id, "application/json", []byte(`{"name":"`+name+`"}`), http.StatusOK, nil)
	}
	rename("a.md")
	renamed := jsString("document.renamed " + doc.Handle)
	p.wait(`window.seen.filter(s => s === ` + renamed + `).length === 1`)
	// The token expires: the stream ends with closed, and the snippet
	// follows again with the new token from the last event's id.
	clock.Set(exp)
	rename("b.md")
	p.wait(`window.seen.filter(s => s === ` + renamed + `).length === 2`)
	if seen := evalIn[[]string](p, `window.seen`); len(seen) != 2 || strings.Contains(strings.Join(seen, " "), id) {
		t.Fatalf("the page saw %q", seen)
	}
	reqs := env.apiRequests("/events?")
	if len(reqs) != 2 || !strings.Contains(reqs[0], "token="+first) || !strings.Contains(reqs[1], "token="+fresh) || !strings.Contains(reqs[1], "lastEventId=") {
		t.Fatalf("the page's streams: %q", reqs)
	}
}
