package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
		{base, "DELETE", "/api/docs/" + doc.ID, "", "", 401},
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
	for _, old := range []string{doc.Links.Edit, doc.Links.View} {
		if resp := do(t, "GET", base+"/api/docs/"+old, "", "", ""); resp.StatusCode != 404 {
			t.Errorf("old link still works: %s", resp.Status)
		}
	}
	if text, _ := restText(t, base, rot.Links.Edit); text != "hi" {
		t.Fatalf("new edit link: %q", text)
	}
}

func TestEmbedTokens(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	_, base := testServer(t, Config{APIToken: adminToken, Now: func() time.Time { return clock() }})
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
		if raw, _ := base64.RawURLEncoding.DecodeString(view); bytes.Contains(raw, []byte(link)) {
			t.Fatalf("the embed token holds the link %s", link)
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
	// Expired: refused at join.
	clock = func() time.Time { return now.Add(2 * time.Minute) }
	if resp := do(t, "GET", base+"/api/docs/"+id+"/ws?token="+view, "", "", ""); resp.StatusCode != 403 {
		t.Errorf("expired token: %s", resp.Status)
	}
	// A live session is closed at expiry: join 300ms before it.
	clock = func() time.Time { return now }
	short, _ := mint(`{"mode":"edit","ttlSeconds":60}`)
	exp := time.Unix(now.Unix()+60, 0)
	clock = func() time.Time { return exp.Add(-300 * time.Millisecond) }
	r2 := dialRaw(t, base, id, "?token="+short)
	r2.send(`{"type":"join"}`)
	r2.next("joined")
	if code := r2.closeCode(); code != closeForbidden {
		t.Fatalf("expired live session: close %d", code)
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
	r := dialRaw(t, base, doc.ID, "")
	r.send(`{"type":"join","client":"flood"}`)
	r.next("joined")
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
