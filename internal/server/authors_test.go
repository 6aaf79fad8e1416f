package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// authorIDs are public author ids; user ids are "u" and 20 hex digits.
var authorIDs = regexp.MustCompile(`^a[0-9a-f]{20}$`)

// authorsMap is the "authors" object of a REST answer.
type authorsMap map[string]struct{ Name, Color string }

// getJSON fetches base+path, decodes the answer into out (when not nil)
// and returns its body.
func getJSON(t *testing.T, base, path string, out any) string {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return string(b)
}

// joinWith dials the document (with query) and joins with the members of
// join; it returns the connection and the joined message.
func joinWith(t *testing.T, base, id, query, join string) (*rawConn, map[string]any) {
	t.Helper()
	r := dialRaw(t, base, id, query)
	r.send(`{"type":"join",` + join + `}`)
	m := r.nextOf("joined")
	r.user, _ = m["user"].(string)
	return r, m
}

// history is what a reader of the REST history sees of a document.
type history struct {
	Revisions []struct {
		Rev    uint64
		Author string
	}
	Authors authorsMap
}

func readHistory(t *testing.T, base, id string) history {
	t.Helper()
	var h history
	getJSON(t, base, "/api/docs/"+id+"/revisions?limit=1000", &h)
	return h
}

// TestAuthorIsOneAcrossTabs: two sessions of one browser (two client ids,
// one author secret) are one author, in presence and in history; a
// client without an author secret is its own author, as before.
func TestAuthorIsOneAcrossTabs(t *testing.T) { forBackends(t, testAuthorIsOneAcrossTabs) }

func testAuthorIsOneAcrossTabs(t *testing.T, bk backend) {
	srv, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "")
	const secret = "ann-browser-5f0c1e9a2b7d4c3e"
	tab1, j1 := joinWith(t, base, id, "", `"client":"tab1-0123456789abcdef","author":"`+secret+`","name":"Ann"`)
	tab2, j2 := joinWith(t, base, id, "", `"client":"tab2-0123456789abcdef","author":"`+secret+`","name":"Ann"`)
	bot, j3 := joinWith(t, base, id, "", `"client":"bot-0123456789abcdef"`)
	ann, _ := j1["author"].(string)
	if !authorIDs.MatchString(ann) || j2["author"] != ann || j1["user"] == j2["user"] {
		t.Fatalf("two tabs of one author: joined %v and %v", j1, j2)
	}
	if j3["author"] != bot.user {
		t.Fatalf("without an author secret the author is the user id: %v", j3)
	}
	tab1.send(`{"type":"op","rev":0,"id":"tab1-0123456789abcdef:1","op":["a"]}`)
	tab1.nextOf("ack")
	tab2.nextOf("op")
	tab2.send(`{"type":"op","rev":1,"id":"tab2-0123456789abcdef:1","op":[1,"b"]}`)
	tab2.nextOf("ack")
	if m := tab1.nextOf("op"); m["author"] != ann || m["id"] != tab2.user+":1" {
		t.Errorf("the other tab's op: %v; want author %s and the tab's own user id in its id", m, ann)
	}
	bot.nextOf("op")
	bot.nextOf("op")
	bot.send(`{"type":"op","rev":2,"id":"bot-0123456789abcdef:1","op":[2,"c"]}`)
	bot.nextOf("ack")

	h := readHistory(t, base, id)
	if len(h.Revisions) != 3 || h.Revisions[0].Author != ann || h.Revisions[1].Author != ann || h.Revisions[2].Author != bot.user {
		t.Errorf("history: %+v; want %s, %s, %s", h.Revisions, ann, ann, bot.user)
	}
	if h.Authors[ann].Name != "Ann" || len(h.Authors) != 1 {
		t.Errorf("authors: %+v", h.Authors)
	}
	var pres struct {
		Users []struct{ ID, Author, Name string }
	}
	getJSON(t, base, "/api/docs/"+id+"/presence", &pres)
	same := 0
	for _, u := range pres.Users {
		if u.Author == ann {
			same++
		}
	}
	if len(pres.Users) != 3 || same != 2 {
		t.Errorf("presence: %+v; want two users of author %s", pres.Users, ann)
	}
	var ss struct {
		Sessions []struct{ Authors []string }
	}
	getJSON(t, base, "/api/docs/"+id+"/sessions", &ss)
	if len(ss.Sessions) != 1 || strings.Join(ss.Sessions[0].Authors, " ") != ann+" "+bot.user {
		t.Errorf("sessions: %+v", ss.Sessions)
	}
	// A viewer's name is not kept: it authors nothing.
	_, jv := joinWith(t, base, id, "?readonly=1", `"client":"viewer-0123456789abcdef","author":"vera-secret-0123456789","name":"Vera"`)
	if kept, err := srv.docs.Authors(id, []string{jv["author"].(string)}); err != nil || len(kept) != 0 {
		t.Errorf("a viewer's profile was kept: %v %v", kept, err)
	}
	// An author secret is checked like a client id.
	bad := dialRaw(t, base, id, "")
	bad.send(`{"type":"join","author":"not a secret!"}`)
	if m := bad.nextOf("error"); m["code"] != "invalid" {
		t.Errorf("a bad author secret: %v", m)
	}
}

// TestAuthorsWhoLeftKeepTheirNames: once everyone who edited has left,
// a newcomer reads their names (and colours) in the revisions, a
// revision, the blame and the edit sessions.
func TestAuthorsWhoLeftKeepTheirNames(t *testing.T) { forBackends(t, testAuthorsWhoLeftKeepTheirNames) }

func testAuthorsWhoLeftKeepTheirNames(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "")
	ann, ja := joinWith(t, base, id, "", `"client":"ann-tab-0123456789ab","author":"ann-secret-0123456789ab","name":"Ann","color":"#e06c75"`)
	bob, jb := joinWith(t, base, id, "", `"client":"bob-tab-0123456789ab","author":"bob-secret-0123456789ab","name":"Bob"`)
	ann.send(`{"type":"op","rev":0,"id":"ann-tab-0123456789ab:1","op":["one\n"]}`)
	ann.nextOf("ack")
	bob.nextOf("op")
	bob.send(`{"type":"op","rev":1,"id":"bob-tab-0123456789ab:1","op":[4,"two\n"]}`)
	bob.nextOf("ack")
	// Someone who stays hears both leave.
	stays := joinRaw(t, base, id, "stays-0123456789")
	ann.c.Close()
	bob.c.Close()
	annID, bobID := ja["author"].(string), jb["author"].(string)
	gone := map[any]bool{}
	for len(gone) < 2 {
		gone[stays.nextOf("leave")["user"]] = true
	}
	if !gone[ann.user] || !gone[bob.user] {
		t.Fatalf("left: %v, want %s and %s", gone, ann.user, bob.user)
	}
	var pres struct{ Users []struct{ ID string } }
	getJSON(t, base, "/api/docs/"+id+"/presence", &pres)
	if len(pres.Users) != 1 || pres.Users[0].ID != stays.user {
		t.Fatalf("present: %+v, want only %s", pres.Users, stays.user)
	}
	named := func(what string, a authorsMap) {
		t.Helper()
		if a[annID].Name != "Ann" || a[annID].Color != "#e06c75" || a[bobID].Name != "Bob" || !strings.HasPrefix(a[bobID].Color, "#") {
			t.Errorf("%s: authors %+v; want Ann (%s) and Bob (%s)", what, a, annID, bobID)
		}
	}
	h := readHistory(t, base, id)
	named("revisions", h.Authors)
	var one struct {
		Author  string
		Authors authorsMap
	}
	getJSON(t, base, "/api/docs/"+id+"/revisions/2", &one)
	if one.Author != bobID || one.Authors[bobID].Name != "Bob" || len(one.Authors) != 1 {
		t.Errorf("revision 2: %+v", one)
	}
	var blame struct {
		Lines []struct {
			Line   int
			Author string
		}
		Authors authorsMap
	}
	getJSON(t, base, "/api/docs/"+id+"/blame", &blame)
	if len(blame.Lines) != 3 || blame.Lines[0].Author != annID || blame.Lines[1].Author != bobID {
		t.Errorf("blame: %+v", blame.Lines)
	}
	named("blame", blame.Authors)
	var ss struct {
		Sessions []struct{ Authors []string }
		Authors  authorsMap
	}
	getJSON(t, base, "/api/docs/"+id+"/sessions", &ss)
	if len(ss.Sessions) != 1 || strings.Join(ss.Sessions[0].Authors, " ") != annID+" "+bobID {
		t.Errorf("sessions: %+v", ss.Sessions)
	}
	named("sessions", ss.Authors)
}

// TestRenameRelabelsHistory: an author who comes back under a new name,
// or changes it, relabels their past revisions; one who joins without a
// name gets the one kept.
func TestRenameRelabelsHistory(t *testing.T) { forBackends(t, testRenameRelabelsHistory) }

func testRenameRelabelsHistory(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "")
	const secret = "ann-secret-0123456789ab"
	ann, j := joinWith(t, base, id, "", `"client":"ann-tab1-0123456789","author":"`+secret+`","name":"Ann"`)
	author := j["author"].(string)
	ann.send(`{"type":"op","rev":0,"id":"ann-tab1-0123456789:1","op":["x"]}`)
	ann.nextOf("ack")
	ann.c.Close()
	revPath := "/api/docs/" + id + "/revisions/1"
	resp, err := http.Get(base + revPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tag := resp.Header.Get("ETag")

	// Back in a new tab, under a new name.
	ann2, _ := joinWith(t, base, id, "", `"client":"ann-tab2-0123456789","author":"`+secret+`","name":"Ann B."`)
	if h := readHistory(t, base, id); h.Authors[author].Name != "Ann B." {
		t.Errorf("after joining as Ann B.: %+v", h.Authors)
	}
	req, _ := http.NewRequest("GET", base+revPath, nil)
	req.Header.Set("If-None-Match", tag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a renamed author's revision with the old ETag: %v %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	// A profile change relabels it too.
	ann2.send(`{"type":"profile","name":"Annie","color":"#61afef"}`)
	ann2.nextOf("user")
	var blame struct{ Authors authorsMap }
	getJSON(t, base, "/api/docs/"+id+"/blame", &blame)
	if a := blame.Authors[author]; a.Name != "Annie" || a.Color != "#61afef" {
		t.Errorf("after the profile change: %+v", blame.Authors)
	}
	// A third tab that sends no name is known by the kept one.
	_, j3 := joinWith(t, base, id, "", `"client":"ann-tab3-0123456789","author":"`+secret+`"`)
	found := false
	for _, u := range j3["users"].([]any) {
		u := u.(map[string]any)
		if u["id"] == j3["user"] {
			found = u["name"] == "Annie" && u["color"] == "#61afef" && u["author"] == author
		}
	}
	if !found {
		t.Errorf("a tab joining without a name: %v", j3["users"])
	}
	if h := readHistory(t, base, id); h.Authors[author].Name != "Annie" {
		t.Errorf("a join without a name changed the kept one: %+v", h.Authors)
	}
}

// mintEmbed mints a token for doc (its edit link) with the claims
// of body, and returns it and the {id} its URL names the document by.
func mintEmbed(t *testing.T, base, doc, body string) (token, handle string) {
	t.Helper()
	code, out := postJSON(t, "POST", base+"/api/docs/"+doc+"/embed-tokens", adminToken, body)
	if code != http.StatusCreated {
		t.Fatalf("mint %s: %d %v", body, code, out)
	}
	u, err := url.Parse(out["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return out["token"].(string), strings.TrimPrefix(u.Path, "/embed/")
}

// TestEmbedTokenSubjectIsTheAuthor: with an embed token, the token's
// subject is the author (whatever author secret the session sends), the
// same for every token of that subject, over the socket and over REST;
// a token without a subject makes its user name the author.
func TestEmbedTokenSubjectIsTheAuthor(t *testing.T) { forBackends(t, testEmbedTokenSubjectIsTheAuthor) }

func testEmbedTokenSubjectIsTheAuthor(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	doc := createFull(t, base, `{"name":"a.go","text":""}`)
	tok, handle := mintEmbed(t, base, doc.Links.Edit, `{"mode":"edit","name":"Ann","subject":"host-user-42"}`)
	s1, j1 := joinWith(t, base, handle, "?token="+tok, `"client":"tab1-0123456789abcdef","author":"my-own-secret-0123456789"`)
	author, _ := j1["author"].(string)
	if !authorIDs.MatchString(author) {
		t.Fatalf("joined with a token: %v", j1)
	}
	s1.send(`{"type":"op","rev":0,"id":"tab1-0123456789abcdef:1","op":["x"]}`)
	s1.nextOf("ack")
	// Another token of the same subject, another name: the same author.
	tok2, _ := mintEmbed(t, base, doc.Links.Edit, `{"mode":"edit","name":"Ann Smith","subject":"host-user-42"}`)
	_, j2 := joinWith(t, base, handle, "?token="+tok2, `"client":"tab2-0123456789abcdef"`)
	if j2["author"] != author {
		t.Errorf("a second token of the subject: author %v, want %s", j2["author"], author)
	}
	// Over REST too.
	req, _ := http.NewRequest("PUT", base+"/api/docs/"+handle+"?token="+tok2, strings.NewReader("xy"))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT with the token: %v %v", resp, err)
	}
	// Without a subject, the name is the author.
	tok3, _ := mintEmbed(t, base, doc.Links.Edit, `{"mode":"edit","name":"Guest"}`)
	_, j3 := joinWith(t, base, handle, "?token="+tok3, `"client":"tab3-0123456789abcdef","author":"my-own-secret-0123456789"`)
	guest, _ := j3["author"].(string)
	if !authorIDs.MatchString(guest) || guest == author {
		t.Errorf("a token without a subject: author %q (the subject's is %s)", guest, author)
	}
	// Nor may a secret pass for a subject.
	_, j4 := joinWith(t, base, doc.Links.Edit, "", `"client":"tab4-0123456789abcdef","author":"host-user-42"`)
	if j4["author"] == author {
		t.Errorf("an author secret equal to a token's subject got its author id")
	}

	h := readHistory(t, base, doc.Links.Edit)
	if len(h.Revisions) != 2 || h.Revisions[0].Author != author || h.Revisions[1].Author != author {
		t.Errorf("history: %+v; want two revisions by %s", h.Revisions, author)
	}
	if h.Authors[author].Name != "Ann Smith" {
		t.Errorf("authors: %+v", h.Authors)
	}
	if body := getJSON(t, base, "/api/docs/"+doc.Links.Edit+"/revisions", nil); strings.Contains(body, "host-user-42") {
		t.Errorf("the subject is shown: %s", body)
	}
	// A subject is at most 256 bytes.
	if code, _ := postJSON(t, "POST", base+"/api/docs/"+doc.Links.Edit+"/embed-tokens", adminToken, fmt.Sprintf(`{"mode":"edit","subject":%q}`, strings.Repeat("x", 257))); code != http.StatusBadRequest {
		t.Errorf("a 257-byte subject: %d", code)
	}
}

// TestAuthorSecretsStaySecret: nothing another session or a REST caller
// sees, nor anything the session itself is sent, names its author
// secret; an attacker who joins with the victim's public author id as
// its secret is another author.
func TestAuthorSecretsStaySecret(t *testing.T) { forBackends(t, testAuthorSecretsStaySecret) }

func testAuthorSecretsStaySecret(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	doc := createFull(t, base, `{"name":"a.go","text":""}`)
	id := doc.ID
	const secret = "victim-author-secret-9f8e7d6c5b4a"
	victim, jv := joinWith(t, base, id, "", `"client":"victim-client-0123456789","author":"`+secret+`","name":"Vic"`)
	spy, js := joinWith(t, base, id, "", `"client":"spy-client-0123456789"`)
	var seen []string
	keep := func(m any) { b, _ := json.Marshal(m); seen = append(seen, string(b)) }
	keep(jv)
	keep(js)
	victim.send(`{"type":"cursor","rev":0,"ranges":[{"anchor":0,"head":0}]}`)
	victim.send(`{"type":"op","rev":0,"id":"victim-client-0123456789:1","op":["a\n"]}`)
	victim.send(`{"type":"profile","name":"Victor"}`)
	victim.send(`{"type":"chat","text":"hi"}`)
	victim.send(`{"type":"event","name":"ping","data":{"x":1},"id":"e1"}`)
	for _, typ := range []string{"cursor", "op", "user", "chat", "event"} {
		keep(spy.nextOf(typ))
	}
	for _, typ := range []string{"ack", "user", "chat", "event", "eventAck"} {
		keep(victim.nextOf(typ))
	}
	author := jv["author"].(string)
	req, _ := http.NewRequest("POST", base+"/api/docs/"+id+"/labels", strings.NewReader(`{"rev":1,"name":"v1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Collab-Author", author)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST label: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, path := range []string{"", "/revisions", "/revisions/1", "/blame", "/sessions", "/labels", "/presence", "/chat", "/diff?from=0", "/diff?from=0&format=unified", "/raw"} {
		resp, err := http.Get(base + "/api/docs/" + id + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen = append(seen, path+": "+string(b))
	}
	for _, s := range seen {
		if strings.Contains(s, secret) {
			t.Fatalf("the victim's author secret is visible: %s", s)
		}
	}
	if !strings.Contains(strings.Join(seen, "\n"), `"Victor"`) {
		t.Fatal("the test did not see the victim's name anywhere")
	}
	// The public author id as a secret is another author.
	_, je := joinWith(t, base, id, "", `"client":"evil-client-0123456789","author":"`+author+`"`)
	if je["author"] == author {
		t.Fatal("joining with the victim's author id as a secret made the victim's author")
	}
}
