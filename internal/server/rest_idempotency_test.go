package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// putAnswer is the body of PUT /api/docs/{id}, or of its problem.
type putAnswer struct {
	Rev  uint64          `json:"rev"`
	Op   json.RawMessage `json:"op"`
	Code string          `json:"code"`
}

// put does PUT /api/docs/{id} with a text body and headers.
func (a apiClient) put(id, text string, hdr map[string]string) (int, putAnswer) {
	a.t.Helper()
	var out putAnswer
	r := a.call("PUT", "/api/docs/"+id, text, hdr, &out)
	return r.StatusCode, out
}

// text is a document's text now.
func (a apiClient) text(id string) string {
	a.t.Helper()
	var d docBody
	a.call("GET", "/api/docs/"+id, nil, nil, &d)
	return d.Text
}

// TestPutRetryAnswersAsTheFirst: a PUT retried with its Idempotency-Key
// and If-Match after it was applied got 412, and a client that then
// re-applied its change duplicated it. It gets the first answer: status,
// revision and operation, also after the document moved on.
func TestPutRetryAnswersAsTheFirst(t *testing.T) { forBackends(t, testPutRetryAnswersAsTheFirst) }

func testPutRetryAnswersAsTheFirst(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	api := apiClient{t, base}
	doc := createFull(t, base, `{"name":"r.txt","text":"one\n"}`)
	hdr := map[string]string{"Idempotency-Key": "9f1c-retry", "If-Match": `"1"`}
	status, first := api.put(doc.ID, "one\ntwo\n", hdr)
	if status != 200 || first.Rev != 2 {
		t.Fatalf("first PUT: %d %+v", status, first)
	}
	check := func(what string) {
		t.Helper()
		r := api.call("PUT", "/api/docs/"+doc.ID, "one\ntwo\n", hdr, nil)
		var got putAnswer
		json.NewDecoder(r.Body).Decode(&got)
		if r.StatusCode != 200 || got.Rev != first.Rev || string(got.Op) != string(first.Op) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("%s: %s %+v (replayed %q); want 200 %+v", what, r.Status, got, r.Header.Get("Idempotent-Replayed"), first)
		}
	}
	check("retry")
	if status, _ := api.put(doc.ID, "zero\none\ntwo\n", nil); status != 200 {
		t.Fatalf("another PUT: %d", status)
	}
	check("retry after the document moved on")
	if got := api.text(doc.ID); got != "zero\none\ntwo\n" {
		t.Fatalf("after the retries the text is %q", got)
	}
}

// TestPutKeyReusedForAnotherRequest: the same key with another text or
// If-Match answers 422 idempotency_key_reused (it answered 200 and applied
// nothing).
func TestPutKeyReusedForAnotherRequest(t *testing.T) {
	forBackends(t, testPutKeyReusedForAnotherRequest)
}

func testPutKeyReusedForAnotherRequest(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	api := apiClient{t, base}
	doc := createFull(t, base, `{"name":"r.txt","text":"one\n"}`)
	if status, _ := api.put(doc.ID, "two\n", map[string]string{"Idempotency-Key": "k"}); status != 200 {
		t.Fatalf("first PUT: %d", status)
	}
	for _, c := range []struct {
		text string
		hdr  map[string]string
	}{
		{"three\n", map[string]string{"Idempotency-Key": "k"}},
		{"two\n", map[string]string{"Idempotency-Key": "k", "If-Match": `"2"`}},
	} {
		if status, p := api.put(doc.ID, c.text, c.hdr); status != 422 || p.Code != "idempotency_key_reused" {
			t.Errorf("PUT %q %v: %d %+v; want 422 idempotency_key_reused", c.text, c.hdr, status, p)
		}
	}
	if got := api.text(doc.ID); got != "two\n" {
		t.Errorf("text %q", got)
	}
}

// TestPutKeysAreOpaqueAndScoped: all-digit keys were sequence numbers of
// one "rest" client shared by every caller: a smaller key got 409, the
// same digits from another caller got 200 and nothing applied, and a
// WebSocket client named "rest" blocked them. Keys are now opaque strings,
// independent of each other, scoped to the document and the caller's
// credential, and apart from WebSocket client ids.
func TestPutKeysAreOpaqueAndScoped(t *testing.T) { forBackends(t, testPutKeysAreOpaqueAndScoped) }

func testPutKeysAreOpaqueAndScoped(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	api := apiClient{t, base}
	admin := func(key string) map[string]string {
		return map[string]string{"Idempotency-Key": key, "Authorization": "Bearer " + adminToken}
	}
	link := func(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }
	// steps PUTs, by each caller in turn, a text that adds a line, and
	// checks that each is applied.
	steps := func(t *testing.T, doc string, want *string, hdrs ...map[string]string) {
		t.Helper()
		for _, hdr := range hdrs {
			*want += hdr["Idempotency-Key"] + "\n"
			if status, p := api.put(doc, *want, hdr); status != 200 {
				t.Fatalf("PUT %v: %d %+v", hdr, status, p)
			}
			if got := api.text(doc); got != *want {
				t.Fatalf("PUT %v: text %q, want %q", hdr, got, *want)
			}
		}
	}
	newDoc := func() (string, string) {
		return createFull(t, base, `{"name":"s.txt","text":"start\n"}`).ID, "start\n"
	}
	t.Run("another caller's smaller key", func(t *testing.T) {
		doc, want := newDoc()
		steps(t, doc, &want, admin("5"), link("3"))
	})
	t.Run("another caller's same digits", func(t *testing.T) {
		doc, want := newDoc()
		steps(t, doc, &want, admin("5"), link("5"), admin("6"), link("6"))
	})
	t.Run("the caller's own smaller key", func(t *testing.T) {
		doc, want := newDoc()
		steps(t, doc, &want, link("5"), link("2"), link("10"), link("9"))
	})
	t.Run("a WebSocket client named rest", func(t *testing.T) {
		doc, want := newDoc()
		ws := joinRaw(t, base, doc, "rest")
		ws.send(`{"type":"op","rev":1,"id":"rest:100","op":[6,"ws\n"]}`)
		if m := ws.next("ack"); m["id"] != "rest:100" {
			t.Fatalf("ack: %v", m)
		}
		want += "ws\n"
		steps(t, doc, &want, link("7"), link("100"), link("rest"))
	})
	t.Run("opaque keys of up to 255 characters", func(t *testing.T) {
		doc, want := newDoc()
		long := strings.Repeat("k", 255)
		steps(t, doc, &want, link(long), link("0"), link("-_AZaz09"))
		for _, bad := range []string{long + "k", "a:1", "a b", "é", "~x/y#z"} {
			if status, _ := api.put(doc, "x", link(bad)); status != 400 {
				t.Errorf("key %q: %d, want 400", bad, status)
			}
		}
	})
}

// TestKeyScope: each credential is its own scope; tokens by their
// subject.
func TestKeyScope(t *testing.T) { forBackends(t, testKeyScope) }

func testKeyScope(t *testing.T, bk backend) {
	scopes := map[string]string{}
	for name, g := range map[string]grant{
		"admin": {admin: true}, "link": {link: "l"}, "other link": {link: "m"},
		"token ann": {handle: "h", subject: "ann"}, "token bob": {handle: "h", subject: "bob"},
	} {
		scopes[name] = keyScope(g)
	}
	if scopes["link"] != scopes["other link"] {
		t.Errorf("link holders share a scope: %v", scopes)
	}
	seen := map[string]bool{}
	for _, name := range []string{"admin", "link", "token ann", "token bob"} {
		if seen[scopes[name]] {
			t.Errorf("scope of %s is another's: %v", name, scopes)
		}
		seen[scopes[name]] = true
	}
}
