package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/collab-editor/collab/internal/jwttest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// The tests of tokens: a host application (host) mints them with a stock
// JWT library, as hosts do, and uses them on a real server over REST,
// WebSockets and embed URLs.

const (
	hostSecret = "the host's secret, shared with collab: 32+ bytes"
	hostIssuer = "https://host.example"
)

// host is a host application with users of its own. It signs tokens with
// the secret it shares with collab, or with its own keys, whose public
// halves it publishes as a JWK Set on loopback.
type host struct {
	t          *testing.T
	clock      *testClock
	srv        *Server
	base       string // collab
	rs, es, ed jwttest.Key
	jwks       *jwttest.JWKS
}

// newHost starts a JWK Set with an RS256, an ES256 and an EdDSA key, and
// a collab server that takes the host's tokens (cfg's other fields kept).
func newHost(t *testing.T, cfg Config) *host { return newHostOn(t, localBackend, cfg) }

// newHostOn is newHost on the backend's documents.
func newHostOn(t *testing.T, bk backend, cfg Config) *host {
	h := &host{t: t, clock: newTestClock(), jwks: jwttest.NewJWKS(t)}
	h.rs, h.es, h.ed = jwttest.NewRSA(t, "rsa-2026"), jwttest.NewEC(t, "ec-2026"), jwttest.NewEd(t, "ed-2026")
	h.jwks.Serve(h.rs, h.es, h.ed)
	cfg.APIToken = adminToken
	cfg.JWTSecret, cfg.JWKSURL, cfg.JWTIssuer, cfg.JWTAudience = hostSecret, h.jwks.URL, hostIssuer, "collab"
	cfg.Now, cfg.AfterFunc = h.clock.Now, h.clock.AfterFunc
	h.srv, h.base = bk.testServer(t, cfg)
	return h
}

// claims are a token's claims: an editor of scope ("doc" or "workspace":
// handle) valid for an hour from now, with extra's changes (nil deletes).
func (h *host) claims(scope, handle string, extra jwt.MapClaims) jwt.MapClaims {
	now := h.clock.Now()
	return jwttest.Claims(jwt.MapClaims{scope: handle, "sub": "host-user-7", "name": "Ann", "role": "edit",
		"iss": hostIssuer, "aud": "collab", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, extra)
}

// sign signs c with k, or with the shared secret (HS256) for a zero k.
func (h *host) sign(k jwttest.Key, c jwt.MapClaims) string {
	h.t.Helper()
	if k.Method != nil {
		return k.Sign(h.t, c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(hostSecret))
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// doc creates a document in workspace (an edit link, or "" for a new one)
// and returns it with its handles.
func (h *host) doc(name, text, workspace string) (c created, handle, wsHandle string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "text": text, "workspace": workspace})
	c = createFull(h.t, h.base, string(body))
	var v struct{ Handle, WorkspaceHandle string }
	getJSON(h.t, h.base, "/api/docs/"+c.Links.Edit, &v)
	if !strings.HasPrefix(v.Handle, "d-") || !strings.HasPrefix(v.WorkspaceHandle, "w-") {
		h.t.Fatalf("handles %+v", v)
	}
	return c, v.Handle, v.WorkspaceHandle
}

// call sends a request with bearer (a token, or "") in Authorization and
// returns the status, the decoded answer and the headers.
func call(t *testing.T, method, url, bearer, ctype, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

// dialToken opens a document's WebSocket with a token in the query
// (bearer "") or in Authorization; on a refused upgrade it returns the
// HTTP status.
func dialToken(t *testing.T, base, id, query, bearer string) (*rawConn, int) {
	t.Helper()
	hdr := http.Header{}
	if bearer != "" {
		hdr.Set("Authorization", "Bearer "+bearer)
	}
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/docs/"+id+"/ws"+query, hdr)
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}, http.StatusSwitchingProtocols
}

// TestTokensOnRESTWebSocketAndEmbed: tokens signed with each accepted
// algorithm (HS256 with the shared secret; RS256, ES256 and EdDSA with
// keys of the JWK Set) grant their document over REST (Authorization:
// Bearer or ?token=), over the WebSocket (either), and on the embed page;
// the token's name and subject are the session's name and author.
func TestTokensOnRESTWebSocketAndEmbed(t *testing.T) {
	h := newHost(t, Config{})
	doc, handle, _ := h.doc("main.go", "package main\n", "")
	var author string
	for _, k := range []jwttest.Key{{}, h.rs, h.es, h.ed} {
		name := "HS256"
		if k.Method != nil {
			name = k.Method.Alg()
		}
		tok := h.sign(k, h.claims("doc", handle, nil))
		st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle, tok, "", "")
		if st != 200 || body["id"] != handle || body["links"] != nil || body["handle"] != handle {
			t.Fatalf("%s: GET with Authorization: %d %v", name, st, body)
		}
		if b, _ := json.Marshal(body); strings.Contains(string(b), doc.Links.Edit) || strings.Contains(string(b), doc.Links.View) {
			t.Fatalf("%s: a token's answer shows a link: %s", name, b)
		}
		if st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle+"/raw?token="+tok, "", "", ""); st != 200 {
			t.Fatalf("%s: GET with ?token=: %d %v", name, st, body)
		}
		if st, body, _ := call(t, "PUT", h.base+"/api/docs/"+handle, tok, "text/plain", "package main // "+name+"\n"); st != 200 {
			t.Fatalf("%s: PUT: %d %v", name, st, body)
		}
		for _, via := range []string{"query", "header"} {
			var r *rawConn
			var st int
			if via == "query" {
				r, st = dialToken(t, h.base, handle, "?token="+tok, "")
			} else {
				r, st = dialToken(t, h.base, handle, "", tok)
			}
			if r == nil {
				t.Fatalf("%s: WebSocket with the token in the %s: %d", name, via, st)
			}
			r.send(`{"type":"join","name":"Mallory","author":"someone-elses-secret-0123"}`)
			j := r.next("joined")
			if j["readOnly"] != false || j["doc"].(map[string]any)["id"] != handle {
				t.Fatalf("%s: joined %v", name, j)
			}
			for _, u := range j["users"].([]any) {
				if u.(map[string]any)["name"] != "Ann" {
					t.Fatalf("%s: the token's name was not the session's: %v", name, u)
				}
			}
			// One subject, one author, whichever key signed the token.
			if author == "" {
				author, _ = j["author"].(string)
			}
			if j["author"] != author || !authorIDs.MatchString(author) {
				t.Fatalf("%s: author %v, want %s", name, j["author"], author)
			}
			r.c.Close()
		}
		resp := do(t, "GET", h.base+"/embed/"+handle+"?token="+tok, "", "", "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: the embed page: %s", name, resp.Status)
		}
	}
	if text, _ := restText(t, h.base, doc.Links.Edit); text != "package main // EdDSA\n" {
		t.Fatalf("text %q", text)
	}
	// The REST edits are the subject's, under the token's name.
	hist := readHistory(t, h.base, doc.Links.Edit)
	if len(hist.Revisions) != 5 || hist.Revisions[4].Author != author || hist.Authors[author].Name != "Ann" {
		t.Fatalf("history %+v, want the last revisions by %s (Ann)", hist, author)
	}
	if n := h.jwks.Fetches(); n != 1 {
		t.Errorf("the JWK Set was fetched %d times, want once (at start): keys are cached", n)
	}
}

// TestTokensRefused: expired, not yet valid, wrong audience or issuer,
// wrong key, unknown key, alg none, HS256 signed with the JWK Set's public
// key, and tampered tokens are refused (401 with a code) on REST and
// WebSocket, and change nothing.
func TestTokensRefused(t *testing.T) {
	h := newHost(t, Config{})
	doc, handle, _ := h.doc("a.go", "x", "")
	now := h.clock.Now()
	c := func(extra jwt.MapClaims) jwt.MapClaims { return h.claims("doc", handle, extra) }
	impostor, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(h.rs.Priv.Public())
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, c(nil))
	confused.Header["kid"] = h.rs.Kid
	confusedTok, _ := confused.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	valid := h.sign(h.es, c(nil))
	parts := strings.Split(valid, ".")
	raised, _ := json.Marshal(c(jwt.MapClaims{"role": "owner"}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raised) + "." + parts[2]
	for _, tc := range []struct{ name, token, code string }{
		{"expired", h.sign(h.rs, c(jwt.MapClaims{"exp": now.Add(-time.Second).Unix()})), "token_expired"},
		{"not yet valid", h.sign(h.es, c(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), "token_not_yet_valid"},
		{"without exp", h.sign(h.ed, c(jwt.MapClaims{"exp": nil})), "invalid_token"},
		{"wrong audience", h.sign(h.rs, c(jwt.MapClaims{"aud": "another-app"})), "invalid_token"},
		{"wrong issuer", h.sign(jwttest.Key{}, c(jwt.MapClaims{"iss": "https://evil.example"})), "invalid_token"},
		{"wrong key", h.sign(jwttest.Key{Kid: h.rs.Kid, Method: jwt.SigningMethodRS256, Priv: impostor}, c(nil)), "invalid_token"},
		{"unknown key", h.sign(jwttest.Key{Kid: "not-published", Method: jwt.SigningMethodRS256, Priv: impostor}, c(nil)), "invalid_token"},
		{"wrong secret", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c(nil)).SignedString([]byte("a guessed secret, 32 bytes long ......"))
			return s
		}(), "invalid_token"},
		{"alg none", none, "invalid_token"},
		{"HS256 signed with the public key", confusedTok, "invalid_token"},
		{"tampered", tampered, "invalid_token"},
		{"a link as a token", doc.Links.Edit, "invalid_token"},
	} {
		for _, via := range []string{"header", "query"} {
			url, bearer := h.base+"/api/docs/"+handle, tc.token
			if via == "query" {
				url, bearer = url+"?token="+tc.token, ""
			}
			if via == "header" && tc.name == "a link as a token" {
				continue // not shaped like a JWT: no credential in a header (see auth.go)
			}
			st, body, hdr := call(t, "PUT", url, bearer, "text/plain", "hacked")
			if st != 401 || body["code"] != tc.code || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s in the %s: PUT %d %v", tc.name, via, st, body)
			}
			q := ""
			if via == "query" {
				q = "?token=" + tc.token
			}
			if r, st := dialToken(t, h.base, handle, q, bearer); r != nil || st != 401 {
				t.Errorf("%s in the %s: WebSocket %d", tc.name, via, st)
			}
		}
	}
	if text, _ := restText(t, h.base, doc.Links.Edit); text != "x" {
		t.Fatalf("a refused token changed the document: %q", text)
	}
	if st, _, _ := call(t, "PUT", h.base+"/api/docs/"+handle, valid, "text/plain", "y"); st != 200 {
		t.Fatalf("the valid token: %d", st)
	}
}

// TestTokenKeyRotation: the host publishes a new key and withdraws the
// old one; without a restart, tokens of the new key are taken at once and
// tokens of the old one refused.
func TestTokenKeyRotation(t *testing.T) {
	h := newHost(t, Config{})
	_, handle, _ := h.doc("a.go", "", "")
	old := h.sign(h.rs, h.claims("doc", handle, nil))
	if st, _, _ := call(t, "GET", h.base+"/api/docs/"+handle, old, "", ""); st != 200 {
		t.Fatalf("the old key: %d", st)
	}
	next := jwttest.NewEC(t, "ec-2027")
	h.jwks.Serve(next)
	if st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle, h.sign(next, h.claims("doc", handle, nil)), "", ""); st != 200 {
		t.Fatalf("the new key: %d %v", st, body)
	}
	if st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle, old, "", ""); st != 401 || body["code"] != "invalid_token" {
		t.Fatalf("the withdrawn key: %d %v", st, body)
	}
	if n := h.jwks.Fetches(); n != 2 {
		t.Errorf("%d fetches of the JWK Set, want 2 (at start, and for the new kid)", n)
	}
}

// TestTokenScopes: a token grants its document, or its workspace's
// documents and routes, in its role, and nothing else.
func TestTokenScopes(t *testing.T) {
	h := newHost(t, Config{})
	a1, a1h, wsA := h.doc("one.go", "one", "")
	a2, a2h, _ := h.doc("two.go", "two", a1.WorkspaceLinks.Edit)
	b1, b1h, wsB := h.doc("other.go", "other", "")
	docTok := h.sign(h.rs, h.claims("doc", a1h, nil))
	viewTok := h.sign(h.es, h.claims("doc", a1h, jwt.MapClaims{"role": "view"}))
	wsTok := h.sign(h.ed, h.claims("workspace", wsA, nil))
	wsViewTok := h.sign(jwttest.Key{}, h.claims("workspace", wsA, jwt.MapClaims{"role": "view"}))

	for _, tc := range []struct {
		name, method, path, token, ctype, body string
		want                                   int
	}{
		// A document's token on another document, or naming its own by
		// something else than its handle.
		{"doc token on another doc", "GET", "/api/docs/" + a2h, docTok, "", "", 403},
		{"doc token on another workspace's doc", "GET", "/api/docs/" + b1h, docTok, "", "", 403},
		{"doc token with the edit link", "GET", "/api/docs/" + a1.Links.Edit, docTok, "", "", 403},
		{"doc token with the view link", "GET", "/api/docs/" + a1.Links.View, docTok, "", "", 403},
		{"doc token with the internal id", "GET", "/api/docs/" + a1.ID, docTok, "", "", 403},
		{"doc token with the workspace handle", "GET", "/api/docs/" + wsA, docTok, "", "", 403},
		{"doc token on its workspace's files", "GET", "/api/workspaces/" + wsA + "/files", docTok, "", "", 403},
		{"doc token creating in its workspace", "POST", "/api/docs", docTok, "application/json", `{"name":"x.go","text":"","workspace":"` + wsA + `"}`, 403},
		{"doc token", "GET", "/api/docs/" + a1h, docTok, "", "", 200},
		// A view token reads and never writes.
		{"view token reading", "GET", "/api/docs/" + a1h + "/revisions", viewTok, "", "", 200},
		{"view token writing", "PUT", "/api/docs/" + a1h, viewTok, "text/plain", "hacked", 403},
		{"view token restoring", "POST", "/api/docs/" + a1h + "/restore", viewTok, "application/json", `{"rev":0}`, 403},
		{"view token's settings", "PATCH", "/api/docs/" + a1h, viewTok, "application/json", `{"settings":{"viewerEvents":true}}`, 403},
		{"view token labelling", "POST", "/api/docs/" + a1h + "/labels", viewTok, "application/json", `{"rev":1,"name":"v1"}`, 403},
		{"view token's events", "POST", "/api/docs/" + a1h + "/events", viewTok, "application/json", `{"name":"x"}`, 403},
		// A workspace's token: every document of the workspace, no other.
		{"workspace token on its doc", "PUT", "/api/docs/" + a2h, wsTok, "text/plain", "two!", 200},
		{"workspace token on another workspace's doc", "GET", "/api/docs/" + b1h, wsTok, "", "", 403},
		{"workspace token on another workspace", "GET", "/api/workspaces/" + wsB + "/files", wsTok, "", "", 403},
		{"workspace token with the workspace's link", "GET", "/api/workspaces/" + a1.WorkspaceLinks.View + "/files", wsTok, "", "", 403},
		{"workspace token creating elsewhere", "POST", "/api/docs", wsTok, "application/json", `{"name":"x.go","text":"","workspace":"` + wsB + `"}`, 403},
		{"workspace view token writing", "PUT", "/api/docs/" + a2h, wsViewTok, "text/plain", "hacked", 403},
		{"workspace view token creating", "POST", "/api/docs", wsViewTok, "application/json", `{"name":"x.go","text":"","workspace":"` + wsA + `"}`, 403},
		// Administrative routes take the API token only.
		{"workspace token listing all", "GET", "/api/docs", wsTok, "", "", 401},
		{"workspace token minting", "POST", "/api/docs/" + a1h + "/embed-tokens", wsTok, "application/json", `{"role":"owner"}`, 401},
		{"workspace token rotating", "POST", "/api/docs/" + a1h + "/rotate", wsTok, "", "", 401},
	} {
		st, body, _ := call(t, tc.method, h.base+tc.path, tc.token, tc.ctype, tc.body)
		if st != tc.want {
			t.Errorf("%s: %s %s: %d %v, want %d", tc.name, tc.method, tc.path, st, body, tc.want)
		}
		if tc.want == 403 && body["code"] != "forbidden" {
			t.Errorf("%s: code %v", tc.name, body["code"])
		}
	}
	// Over the WebSocket: another document is refused at the upgrade, and
	// a view token's session is read-only.
	if r, st := dialToken(t, h.base, a2h, "?token="+docTok, ""); r != nil || st != 403 {
		t.Errorf("doc token on another doc's WebSocket: %d", st)
	}
	if r, st := dialToken(t, h.base, b1h, "?token="+wsTok, ""); r != nil || st != 403 {
		t.Errorf("workspace token on another workspace's doc's WebSocket: %d", st)
	}
	v, _ := dialToken(t, h.base, a1h, "?token="+viewTok, "")
	v.send(`{"type":"join","client":"viewer-0123456789"}`)
	if j := v.next("joined"); j["readOnly"] != true {
		t.Fatalf("a view token's session: %v", j)
	}
	v.send(`{"type":"op","rev":1,"id":"viewer-0123456789:1","op":[3,"!"]}`)
	if e := v.next("error"); e["code"] != "read_only" {
		t.Fatalf("an op with a view token: %v", e)
	}
	w, _ := dialToken(t, h.base, a1h, "", wsTok)
	w.send(`{"type":"join","client":"ws-editor-0123456789"}`)
	w.next("joined")
	w.send(`{"type":"op","rev":1,"id":"ws-editor-0123456789:1","op":[3,"!"]}`)
	w.next("ack")

	// The workspace's files, as its token sees them: handles, no links.
	st, files, _ := call(t, "GET", h.base+"/api/workspaces/"+wsA+"/files", wsTok, "", "")
	if st != 200 || files["handle"] != wsA {
		t.Fatalf("files: %d %v", st, files)
	}
	if b, _ := json.Marshal(files); strings.Contains(string(b), `"links"`) || strings.Contains(string(b), a1.Links.View) || strings.Contains(string(b), a1.WorkspaceLinks.View) {
		t.Fatalf("a token's listing shows links: %s", b)
	}
	ids := map[string]bool{}
	for _, f := range files["files"].([]any) {
		ids[f.(map[string]any)["id"].(string)] = true
	}
	if len(ids) != 2 || !ids[a1h] || !ids[a2h] {
		t.Fatalf("files %v, want %s and %s", ids, a1h, a2h)
	}
	// An editor of the workspace adds a file: it is answered by handle.
	st, made, hdr := call(t, "POST", h.base+"/api/docs", wsTok, "application/json", `{"name":"three.go","text":"3","workspace":"`+wsA+`"}`)
	if st != 201 || made["workspaceLinks"] != nil || made["links"] != nil || !strings.HasPrefix(made["id"].(string), "d-") || hdr.Get("Location") != "/api/docs/"+made["id"].(string) {
		t.Fatalf("a file made with a workspace token: %d %v", st, made)
	}
	if st, _, _ := call(t, "GET", h.base+"/api/docs/"+made["id"].(string), wsTok, "", ""); st != 200 {
		t.Fatalf("the new file with the token: %d", st)
	}
	var listed struct{ Files []docView }
	getJSON(t, h.base, "/api/workspaces/"+a1.WorkspaceLinks.Edit+"/files", &listed)
	if len(listed.Files) != 3 {
		t.Fatalf("the workspace after a token's file: %+v", listed.Files)
	}
	for id, want := range map[string]string{a1.Links.Edit: "one!", a2.Links.Edit: "two!", b1.Links.Edit: "other"} {
		if text, _ := restText(t, h.base, id); text != want {
			t.Errorf("text %q, want %q", text, want)
		}
	}
}

// TestTokenFixesNameAndData: the token's name cannot be changed by the
// session, and the app data keys it sets stay as it sets them.
func TestTokenFixesNameAndData(t *testing.T) {
	h := newHost(t, Config{})
	_, handle, _ := h.doc("a.go", "", "")
	tok := h.sign(h.ed, h.claims("doc", handle, jwt.MapClaims{"name": "Stu", "data": map[string]any{"role": "student"}}))
	r, _ := dialToken(t, h.base, handle, "?token="+tok, "")
	r.send(`{"type":"join","client":"stu-0123456789abcdef","name":"Teacher","data":{"role":"teacher","status":"new"}}`)
	j := r.next("joined")
	me := j["users"].([]any)[0].(map[string]any)
	if d, _ := json.Marshal(me["data"]); me["name"] != "Stu" || string(d) != `{"role":"student","status":"new"}` {
		t.Fatalf("joined as %v", me)
	}
	r.send(`{"type":"profile","name":"Teacher"}`)
	if e := r.next("error"); e["code"] != "invalid" {
		t.Fatalf("a new name: %v", e)
	}
	r.send(`{"type":"profile","data":{"role":"teacher"}}`)
	if e := r.next("error"); e["code"] != "invalid" {
		t.Fatalf("new data: %v", e)
	}
	// Claims no session could carry are refused at the door.
	for _, bad := range []jwt.MapClaims{{"name": "a\u0000b"}, {"name": strings.Repeat("n", 65)}, {"data": map[string]any{"x": strings.Repeat("x", 2000)}}} {
		if st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle, h.sign(jwttest.Key{}, h.claims("doc", handle, bad)), "", ""); st != 401 || body["code"] != "invalid_token" {
			t.Errorf("claims %v: %d %v", bad, st, body)
		}
	}
}

// TestTokenExpiryClosesSession: a session is closed (4003) when its
// token expires on the server's clock, not before, and the token is
// refused from then on.
func TestTokenExpiryClosesSession(t *testing.T) {
	h := newHost(t, Config{})
	_, handle, _ := h.doc("a.go", "", "")
	exp := h.clock.Now().Add(time.Minute)
	tok := h.sign(h.rs, h.claims("doc", handle, jwt.MapClaims{"exp": exp.Unix()}))
	r, st := dialToken(t, h.base, handle, "?token="+tok, "")
	if r == nil {
		t.Fatalf("before the expiry: %d", st)
	}
	r.send(`{"type":"join","client":"expiring-0123456789"}`)
	r.next("joined")
	// A moment before the expiry the session still works.
	h.clock.Set(exp.Add(-time.Millisecond))
	r.send(`{"type":"op","rev":0,"id":"expiring-0123456789:1","op":["x"]}`)
	r.next("ack")
	h.clock.Set(exp)
	if code := r.closeCode(); code != closeForbidden {
		t.Fatalf("the session at expiry: close %d, want %d", code, closeForbidden)
	}
	if st, body, _ := call(t, "GET", h.base+"/api/docs/"+handle, tok, "", ""); st != 401 || body["code"] != "token_expired" {
		t.Fatalf("after the expiry: %d %v", st, body)
	}
}

// TestOwners: owners (an owner token, a workspace's edit link, the API
// token) rename, move and delete the workspace's files; editors and
// viewers do not.
func TestOwners(t *testing.T) {
	h := newHost(t, Config{})
	a, ah, ws := h.doc("src/a.go", "a", "")
	b, bh, _ := h.doc("b.go", "b", a.WorkspaceLinks.Edit)
	_, ch, _ := h.doc("c.go", "c", a.WorkspaceLinks.Edit)
	other, otherH, _ := h.doc("other.go", "o", "")
	owner := h.sign(h.rs, h.claims("workspace", ws, jwt.MapClaims{"role": "owner"}))
	editor := h.sign(h.rs, h.claims("workspace", ws, nil))
	docOwner := h.sign(jwttest.Key{}, h.claims("doc", ch, jwt.MapClaims{"role": "owner"}))
	wsEdit, wsView := a.WorkspaceLinks.Edit, a.WorkspaceLinks.View

	// What is refused: 403 forbidden, and nothing changes.
	for _, tc := range []struct{ name, method, path, token, body string }{
		{"editor renaming", "PATCH", "/api/docs/" + ah, editor, `{"name":"x.go"}`},
		{"editor deleting", "DELETE", "/api/docs/" + ah, editor, ""},
		{"editor renaming on the workspace", "PATCH", "/api/workspaces/" + ws + "/files/" + ah, editor, `{"name":"x.go"}`},
		{"editor deleting on the workspace", "DELETE", "/api/workspaces/" + ws + "/files/" + ah, editor, ""},
		{"document owner deleting another", "DELETE", "/api/docs/" + bh, docOwner, ""},
		{"document owner on the workspace", "DELETE", "/api/workspaces/" + ws + "/files/" + ch, docOwner, ""},
		{"document edit link deleting", "DELETE", "/api/docs/" + a.Links.Edit, "", ""},
		{"document view link deleting", "DELETE", "/api/docs/" + a.Links.View, "", ""},
		{"workspace view link deleting", "DELETE", "/api/workspaces/" + wsView + "/files/" + a.Links.View, "", ""},
		{"workspace view link renaming", "PATCH", "/api/workspaces/" + wsView + "/files/" + a.Links.View, "", `{"name":"x.go"}`},
	} {
		st, body, _ := call(t, tc.method, h.base+tc.path, tc.token, "application/json", tc.body)
		if st != 403 || body["code"] != "forbidden" {
			t.Errorf("%s: %d %v", tc.name, st, body)
		}
	}
	// A file of another workspace is not found through this one.
	for _, path := range []string{"/api/workspaces/" + ws + "/files/" + otherH, "/api/workspaces/" + wsEdit + "/files/" + other.Links.Edit} {
		tok := owner
		if strings.Contains(path, wsEdit) {
			tok = ""
		}
		if st, body, _ := call(t, "DELETE", h.base+path, tok, "", ""); st != 404 || body["code"] != "not_found" {
			t.Errorf("DELETE %s: %d %v", path, st, body)
		}
	}
	names := func() string {
		var files struct{ Files []docView }
		getJSON(t, h.base, "/api/workspaces/"+wsEdit+"/files", &files)
		var out []string
		for _, f := range files.Files {
			out = append(out, f.Name)
		}
		return strings.Join(out, " ")
	}
	if got := names(); got != "b.go c.go src/a.go" {
		t.Fatalf("after the refusals: %s", got)
	}

	// An owner token renames, moves and deletes, on the document's routes
	// and on the workspace's.
	live, _ := dialToken(t, h.base, bh, "?token="+owner, "")
	live.send(`{"type":"join"}`)
	live.next("joined")
	if st, body, _ := call(t, "PATCH", h.base+"/api/docs/"+ah, owner, "application/json", `{"name":"lib/a.go"}`); st != 200 || body["name"] != "lib/a.go" || body["role"] != "owner" {
		t.Fatalf("owner renaming: %d %v", st, body)
	}
	if st, body, _ := call(t, "PATCH", h.base+"/api/workspaces/"+ws+"/files/"+bh, owner, "application/json", `{"name":"docs/b.md"}`); st != 200 || body["name"] != "docs/b.md" || body["id"] != bh {
		t.Fatalf("owner moving on the workspace: %d %v", st, body)
	}
	if m := live.next("meta"); m["doc"].(map[string]any)["name"] != "docs/b.md" {
		t.Fatalf("the moved file's session: %v", m)
	}
	if st, body, _ := call(t, "PATCH", h.base+"/api/workspaces/"+ws+"/files/"+bh, owner, "application/json", `{"name":"lib/a.go"}`); st != 409 || body["code"] != "conflict" {
		t.Fatalf("moving onto another file: %d %v", st, body)
	}
	if st, body, _ := call(t, "DELETE", h.base+"/api/docs/"+bh, owner, "", ""); st != 204 {
		t.Fatalf("owner deleting: %d %v", st, body)
	}
	if code := live.closeCode(); code != closeDeleted {
		t.Fatalf("the deleted file's session: close %d", code)
	}
	if got := names(); got != "c.go lib/a.go" {
		t.Fatalf("after the owner: %s", got)
	}
	// A document's owner token deletes its document.
	if st, body, _ := call(t, "DELETE", h.base+"/api/docs/"+ch, docOwner, "", ""); st != 204 {
		t.Fatalf("document owner deleting: %d %v", st, body)
	}
	// The workspace's edit link is its owner: on the workspace's routes,
	// naming its files by the links its listing shows.
	if st, body, _ := call(t, "PATCH", h.base+"/api/workspaces/"+wsEdit+"/files/"+a.Links.Edit, "", "application/json", `{"name":"main.go"}`); st != 200 || body["name"] != "main.go" || body["id"] != a.Links.Edit {
		t.Fatalf("the workspace's edit link renaming: %d %v", st, body)
	}
	if st, body, _ := call(t, "DELETE", h.base+"/api/workspaces/"+wsEdit+"/files/"+a.Links.Edit, "", "", ""); st != 204 {
		t.Fatalf("the workspace's edit link deleting: %d %v", st, body)
	}
	if got := names(); got != "" {
		t.Fatalf("after the edit link: %q", got)
	}
	if st, _, _ := call(t, "GET", h.base+"/api/docs/"+b.Links.Edit, "", "", ""); st != 404 {
		t.Fatalf("a deleted file: %d", st)
	}
	if text, _ := restText(t, h.base, other.Links.Edit); text != "o" {
		t.Fatalf("the other workspace's file: %q", text)
	}
}

// TestServerMintedTokens: POST /api/docs/{id}/embed-tokens and POST
// /api/workspaces/{ws}/embed-tokens mint the same JWTs a host would
// (HS256, readable with any JWT library and the shared secret); without a
// configured secret the server signs with a key of its own, and only its
// tokens are taken.
func TestServerMintedTokens(t *testing.T) {
	h := newHost(t, Config{})
	doc, handle, ws := h.doc("a.go", "", "")
	st, out, _ := call(t, "POST", h.base+"/api/docs/"+doc.Links.Edit+"/embed-tokens", adminToken, "application/json",
		`{"role":"view","name":"Guest","subject":"u-1","data":{"seat":3},"ttlSeconds":600}`)
	if st != 201 || out["handle"] != handle || out["url"] != "/embed/"+handle+"?token="+out["token"].(string) {
		t.Fatalf("mint: %d %v", st, out)
	}
	var claims jwt.MapClaims
	if _, err := jwt.ParseWithClaims(out["token"].(string), &claims, func(*jwt.Token) (any, error) { return []byte(hostSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(h.clock.Now), jwt.WithIssuer(hostIssuer), jwt.WithAudience("collab")); err != nil {
		t.Fatalf("the host reads the server's token: %v", err)
	}
	exp, _ := claims.GetExpirationTime()
	if claims["doc"] != handle || claims["role"] != "view" || claims["sub"] != "u-1" || claims["name"] != "Guest" || !exp.Equal(h.clock.Now().Add(10*time.Minute).Truncate(time.Second)) {
		t.Fatalf("claims %v", claims)
	}
	if b, _ := json.Marshal(claims); strings.Contains(string(b), doc.ID) || strings.Contains(string(b), doc.Links.View) {
		t.Fatalf("the token shows the id or a link: %s", b)
	}
	st, out, _ = call(t, "POST", h.base+"/api/workspaces/"+doc.WorkspaceLinks.Edit+"/embed-tokens", adminToken, "application/json", `{"role":"owner","name":"Olga"}`)
	if st != 201 || out["handle"] != ws || out["url"] != nil {
		t.Fatalf("mint for the workspace: %d %v", st, out)
	}
	if st, _, _ := call(t, "DELETE", h.base+"/api/docs/"+handle, out["token"].(string), "", ""); st != 204 {
		t.Fatalf("the workspace owner token deleting: %d", st)
	}
	for _, body := range []string{`{"role":"admin"}`, `{"role":"view","mode":"edit"}`, `{"role":"view","ttlSeconds":-1}`, `{"role":"view","name":"a\u0000"}`, `{"role":"view","data":[1]}`, `{}`} {
		if st, out, _ := call(t, "POST", h.base+"/api/workspaces/"+ws+"/embed-tokens", adminToken, "application/json", body); st != 400 {
			t.Errorf("mint %s: %d %v", body, st, out)
		}
	}

	// Without a secret of the host's: the server's own key.
	_, base := testServer(t, Config{APIToken: adminToken})
	d := createFull(t, base, `{"name":"b.go","text":""}`)
	_, minted := postJSON(t, "POST", base+"/api/docs/"+d.ID+"/embed-tokens", adminToken, `{"role":"edit"}`)
	dh := minted["handle"].(string)
	if st, body, _ := call(t, "PUT", base+"/api/docs/"+dh, minted["token"].(string), "text/plain", "ok"); st != 200 {
		t.Fatalf("the server's own token: %d %v", st, body)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"doc": dh, "role": "owner", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(hostSecret))
	if st, body, _ := call(t, "DELETE", base+"/api/docs/"+dh, forged, "", ""); st != 401 {
		t.Fatalf("a token of a secret the server does not have: %d %v", st, body)
	}
	if _, err := jwt.Parse(minted["token"].(string), func(*jwt.Token) (any, error) { return []byte(hostSecret), nil }); err == nil {
		t.Fatal("the server's token verifies with a secret it does not have")
	}
}

// TestBrowserEmbedWithToken: the embed page with a host's token edits
// the document under the token's name, and says so when the token has
// expired, before it opens and while it is open.
func TestBrowserEmbedWithToken(t *testing.T) {
	clock := newTestClock()
	env := newBrowserEnvWith(t, Config{JWTSecret: hostSecret, Now: clock.Now, AfterFunc: clock.AfterFunc})
	id := env.create("embed.go", "package embed\n")
	var doc struct{ Handle string }
	env.call("GET", "/api/docs/"+id, "", nil, http.StatusOK, &doc)
	mint := func(exp time.Time) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"doc": doc.Handle, "role": "edit", "name": "Tess", "sub": "host-user-1", "exp": exp.Unix()}).SignedString([]byte(hostSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p := env.open(env.base + "/embed/" + doc.Handle + "?token=" + mint(clock.Now().Add(time.Hour)))
	p.wait(`document.body.dataset.status === 'saved'`)
	p.do(chromedp.Click(chromedp.CSS(`.cm-content`)), key(kb.End, chromedp.ModifierCtrl), typeText("// by Tess\n"))
	env.converged(id, func(s string) bool { return s == "package embed\n// by Tess\n" }, p)
	eventually(t, "the token's name in presence", func() (bool, string) {
		var pr struct{ Users []struct{ Name string } }
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &pr)
		return len(pr.Users) == 1 && pr.Users[0].Name == "Tess", fmt.Sprint(pr.Users)
	})

	// The host frames the embed and records what it posts.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<iframe id="f" src="%s" style="width:800px;height:300px"></iframe>
<script>
window.msgs = [];
addEventListener('message', (e) => { if (e.data && e.data.source === 'collab') window.msgs.push(e.data); });
</script>`, html.EscapeString(r.URL.Query().Get("src")))
	}))
	t.Cleanup(host.Close)
	framed := func(token string) *browserPage {
		return env.openAllowingErrors(host.URL + "/?src=" + url.QueryEscape(env.base+"/embed/"+doc.Handle+"?token="+token))
	}
	const closedExpired = `window.msgs.some(m => m.type === 'status' && m.status === 'closed' && m.detail.includes('expired'))`

	// A token that expires while the embed is open (the test moves the
	// server's clock past it once the embed is ready): the embed stops,
	// saying why.
	exp := clock.Now().Add(time.Minute)
	q := framed(mint(exp))
	q.wait(`window.msgs.some(m => m.type === 'ready')`)
	clock.Set(exp)
	q.wait(closedExpired)
	// An expired token: refused at the door, and the embed says why
	// instead of retrying.
	clock.Set(exp.Add(time.Second))
	r := framed(mint(exp))
	r.wait(closedExpired)
	if evalIn[bool](r, `window.msgs.some(m => m.type === 'ready')`) {
		t.Error("an embed with an expired token got ready")
	}
}
