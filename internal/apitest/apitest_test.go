package apitest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

var things = sync.OnceValues(func() (*Checker, error) {
	spec, err := os.ReadFile("testdata/things.yaml")
	if err != nil {
		return nil, err
	}
	return New(spec)
})

func checker(t *testing.T) *Checker {
	t.Helper()
	c, err := things()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recTB records the failures the checker reports instead of failing.
type recTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recTB) Helper() {}

func (r *recTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recTB) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func thing(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"1"`)
	io.WriteString(w, body)
}

// created answers a POST of a thing: 201, and the thing made.
func created(w http.ResponseWriter, r *http.Request) {
	io.ReadAll(r.Body)
	w.Header().Set("Location", "/api/things/a")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"id":"a","n":1}`)
}

func problem(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%d,"code":"x"}`, status)
}

// exchanges are a request and a server's answer to it each, and what the
// checker must say of them: "" when they match the document, else a part
// of the failure.
var exchanges = []struct {
	name        string
	method, url string
	body        string
	header      http.Header
	serve       http.HandlerFunc
	want        string
}{
	{name: "a documented answer", method: "GET", url: "/api/things/a?limit=3",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":1,"labels":{"k":"v"}}`) }},
	{name: "an undocumented status", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusConflict) },
		want:  "409"},
	{name: "an undocumented content type", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "a")
		},
		want: "text/plain"},
	{name: "a missing required field", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a"}`) },
		want:  "missing property 'n'"},
	{name: "a field of the wrong type", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":"1"}`) },
		want:  "n"},
	{name: "an undeclared field", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":1,"secret":"s"}`) },
		want:  "$.secret, which its schema does not declare"},
	{name: "an undeclared nested field", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) {
			thing(w, `{"id":"a","n":1,"tags":[{"name":"x","color":"red"}]}`)
		},
		want: "$.tags[0].color"},
	{name: "a header of the wrong form", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", "unquoted")
			io.WriteString(w, `{"id":"a","n":1}`)
		},
		want: "'unquoted' does not match pattern"},
	{name: "an undeclared header", method: "GET", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Thing", "1")
			thing(w, `{"id":"a","n":1}`)
		},
		want: "sets header X-Thing"},
	{name: "a documented answer without content", method: "DELETE", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
	{name: "a not-modified answer", method: "GET", url: "/api/things/a", header: http.Header{"If-None-Match": {`"1"`}},
		serve: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) }},
	{name: "a plain text answer", method: "GET", url: "/api/things/a/raw",
		serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "a")
		}},
	{name: "a forbidden request refused", method: "GET", url: "/api/things/a?limit=99",
		serve: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusBadRequest) }},
	{name: "a forbidden request accepted", method: "GET", url: "/api/things/a?limit=99",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":1}`) },
		want:  "answered 200 to a request the document forbids"},
	{name: "an undeclared query parameter accepted", method: "GET", url: "/api/things/a?verbose=1",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":1}`) },
		want:  `query parameter "verbose" is not declared`},
	{name: "an undeclared request header accepted", method: "GET", url: "/api/things/a", header: http.Header{"X-Debug": {"1"}},
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{"id":"a","n":1}`) },
		want:  "header X-Debug is not declared"},
	{name: "a body the schema refuses, accepted", method: "POST", url: "/api/things", body: `{"name":""}`,
		serve: created,
		want:  "answered 201 to a request the document forbids"},
	{name: "a good body, accepted", method: "POST", url: "/api/things", body: `{"name":"a"}`,
		serve: created},
	{name: "an undocumented route refused", method: "GET", url: "/api/nothing",
		serve: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusNotFound) }},
	{name: "an undocumented method refused", method: "PUT", url: "/api/things/a",
		serve: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusMethodNotAllowed) }},
	{name: "an undocumented route answered", method: "GET", url: "/api/nothing",
		serve: func(w http.ResponseWriter, r *http.Request) { thing(w, `{}`) },
		want:  "the document has no such path, and the server answered 200"},
	{name: "an undocumented route refused without a problem", method: "GET", url: "/api/nothing",
		serve: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		want:  "instead of a problem"},
	{name: "a page is not the API", method: "GET", url: "/d/a",
		serve: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }},
	{name: "a CORS preflight is not the API", method: "OPTIONS", url: "/api/things/a", header: http.Header{"Origin": {"https://o.example"}, "Access-Control-Request-Method": {"PUT"}},
		serve: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
}

// TestChecker runs each exchange through both ways of checking: the
// handler around a server, and the transport of a client.
func TestChecker(t *testing.T) {
	c := checker(t)
	for _, ex := range exchanges {
		for _, via := range []string{"handler", "transport"} {
			t.Run(via+"/"+ex.name, func(t *testing.T) {
				rec := &recTB{TB: t}
				var h http.Handler = ex.serve
				client := &http.Client{}
				if via == "handler" {
					h = c.Handler(rec, h)
				} else {
					client.Transport = c.Transport(rec, nil)
				}
				hs := httptest.NewServer(h)
				req, err := http.NewRequest(ex.method, hs.URL+ex.url, strings.NewReader(ex.body))
				if err != nil {
					t.Fatal(err)
				}
				if ex.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for k, v := range ex.header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				hs.Close() // waits for the handler, and so for its check
				got := rec.failures()
				switch {
				case ex.want == "" && got != "":
					t.Errorf("the checker failed a matching exchange:\n%s", got)
				case ex.want != "" && !strings.Contains(got, ex.want):
					t.Errorf("the checker said %q, want it to say %q", got, ex.want)
				}
			})
		}
	}
}

// TestCheckerSeesABodyWhereNoneIsDocumented checks an answer with a body
// where the document gives none. net/http refuses to send a body with a
// 304 or 204, so the exchange is checked as the handler would record it
// from a server that did.
func TestCheckerSeesABodyWhereNoneIsDocumented(t *testing.T) {
	req := httptest.NewRequest("GET", "/api/things/a", nil)
	err := checker(t).Check(Exchange{Request: req, Status: http.StatusNotModified, Header: http.Header{"Content-Type": {"text/plain"}}, BodyLen: 3})
	if err == nil || !strings.Contains(err.Error(), "has a body") {
		t.Errorf("a 304 with a body: %v", err)
	}
}

// TestCheckerFollowsAWebSocketUpgrade checks a hijacked connection by its
// 101: documented on one route, not on another.
func TestCheckerFollowsAWebSocketUpgrade(t *testing.T) {
	c := checker(t)
	for _, tc := range []struct{ path, want string }{
		{"/api/things/a/ws", ""},
		{"/api/things/a/raw", "101"},
	} {
		rec := &recTB{TB: t}
		hs := httptest.NewServer(c.Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
		})))
		req, _ := http.NewRequest("GET", hs.URL+tc.path, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: %s", tc.path, resp.Status)
		}
		resp.Body.Close()
		hs.Close()
		hs.CloseClientConnections()
		got := rec.failures()
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: the checker said %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestCheckerStreamsThrough checks that a streamed answer reaches the
// client as it is flushed, not when the handler ends.
func TestCheckerStreamsThrough(t *testing.T) {
	c := checker(t)
	rec := &recTB{TB: t}
	release := make(chan struct{})
	hs := httptest.NewServer(c.Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "second\n")
	})))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/api/things/a/raw")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
}

// TestValidateDocument checks a good document and two bad ones: not valid
// OpenAPI, and an example its schema refuses.
func TestValidateDocument(t *testing.T) {
	if err := checker(t).ValidateDocument(); err != nil {
		t.Fatalf("testdata/things.yaml: %v", err)
	}
	spec, err := os.ReadFile("testdata/things.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"not OpenAPI", "info: {title: things, version: '1'}", "info: {version: '1'}", "not valid OpenAPI"},
		{"a bad example", "- {id: a, n: 1, tags:", "- {id: a, n: one, tags:", "schema Thing, example 0"},
	} {
		bad := strings.Replace(string(spec), tc.from, tc.to, 1)
		if bad == string(spec) {
			t.Fatalf("%s: %q is not in the document", tc.name, tc.from)
		}
		c, err := New([]byte(bad))
		if err == nil {
			err = c.ValidateDocument()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
