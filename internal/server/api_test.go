package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
)

type apiClient struct {
	t    *testing.T
	base string
}

// call does a request and decodes a JSON answer into out (when not nil).
func (a apiClient) call(method, path string, body any, hdr map[string]string, out any) *http.Response {
	a.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "text/plain"
	default:
		data, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %s: %v: %s", method, path, resp.Status, err, data)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

// TestRESTWorkspaceHistoryScenario follows the walk-through: a
// workspace of three files, one edited live while another is PUT, its
// history read, diffed, blamed, restored, with the live editor following.
func TestRESTWorkspaceHistoryScenario(t *testing.T) { forBackends(t, testRESTWorkspaceHistoryScenario) }

func testRESTWorkspaceHistoryScenario(t *testing.T, bk backend) {
	testLogOut = os.Stderr
	defer func() { testLogOut = io.Discard }()
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	api := apiClient{t, base}
	var ws struct {
		ID    string
		Links linksView
	}
	if r := api.call("POST", "/api/workspaces", nil, nil, &ws); r.StatusCode != 201 || ws.ID == "" {
		t.Fatalf("create workspace: %s", r.Status)
	}
	var f1, f2 created
	if r := api.call("POST", "/api/docs", map[string]string{"name": "src/main.go", "text": "package main\n", "workspace": ws.ID}, nil, &f1); r.StatusCode != 201 || r.Header.Get("Location") != "/api/docs/"+f1.ID {
		t.Fatalf("create: %s %q", r.Status, r.Header.Get("Location"))
	}
	api.call("POST", "/api/docs", map[string]string{"name": "src/util.go", "text": "package main\n\nfunc util() {}\n", "workspace": ws.ID}, nil, &f2)
	var f3 created
	if r := api.call("POST", "/api/docs?name=README.md&workspace="+ws.ID, "# Project\n", nil, &f3); r.StatusCode != 201 || f3.ID == "" {
		t.Fatalf("raw upload: %s", r.Status)
	}
	var files struct {
		Files []docView
		Next  string
	}
	api.call("GET", "/api/workspaces/"+ws.ID+"/files?prefix=src/", nil, nil, &files)
	if len(files.Files) != 2 || files.Files[0].Name != "src/main.go" || files.Files[1].Name != "src/util.go" {
		t.Fatalf("files by prefix: %+v", files.Files)
	}
	api.call("GET", "/api/workspaces/"+ws.ID+"/files?limit=2", nil, nil, &files)
	if len(files.Files) != 2 || files.Next == "" {
		t.Fatalf("first page: %+v", files)
	}
	next := files.Next
	files.Files, files.Next = nil, ""
	api.call("GET", "/api/workspaces/"+ws.ID+"/files?limit=2&after="+next, nil, nil, &files)
	if len(files.Files) != 1 || files.Files[0].Name != "src/util.go" {
		t.Fatalf("second page: %+v", files.Files)
	}
	var viewFiles struct{ Files []docView }
	api.call("GET", "/api/workspaces/"+ws.Links.View+"/files", nil, nil, &viewFiles)
	for _, f := range viewFiles.Files {
		if f.Mode != "view" || f.ID == f1.ID || f.ID == f2.ID || f.ID == f3.ID {
			t.Fatalf("a view link of a workspace lists edit links: %+v", f)
		}
	}

	// Live editing of main.go while util.go is PUT.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	chatted := make(chan client.Chat, 1) // the server sends a chat message once it is stored
	live, err := client.Dial(ctx, client.Config{URL: base, Doc: f1.ID, Name: "live", OnChat: func(m client.Chat) { chatted <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	raw := joinRaw(t, base, f1.ID, "watcher")
	for i := range 5 {
		if err := live.Insert(live.Len(), fmt.Sprintf("// live %d\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	putText(t, base, f2.ID, "package main\n\nfunc util() { println(1) }\n")
	// A PUT without If-Match on the live document is transformed, never lost.
	api.call("PUT", "/api/docs/"+f1.ID, map[string]string{"text": "// header\npackage main\n"}, nil, nil)
	live.WaitSynced(ctx)
	text, rev := restText(t, base, f1.ID)
	if err := live.WaitRev(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if live.Text() != text || !strings.HasPrefix(text, "// header\n") {
		t.Fatalf("live %q, server %q", live.Text(), text)
	}
	// If-Match: a stale revision is refused with 412; the current one works.
	if r := api.call("PUT", "/api/docs/"+f1.ID, "stale", map[string]string{"If-Match": `"1"`}, nil); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %s", r.Status)
	}
	if r := api.call("PUT", "/api/docs/"+f1.ID, text+"// fresh\n", map[string]string{"If-Match": fmt.Sprintf(`"%d"`, rev)}, nil); r.StatusCode != 200 {
		t.Fatalf("current If-Match: %s", r.Status)
	}
	text, rev = restText(t, base, f1.ID)

	// History: pages, one revision, text at a revision.
	var page struct {
		Revisions []revView
		Next      *uint64
	}
	api.call("GET", "/api/docs/"+f1.ID+"/revisions?limit=3", nil, nil, &page)
	if len(page.Revisions) != 3 || page.Next == nil || page.Revisions[0].Rev != 1 {
		t.Fatalf("page 1: %+v", page)
	}
	after, first := *page.Next, page.Revisions
	page.Revisions, page.Next = nil, nil
	api.call("GET", fmt.Sprintf("/api/docs/%s/revisions?after=%d&limit=100", f1.ID, after), nil, nil, &page)
	if len(page.Revisions) == 0 || page.Revisions[len(page.Revisions)-1].Rev != rev || page.Next != nil {
		t.Fatalf("last page: %+v", page)
	}
	var one revView
	r := api.call("GET", "/api/docs/"+f1.ID+"/revisions/2", nil, nil, &one)
	// Revision 2 is the live client's first edit or the PUT, whichever
	// reached the server first.
	// Its author's name may change: revalidated, not immutable.
	if one.Rev != 2 || one.Author != first[1].Author || (one.Author != live.User() && one.Author != "api") || !strings.Contains(r.Header.Get("Cache-Control"), "no-cache") {
		t.Fatalf("revision 2: %+v %s", one, r.Header.Get("Cache-Control"))
	}
	var at1 docBody
	r = api.call("GET", "/api/docs/"+f1.ID+"?rev=1", nil, nil, &at1)
	if at1.Text != "package main\n" || at1.Rev != 1 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("text at 1: %+v", at1)
	}
	if r := api.call("GET", "/api/docs/"+f1.ID+"?rev=1", nil, map[string]string{"If-None-Match": r.Header.Get("ETag")}, nil); r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %s", r.Status)
	}

	// Diff as an operation and as a unified diff; blame.
	var diff struct {
		From, To uint64
		Op       json.RawMessage
	}
	api.call("GET", fmt.Sprintf("/api/docs/%s/diff?from=1&to=%d", f1.ID, rev), nil, nil, &diff)
	if diff.To != rev || len(diff.Op) < 3 {
		t.Fatalf("diff: %+v", diff)
	}
	r = api.call("GET", fmt.Sprintf("/api/docs/%s/diff?from=1&to=%d", f1.ID, rev), nil, map[string]string{"Accept": "text/x-diff"}, nil)
	body, _ := io.ReadAll(r.Body)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/x-diff") || !strings.Contains(string(body), "+// header") || !strings.Contains(string(body), "--- a/src/main.go@1") {
		t.Fatalf("unified diff: %s\n%s", r.Header.Get("Content-Type"), body)
	}
	var blame struct {
		Rev   uint64
		Lines []struct {
			Line   int
			Rev    uint64
			Author string
		}
	}
	api.call("GET", "/api/docs/"+f1.ID+"/blame", nil, nil, &blame)
	if len(blame.Lines) != strings.Count(text, "\n")+1 || blame.Lines[1].Rev != 1 {
		t.Fatalf("blame: %+v", blame)
	}

	// Restore revision 1: a new revision, and the live editor follows.
	var restored struct{ Rev, Restored uint64 }
	api.call("POST", "/api/docs/"+f1.ID+"/restore", map[string]uint64{"rev": 1}, nil, &restored)
	if restored.Rev != rev+1 || restored.Restored != 1 {
		t.Fatalf("restore: %+v", restored)
	}
	if err := live.WaitRev(ctx, restored.Rev); err != nil || live.Text() != "package main\n" {
		t.Fatalf("live after restore: %q %v", live.Text(), err)
	}

	// Chat, presence, raw download.
	live.Chat("hello <b>team</b>")
	select {
	case <-chatted:
	case <-ctx.Done():
		t.Fatal("the chat message never came back")
	}
	var chat struct{ Messages []struct{ Text, Name string } }
	api.call("GET", "/api/docs/"+f1.ID+"/chat", nil, nil, &chat)
	if len(chat.Messages) != 1 || chat.Messages[0].Text != "hello <b>team</b>" || chat.Messages[0].Name != "live" {
		t.Fatalf("chat: %+v", chat)
	}
	var pres struct{ Users []struct{ ID, Name string } }
	api.call("GET", "/api/docs/"+f1.ID+"/presence", nil, nil, &pres)
	if len(pres.Users) != 2 {
		t.Fatalf("presence: %+v (live client: %+v, %v)", pres, live.Stats(), live.Err())
	}
	r = api.call("GET", "/api/docs/"+f1.ID+"/raw?rev=1", nil, nil, nil)
	body, _ = io.ReadAll(r.Body)
	if string(body) != "package main\n" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.Contains(r.Header.Get("Content-Disposition"), `filename=main.go`) {
		t.Fatalf("raw: %q %v", body, r.Header)
	}

	// Rename: live sessions are told.
	api.call("PATCH", "/api/docs/"+f1.ID, map[string]string{"name": "cmd/app.go"}, nil, nil)
	if m := raw.next("meta"); m["doc"].(map[string]any)["name"] != "cmd/app.go" {
		t.Fatalf("meta: %v", m)
	}
	// Delete (administrators): live sessions are closed with 4002.
	if r := api.call("DELETE", "/api/docs/"+f1.ID, nil, map[string]string{"Authorization": "Bearer " + adminToken}, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %s", r.Status)
	}
	if code := raw.closeCode(); code != closeDeleted {
		t.Fatalf("session of a deleted document: close %d", code)
	}
	if r := api.call("GET", "/api/docs/"+f1.ID, nil, nil, nil); r.StatusCode != 404 {
		t.Fatalf("deleted document: %s", r.Status)
	}
}

func TestRESTErrorsAreProblems(t *testing.T) { forBackends(t, testRESTErrorsAreProblems) }

func testRESTErrorsAreProblems(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxRequestBytes: 1024})
	doc := createFull(t, base, `{"name":"a.txt","text":"x"}`)
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		ifMatch                   string
	}{
		{"DELETE", "/healthz", "", "", 405, ""},
		{"POST", "/api/docs/" + doc.ID + "/revisions", "", "", 405, ""},
		{"GET", "/api/nothing", "", "", 404, ""},
		{"GET", "/api/docs/no-such-doc", "", "", 404, ""},
		{"GET", "/api/docs/" + doc.ID + "?rev=abc", "", "", 400, ""},
		{"GET", "/api/docs/" + doc.ID + "?rev=99", "", "", 404, ""},
		{"GET", "/api/docs/" + doc.ID + "/revisions?limit=0", "", "", 400, ""},
		{"GET", "/api/docs/" + doc.ID + "/revisions/x", "", "", 400, ""},
		{"POST", "/api/docs", "application/json", `{"name":`, 400, ""},
		{"POST", "/api/docs", "application/json", `{"name":"../etc/passwd","text":""}`, 400, ""},
		{"POST", "/api/docs", "application/json", `{"name":"big","text":"` + strings.Repeat("x", 2000) + `"}`, 413, ""},
		{"POST", "/api/docs", "application/xml", `<doc/>`, 415, ""},
		{"PATCH", "/api/docs/" + doc.ID, "text/plain", `x`, 415, ""},
		{"POST", "/api/docs/" + doc.ID + "/restore", "application/json", `{"rev":"one"}`, 400, ""},
		{"POST", "/api/docs/" + doc.ID + "/restore", "application/json", `{"rev":` + strings.Repeat("9", 30) + `}`, 400, ""},
		{"POST", "/api/docs/" + doc.ID + "/restore", "application/json", `{"rev":-1}`, 400, ""},
		{"POST", "/api/docs/" + doc.ID + "/restore", "application/json", `{"rev":99}`, 404, ""},
		{"GET", "/api/docs/" + doc.ID + "/revisions?after=-1", "", "", 400, ""},
		{"PUT", "/api/docs/" + doc.ID, "text/plain", "y", 412, `"7"`},
		{"PUT", "/api/docs/" + doc.ID, "text/plain", "y", 400, `"seven"`},
		{"PUT", "/api/docs/" + doc.ID, "application/x-www-form-urlencoded", "text=y", 415, ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		if tc.ifMatch != "" {
			req.Header.Set("If-Match", tc.ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" || p["type"] == nil || p["code"] == nil {
			t.Errorf("%s %s: %s %s %v, want %d problem", tc.method, tc.path, resp.Status, resp.Header.Get("Content-Type"), p, tc.status)
		}
	}
}

// TestRESTCaching: ETags change whenever what they tag does, past
// revisions are immutable for the caller only, and the two diff formats
// of one URL are cached apart.
func TestRESTCaching(t *testing.T) { forBackends(t, testRESTCaching) }

func testRESTCaching(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	api := apiClient{t, base}
	doc := createFull(t, base, `{"name":"a.go","text":"one\n"}`)
	path := "/api/docs/" + doc.ID
	get := func(p string, hdr map[string]string) *http.Response { return api.call("GET", p, nil, hdr, nil) }
	quoted := func(tag string) bool {
		return len(tag) > 2 && strings.Count(tag, `"`) == 2 && tag[0] == '"' && tag[len(tag)-1] == '"'
	}

	head := get(path, nil)
	tag := head.Header.Get("ETag")
	if !quoted(tag) || !strings.Contains(head.Header.Get("Cache-Control"), "no-cache") {
		t.Fatalf("head: %q %q", tag, head.Header.Get("Cache-Control"))
	}
	for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag} {
		if r := get(path, map[string]string{"If-None-Match": inm}); r.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %s", inm, r.Status)
		}
	}
	// A rename changes the document's ETag (its name is in the body).
	api.call("PATCH", path, map[string]string{"name": "b.go"}, nil, nil)
	var d docBody
	if r := api.call("GET", path, nil, map[string]string{"If-None-Match": tag}, &d); r.StatusCode != 200 || d.Name != "b.go" {
		t.Fatalf("after rename: %s %+v", r.Status, d)
	}
	// Any ETag of the document works as If-Match; so does *.
	tag = get(path, nil).Header.Get("ETag")
	if r := api.call("PUT", path, "two\n", map[string]string{"If-Match": tag}, nil); r.StatusCode != 200 {
		t.Fatalf("If-Match with the GET's ETag: %s", r.Status)
	}
	if r := api.call("PUT", path, "three\n", map[string]string{"If-Match": "*"}, nil); r.StatusCode != 200 {
		t.Fatalf("If-Match *: %s", r.Status)
	}
	if r := api.call("PUT", path, "four\n", map[string]string{"If-Match": tag}, nil); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("If-Match with a stale ETag: %s", r.Status)
	}

	// Past revisions: immutable, but never in shared caches (the URL holds
	// a link, which rotation revokes).
	for _, p := range []string{path + "?rev=1", path + "/raw?rev=1", path + "/diff?from=1&to=2"} {
		r := get(p, nil)
		cc := r.Header.Get("Cache-Control")
		if !strings.Contains(cc, "immutable") || !strings.Contains(cc, "private") || strings.Contains(cc, "public") || !quoted(r.Header.Get("ETag")) {
			t.Errorf("%s: Cache-Control %q, ETag %q", p, cc, r.Header.Get("ETag"))
		}
	}
	// A past revision and its blame show their authors' names, which
	// change: revalidated with their ETag, and still for the caller only.
	for _, p := range []string{path + "/revisions/1", path + "/blame?rev=1"} {
		r := get(p, nil)
		cc, tag := r.Header.Get("Cache-Control"), r.Header.Get("ETag")
		if !strings.Contains(cc, "no-cache") || !strings.Contains(cc, "private") || !quoted(tag) {
			t.Errorf("%s: Cache-Control %q, ETag %q", p, cc, tag)
		}
		if r := get(p, map[string]string{"If-None-Match": tag}); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %s", p, r.Status)
		}
	}
	// A diff to the head changes with the head: not immutable.
	toHead := get(path+"/diff?from=1", nil)
	if cc := toHead.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Fatalf("diff to the head: %q", cc)
	}
	putText(t, base, doc.ID, "five\n")
	if r := get(path+"/diff?from=1", map[string]string{"If-None-Match": toHead.Header.Get("ETag")}); r.StatusCode != 200 {
		t.Fatalf("diff to a newer head: %s", r.Status)
	}
	// One diff URL, two formats: two tags, and Vary: Accept.
	asOp := get(path+"/diff?from=1&to=2", nil)
	asText := get(path+"/diff?from=1&to=2", map[string]string{"Accept": "text/x-diff", "If-None-Match": asOp.Header.Get("ETag")})
	if asText.StatusCode != 200 || !strings.HasPrefix(asText.Header.Get("Content-Type"), "text/x-diff") || !strings.Contains(asText.Header.Get("Vary"), "Accept") {
		t.Fatalf("unified diff after the op's ETag: %s %v", asText.Status, asText.Header)
	}
}

// TestLanguageIsCheckedOnCreateAsOnPatch: POST /api/docs took a 100 KB
// language that PATCH refuses; both apply the same check now.
func TestLanguageIsCheckedOnCreateAsOnPatch(t *testing.T) {
	forBackends(t, testLanguageIsCheckedOnCreateAsOnPatch)
}

func testLanguageIsCheckedOnCreateAsOnPatch(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	api := apiClient{t, base}
	ok, long, huge := strings.Repeat("l", 64), strings.Repeat("l", 65), strings.Repeat("l", 100_000)
	for _, lang := range []string{long, huge} {
		if r := api.call("POST", "/api/docs", map[string]string{"name": "a.txt", "text": "x", "language": lang}, nil, nil); r.StatusCode != 400 {
			t.Errorf("create with a %d-byte language: %s, want 400", len(lang), r.Status)
		}
	}
	if r := api.call("POST", "/api/docs?name=b.txt&language="+long, "x", nil, nil); r.StatusCode != 400 {
		t.Errorf("raw create with a %d-byte language: %s, want 400", len(long), r.Status)
	}
	var doc created
	if r := api.call("POST", "/api/docs", map[string]string{"name": "c.txt", "text": "x", "language": ok}, nil, &doc); r.StatusCode != 201 {
		t.Fatalf("create with a %d-byte language: %s", len(ok), r.Status)
	}
	if r := api.call("PATCH", "/api/docs/"+doc.ID, map[string]string{"language": long}, nil, nil); r.StatusCode != 400 {
		t.Errorf("patch with a %d-byte language: %s, want 400", len(long), r.Status)
	}
	if r := api.call("PATCH", "/api/docs/"+doc.ID, map[string]string{"language": ok}, nil, nil); r.StatusCode != 200 {
		t.Errorf("patch with a %d-byte language: %s", len(ok), r.Status)
	}
}

// TestBodyNamesAreCaseSensitive sends JSON bodies whose member names differ
// from the API's only in case: encoding/json would take them, the API (and
// its OpenAPI document) does not. Found by FuzzREST once its answers were
// checked against the document.
func TestBodyNamesAreCaseSensitive(t *testing.T) { forBackends(t, testBodyNamesAreCaseSensitive) }

func testBodyNamesAreCaseSensitive(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":"package a\n"}`)
	id := "/api/docs/" + doc.ID
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/docs", `{"NAME":"b.go","text":"x"}`, http.StatusBadRequest},
		{"POST", "/api/docs", `{"name":"b.go","Text":"x"}`, http.StatusBadRequest},
		{"PUT", id, `{"TEXT":"y"}`, http.StatusBadRequest},
		{"PATCH", id, `{"settings":{"ViewerEvents":true}}`, http.StatusBadRequest},
		{"POST", id + "/labels", `{"REV":1,"name":"v1"}`, http.StatusBadRequest},
		{"POST", id + "/restore", `{"Rev":1}`, http.StatusBadRequest},
		{"POST", id + "/events", `{"name":"x","TO":["u1"]}`, http.StatusBadRequest},
		{"POST", id + "/embed-tokens", `{"Role":"view"}`, http.StatusBadRequest},
		// The exact names still work.
		{"POST", "/api/docs", `{"name":"b.go","text":"x"}`, http.StatusCreated},
		{"PUT", id, `{"text":"y"}`, http.StatusOK},
		{"PATCH", id, `{"settings":{"viewerEvents":true}}`, http.StatusOK},
		{"POST", id + "/labels", `{"rev":1,"name":"v1"}`, http.StatusCreated},
		{"POST", id + "/embed-tokens", `{"role":"view"}`, http.StatusCreated},
	} {
		status, got := postJSON(t, c.method, base+c.path, adminToken, c.body)
		if status != c.want {
			t.Errorf("%s %s %s: %d %v, want %d", c.method, c.path, c.body, status, got, c.want)
			continue
		}
		if c.want == http.StatusBadRequest && (got["code"] != "bad_request" || !strings.Contains(fmt.Sprint(got["detail"]), "case-sensitive")) {
			t.Errorf("%s %s %s: %v, want a bad_request naming the case", c.method, c.path, c.body, got)
		}
	}
}
