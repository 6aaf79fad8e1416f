package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/gorilla/websocket"
)

const adminToken = "test-admin-token"

type created struct {
	ID    string `json:"id"`
	Links struct {
		Edit string `json:"edit"`
		View string `json:"view"`
	} `json:"links"`
	WorkspaceLinks struct {
		Edit string `json:"edit"`
		View string `json:"view"`
	} `json:"workspaceLinks"`
}

func createFull(t *testing.T, base, body string) created {
	t.Helper()
	resp, err := http.Post(base+"/api/docs", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c created
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&c) != nil {
		t.Fatalf("create: %s", resp.Status)
	}
	return c
}

func do(t *testing.T, method, url, token, ctype, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestLinksGrantWhatTheySay(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	if doc.Links.Edit == "" || doc.Links.View == "" || doc.Links.Edit == doc.Links.View {
		t.Fatalf("links: %+v", doc.Links)
	}
	if len(doc.Links.View) < 22 {
		t.Fatalf("view link %q is too short to hold 122 random bits", doc.Links.View)
	}
	view := base + "/api/docs/" + doc.Links.View
	// A view link reads...
	if resp := do(t, "GET", view, "", "", ""); resp.StatusCode != 200 {
		t.Fatalf("GET through view link: %s", resp.Status)
	}
	// ...and never writes.
	for _, tc := range []struct{ method, path, ctype, body string }{
		{"PUT", "", "text/plain", "hacked"},
		{"PATCH", "", "application/json", `{"name":"x.go"}`},
		{"POST", "/restore", "application/json", `{"rev":0}`},
	} {
		if resp := do(t, tc.method, view+tc.path, "", tc.ctype, tc.body); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s through view link: %s", tc.method, tc.path, resp.Status)
		}
	}
	// The view link's responses never reveal the edit link, errors
	// included (a document's first edit link is its internal id).
	for _, path := range []string{"", "/raw", "/revisions", "/revisions/1", "/blame", "/chat", "/presence",
		"?rev=99", "/raw?rev=99", "/revisions/99", "/blame?rev=99", "/diff?from=0&to=99", "/diff?format=unified&to=99"} {
		resp, err := http.Get(view + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte(doc.Links.Edit)) || strings.Contains(resp.Header.Get("ETag"), doc.Links.Edit) {
			t.Errorf("GET %s through the view link shows the edit link: %s %s", path, resp.Status, b)
		}
	}
	// A WebSocket through the view link is read-only.
	r := dialRaw(t, base, doc.Links.View, "")
	r.send(`{"type":"join","client":"v"}`)
	if m := r.next("joined"); m["readOnly"] != true {
		t.Fatalf("joined: %v", m)
	}
	r.send(`{"type":"op","rev":1,"id":"v:1","op":[10,"x"]}`)
	if m := r.next("error"); m["code"] != "read_only" {
		t.Fatalf("op through view link: %v", m)
	}
	// Unknown and guessed links find nothing.
	for _, guess := range []string{"x", doc.Links.View[:len(doc.Links.View)-1], strings.ToUpper(doc.Links.View)} {
		if resp := do(t, "GET", base+"/api/docs/"+guess, "", "", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("guessed link %q: %s", guess, resp.Status)
		}
	}
	if text, _ := restText(t, base, doc.Links.Edit); text != "package a\n" {
		t.Fatalf("document changed: %q", text)
	}
}

func TestAdminRoutesNeedTheToken(t *testing.T) {
	_, open := testServer(t, Config{}) // no token configured
	_, base := testServer(t, Config{APIToken: adminToken})
	docOpen := createFull(t, open, `{"name":"a","text":""}`)
	doc := createFull(t, base, `{"name":"a","text":""}`)
	for _, tc := range []struct {
		base, method, path, body string
		token                    string
		want                     int
	}{
		{open, "GET", "/api/docs", "", "", 403},
		{open, "GET", "/api/docs", "", "anything", 403},
		{open, "DELETE", "/api/docs/" + docOpen.ID, "", "", 403},
		{base, "GET", "/api/docs", "", "", 401},
		{base, "GET", "/api/docs", "", "wrong", 401},
		{base, "DELETE", "/api/docs/" + doc.ID, "", "", 403}, // the edit link does not delete: see TestOwners
		{base, "POST", "/api/docs/" + doc.ID + "/rotate", "", "", 401},
		{base, "POST", "/api/docs/" + doc.ID + "/embed-tokens", `{"mode":"edit"}`, "", 401},
		{base, "GET", "/api/docs", "", adminToken, 200},
	} {
		if resp := do(t, tc.method, tc.base+tc.path, tc.token, "application/json", tc.body); resp.StatusCode != tc.want {
			t.Errorf("%s %s (token %q): %s, want %d", tc.method, tc.path, tc.token, resp.Status, tc.want)
		}
	}
}

func TestRotationClosesOldLinks(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a","text":"hi"}`)
	r := dialRaw(t, base, doc.Links.Edit, "")
	r.send(`{"type":"join"}`)
	r.next("joined")
	rv := dialRaw(t, base, doc.Links.View, "")
	rv.send(`{"type":"join"}`)
	rv.next("joined")
	resp, err := http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest("POST", base+"/api/docs/"+doc.Links.Edit+"/rotate", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	var rot struct{ Links struct{ Edit, View string } }
	json.NewDecoder(resp.Body).Decode(&rot)
	resp.Body.Close()
	if code := r.closeCode(); code != closeForbidden {
		t.Fatalf("session on the rotated link: close %d", code)
	}
	if code := rv.closeCode(); code != closeForbidden {
		t.Fatalf("session on the rotated view link: close %d", code)
	}
	for _, old := range []string{doc.Links.Edit, doc.Links.View} {
		if resp := do(t, "GET", base+"/api/docs/"+old, "", "", ""); resp.StatusCode != 404 {
			t.Errorf("old link still works: %s", resp.Status)
		}
	}
	if text, _ := restText(t, base, rot.Links.Edit); text != "hi" {
		t.Fatalf("new edit link: %q", text)
	}
	// A workspace's links rotate the same way.
	resp, err = http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest("POST", base+"/api/workspaces/"+doc.WorkspaceLinks.Edit+"/rotate", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	var wrot struct{ Links struct{ Edit, View string } }
	json.NewDecoder(resp.Body).Decode(&wrot)
	resp.Body.Close()
	for link, want := range map[string]int{doc.WorkspaceLinks.Edit: 404, doc.WorkspaceLinks.View: 404, wrot.Links.Edit: 200, wrot.Links.View: 200} {
		if resp := do(t, "GET", base+"/api/workspaces/"+link+"/files", "", "", ""); resp.StatusCode != want {
			t.Errorf("workspace link after rotation: %s, want %d", resp.Status, want)
		}
	}
}

func TestEmbedTokens(t *testing.T) {
	clock := newTimerClock()
	now := clock.Now()
	_, base := testServer(t, Config{APIToken: adminToken, Now: clock.Now, AfterFunc: clock.AfterFunc})
	doc := createFull(t, base, `{"name":"a","text":"hi"}`)
	// mint returns the token and the {id} its URL names the document by.
	mint := func(body string) (token, id string) {
		req, _ := http.NewRequest("POST", base+"/api/docs/"+doc.Links.Edit+"/embed-tokens", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Token, URL string }
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 || out.Token == "" {
			t.Fatalf("mint: %s", resp.Status)
		}
		u, err := url.Parse(out.URL)
		if err != nil || u.Query().Get("token") != out.Token || !strings.HasPrefix(u.Path, "/embed/") {
			t.Fatalf("url %q", out.URL)
		}
		return out.Token, strings.TrimPrefix(u.Path, "/embed/")
	}
	view, id := mint(`{"mode":"view","name":"Guest","ttlSeconds":60}`)
	// Neither the token nor its URL shows a link: the iframe's URL is
	// public to every visitor of the host's page.
	for _, link := range []string{doc.Links.Edit, doc.Links.View} {
		if strings.Contains(view, link) || strings.Contains(id, link) {
			t.Fatalf("the embed URL shows the link %s", link)
		}
		for _, part := range strings.Split(view, ".") {
			if raw, _ := base64.RawURLEncoding.DecodeString(part); bytes.Contains(raw, []byte(link)) || bytes.Contains(raw, []byte(doc.ID)) {
				t.Fatalf("the embed token holds the link %s", link)
			}
		}
	}
	r := dialRaw(t, base, id, "?token="+view)
	r.send(`{"type":"join","name":"Mallory"}`)
	j := r.next("joined")
	if j["readOnly"] != true {
		t.Fatalf("joined: %v", j)
	}
	if d := j["doc"].(map[string]any); d["id"] != id || d["links"] != nil {
		t.Fatalf("joined shows the embed session %v", d)
	}
	for _, u := range j["users"].([]any) {
		if name := u.(map[string]any)["name"]; name != "Guest" {
			t.Fatalf("the token's name was not enforced: %v", name)
		}
	}
	// REST through the token reads, shows no link, and never writes.
	resp, err := http.Get(base + "/api/docs/" + id + "?token=" + view)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(b, []byte(doc.Links.Edit)) || bytes.Contains(b, []byte(doc.Links.View)) {
		t.Fatalf("GET with a view token: %s %s", resp.Status, b)
	}
	if resp := do(t, "PUT", base+"/api/docs/"+id+"?token="+view, "", "text/plain", "hacked"); resp.StatusCode != 403 {
		t.Errorf("PUT with a view token: %s", resp.Status)
	}
	// The token works for no other document, and under no other name of
	// its own (the links need no token; the internal id is not accepted).
	other := createFull(t, base, `{"name":"b","text":""}`)
	for _, path := range []string{other.ID, doc.ID, doc.Links.View} {
		if resp := do(t, "GET", base+"/api/docs/"+path+"?token="+view, "", "", ""); resp.StatusCode != 403 {
			t.Errorf("token with {id} %s: %s", path, resp.Status)
		}
	}
	// A bad name or lifetime is refused when minting, not at every join.
	for _, body := range []string{`{"mode":"view","name":"a\u0000b"}`, `{"mode":"view","ttlSeconds":-5}`, `{"mode":"admin"}`} {
		req, _ := http.NewRequest("POST", base+"/api/docs/"+doc.ID+"/embed-tokens", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("mint %s: %s", body, resp.Status)
		}
	}
	// A live session is closed at expiry, on the server's clock.
	short, _ := mint(`{"mode":"edit","ttlSeconds":60}`)
	r2 := dialRaw(t, base, id, "?token="+short)
	r2.send(`{"type":"join"}`)
	r2.next("joined")
	clock.Set(now.Add(time.Minute))
	if code := r2.closeCode(); code != closeForbidden {
		t.Fatalf("expired live session: close %d", code)
	}
	// Expired: refused at join.
	clock.Set(now.Add(2 * time.Minute))
	if resp := do(t, "GET", base+"/api/docs/"+id+"/ws?token="+view, "", "", ""); resp.StatusCode != 401 {
		t.Errorf("expired token: %s", resp.Status)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	_, base := testServer(t, Config{AllowedOrigins: []string{"https://partner.example"}})
	doc := createFull(t, base, `{"name":"a","text":""}`)
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + doc.ID + "/ws"
	for origin, ok := range map[string]bool{"https://evil.example": false, "https://partner.example": true, base: true} {
		h := http.Header{"Origin": {origin}}
		c, resp, err := websocket.DefaultDialer.Dial(u, h)
		if ok != (err == nil) {
			t.Errorf("origin %s: err %v (%v)", origin, err, resp)
		}
		if c != nil {
			c.Close()
		}
	}
}

func TestFloodIsCutOffOthersContinue(t *testing.T) {
	_, base := testServer(t, Config{OpsPerSecond: 20})
	doc := createFull(t, base, `{"name":"a","text":""}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good, err := client.Dial(ctx, client.Config{URL: base, Doc: doc.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	r := joinRaw(t, base, doc.ID, "flood")
	for i := range 2000 {
		msg := `{"type":"op","rev":1,"id":"flood:` + strings.Repeat("9", 1+i%5) + `","op":[1]}`
		if r.c.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
			break
		}
	}
	if code := r.closeCode(); code != closeRateLimited && code != -1 && code != websocket.CloseAbnormalClosure {
		t.Errorf("flood closed with %d", code)
	}
	if err := good.Insert(0, "still fine"); err != nil {
		t.Fatal(err)
	}
	if err := good.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if text, _ := restText(t, base, doc.ID); text != "still fine" {
		t.Fatalf("text %q", text)
	}
}

func TestHugeMessageIsRefusedUnread(t *testing.T) {
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"a","text":"x"}`)
	r := dialRaw(t, base, doc.ID, "")
	r.send(`{"type":"join"}`)
	r.next("joined")
	// 100 MB, in frames as a real client would send: the server stops
	// reading at its limit (1 MiB) and closes.
	w, err := r.c.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	sent := 0
	for ; sent < 100; sent++ {
		if _, err := w.Write(chunk); err != nil {
			break
		}
	}
	w.Close()
	if sent == 100 {
		t.Log("the whole message was buffered by the kernel before the close")
	}
	if code := r.closeCode(); code != websocket.CloseMessageTooBig && code != -1 && code != websocket.CloseAbnormalClosure {
		t.Errorf("close %d", code)
	}
	if text, _ := restText(t, base, doc.ID); text != "x" {
		t.Fatal("document changed")
	}
}

// TestAdminRoutesClosedWithoutToken: with no COLLAB_API_TOKEN configured
// every administrative route is refused, whatever the caller sends.
func TestAdminRoutesClosedWithoutToken(t *testing.T) {
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"a","text":"x"}`)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/docs", ""},
		{"DELETE", "/api/docs/" + doc.ID, ""},
		{"POST", "/api/docs/" + doc.ID + "/rotate", ""},
		{"POST", "/api/docs/" + doc.ID + "/embed-tokens", `{"mode":"edit"}`},
		{"POST", "/api/workspaces/" + doc.WorkspaceLinks.Edit + "/rotate", ""},
	} {
		for _, token := range []string{"", "anything", adminToken} {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s (token %q): %s %s", tc.method, tc.path, token, resp.Status, resp.Header.Get("Content-Type"))
			}
		}
	}
	if text, _ := restText(t, base, doc.ID); text != "x" {
		t.Fatalf("document changed: %q", text)
	}
	if resp := do(t, "GET", base+"/api/workspaces/"+doc.WorkspaceLinks.Edit+"/files", "", "", ""); resp.StatusCode != 200 {
		t.Fatalf("the workspace link after refused rotation: %s", resp.Status)
	}
}

// TestViewLinksNeverWrite: every REST write through a view link, of the
// document or of its workspace, is refused and changes nothing.
func TestViewLinksNeverWrite(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	view := base + "/api/docs/" + doc.Links.View
	for _, tc := range []struct{ method, url, ctype, body string }{
		{"PUT", view, "text/plain", "hacked"},
		{"PUT", view, "application/json", `{"text":"hacked"}`},
		{"PATCH", view, "application/json", `{"name":"x.go"}`},
		{"PATCH", view, "application/json", `{"language":"python"}`},
		{"POST", view + "/restore", "application/json", `{"rev":1}`},
		{"POST", base + "/api/docs", "application/json", `{"name":"b.go","text":"","workspace":"` + doc.WorkspaceLinks.View + `"}`},
		{"POST", base + "/api/docs?name=b.go&workspace=" + doc.WorkspaceLinks.View, "text/plain", "x"},
	} {
		if resp := do(t, tc.method, tc.url, "", tc.ctype, tc.body); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s: %s", tc.method, strings.TrimPrefix(tc.url, base), resp.Status)
		}
	}
	var files struct{ Files []docView }
	apiClient{t, base}.call("GET", "/api/workspaces/"+doc.WorkspaceLinks.Edit+"/files", nil, nil, &files)
	if len(files.Files) != 1 || files.Files[0].Name != "a.go" || files.Files[0].Rev != 1 {
		t.Fatalf("workspace after view-link writes: %+v", files.Files)
	}
}

// TestSecurityHeaders: every response has nosniff; pages have a CSP with
// no inline script, and only /embed/* may be framed, by the configured
// ancestors.
func TestSecurityHeaders(t *testing.T) {
	_, base := testServer(t, Config{FrameAncestors: "https://host.example"})
	doc := createFull(t, base, `{"name":"a","text":"x"}`)
	for _, tc := range []struct {
		method, path string
		embed        bool
	}{
		{"GET", "/", false},
		{"GET", "/d/" + doc.ID, false},
		{"GET", "/d/no-such-link", false},
		{"GET", "/w/" + doc.WorkspaceLinks.Edit, false},
		{"GET", "/embed-demo", false},
		{"GET", "/embed/" + doc.ID, true},
		{"GET", "/assets/app.js", false},
		{"GET", "/api/docs/" + doc.ID, false},
		{"GET", "/api/docs/" + doc.ID + "/raw", false},
		{"GET", "/api/docs/nothing", false},
		{"DELETE", "/api/openapi.json", false},
		{"GET", "/api/docs/" + doc.ID + "/ws", false}, // not an upgrade: 400
		{"GET", "/metrics", false},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		script := ""
		for _, d := range strings.Split(csp, ";") {
			if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src ") {
				script = d
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: nosniff %q, Referrer-Policy %q", tc.method, tc.path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		if script != "script-src 'self'" {
			t.Errorf("%s %s: script policy %q in %q", tc.method, tc.path, script, csp)
		}
		if tc.embed {
			if !strings.Contains(csp, "frame-ancestors https://host.example") || h.Get("X-Frame-Options") != "" {
				t.Errorf("%s: CSP %q, X-Frame-Options %q", tc.path, csp, h.Get("X-Frame-Options"))
			}
		} else if !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: CSP %q, X-Frame-Options %q", tc.method, tc.path, csp, h.Get("X-Frame-Options"))
		}
	}
}

// TestLimitsRefuseClearly: sessions per document, connections per
// address, document size and request size each refuse with their own
// error, and leave everyone else working.
func TestLimitsRefuseClearly(t *testing.T) {
	_, base := testServer(t, Config{MaxSessionsPerDoc: 2, MaxMessageBytes: 4 << 20, MaxRequestBytes: 2 << 20})
	// The test server's documents are at most 1 MiB.
	doc := createFull(t, base, `{"name":"a","text":"`+strings.Repeat("x", 1<<20-4)+`"}`)
	a := joinRaw(t, base, doc.ID, "a")
	b := joinRaw(t, base, doc.ID, "b")

	third := dialRaw(t, base, doc.ID, "")
	third.send(`{"type":"join","client":"c"}`)
	if code := third.closeCode(); code != closeTooMany {
		t.Errorf("a third session on the document: close %d, want %d", code, closeTooMany)
	}
	// An op that would make the document too large is refused; the text
	// stays; a smaller op still goes through.
	a.send(`{"type":"op","rev":1,"id":"a:1","op":[` + fmt.Sprint(1<<20-4) + `,"12345"]}`)
	if m := a.next("error"); m["code"] != "too_large" || m["id"] != "a:1" {
		t.Fatalf("op beyond the document limit: %v", m)
	}
	a.send(`{"type":"op","rev":1,"id":"a:2","op":[` + fmt.Sprint(1<<20-4) + `,"!"]}`)
	if m := a.next("ack"); m["id"] != "a:2" {
		t.Fatalf("a fitting op: %v", m)
	}
	if m := b.next("op"); m["author"] != a.user {
		t.Fatalf("b: %v", m)
	}
	// Over REST: the document limit, the body limit, with and without a
	// declared length.
	for _, tc := range []struct {
		name string
		body io.Reader
		code string
	}{
		{"document", strings.NewReader(strings.Repeat("y", 1<<20+1)), "too_large"},
		{"body", strings.NewReader(strings.Repeat("y", 2<<20+1)), "too_large"},
		{"chunked body", io.MultiReader(strings.NewReader(strings.Repeat("y", 2<<20+1))), "too_large"},
	} {
		req, _ := http.NewRequest("PUT", base+"/api/docs/"+doc.ID, tc.body)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || p["code"] != tc.code {
			t.Errorf("PUT over the %s limit: %s %v", tc.name, resp.Status, p)
		}
	}
	if text, rev := restText(t, base, doc.ID); rev != 2 || len(text) != 1<<20-3 {
		t.Fatalf("document after refusals: %d bytes at %d", len(text), rev)
	}
}

// TestConnectionsPerAddress: beyond the limit, an address's next
// WebSocket is refused before the upgrade with 429; REST still answers.
func TestConnectionsPerAddress(t *testing.T) {
	_, base := testServer(t, Config{MaxConnsPerAddr: 2})
	doc := createFull(t, base, `{"name":"a","text":"x"}`)
	a := dialRaw(t, base, doc.ID, "")
	dialRaw(t, base, doc.ID, "")
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + doc.ID + "/ws"
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		c.Close()
		t.Fatal("a third connection from one address was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a connection over the limit: %v %v", err, resp)
	}
	a.send(`{"type":"join","client":"a"}`)
	a.next("joined")
	if text, _ := restText(t, base, doc.ID); text != "x" {
		t.Fatalf("REST: %q", text)
	}
}

// TestDeepNestingIsRefused: JSON nested far beyond any real message is an
// error, over the socket and over REST, and costs nothing else.
func TestDeepNestingIsRefused(t *testing.T) {
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"a","text":"x"}`)
	deep := strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000)
	r := joinRaw(t, base, doc.ID, "deep")
	r.send(`{"type":"op","rev":1,"id":"deep:1","op":` + deep + `}`)
	if m := r.next("error"); m["code"] != "bad_message" {
		t.Fatalf("deep op: %v", m)
	}
	r.send(`{"type":"cursor","rev":1,"ranges":` + deep + `}`)
	if m := r.next("error"); m["code"] != "bad_message" {
		t.Fatalf("deep cursor: %v", m)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/docs", `{"name":"b","text":"","language":` + deep + `}`},
		{"PUT", "/api/docs/" + doc.ID, `{"text":` + deep + `}`},
		{"POST", "/api/docs/" + doc.ID + "/restore", `{"rev":` + deep + `}`},
	} {
		if resp := do(t, tc.method, base+tc.path, "", "application/json", tc.body); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s nested deep: %s", tc.method, tc.path, resp.Status)
		}
	}
	r.send(`{"type":"op","rev":1,"id":"deep:2","op":[1,"y"]}`)
	if m := r.next("ack"); m["id"] != "deep:2" {
		t.Fatalf("after deep messages: %v", m)
	}
}
