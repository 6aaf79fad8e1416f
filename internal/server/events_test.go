package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// postJSON sends a JSON body, with the API token when token is set, and
// returns the status and the decoded answer.
func postJSON(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// joinAs dials the document with query and joins as client with the
// extra fields of join (JSON members, or "").
func joinAs(t *testing.T, base, id, query, client, extra string) *rawConn {
	t.Helper()
	r := dialRaw(t, base, id, query)
	if extra != "" {
		extra = "," + extra
	}
	r.send(`{"type":"join","client":"` + client + `"` + extra + `}`)
	r.user, _ = r.nextOf("joined")["user"].(string)
	return r
}

// take returns the next message, in order: unlike next, it loses none of
// a batched frame's.
func (r *rawConn) take() map[string]any {
	r.t.Helper()
	if len(r.left) == 0 {
		r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		msgs, err := r.frame()
		if err != nil {
			r.t.Fatalf("reading: %v", err)
		}
		r.left = msgs
	}
	m := r.left[0]
	r.left = r.left[1:]
	return m
}

// nextOf is next without losing messages: it skips those of other types
// before the one it returns, and keeps the rest for take.
func (r *rawConn) nextOf(typ string) map[string]any {
	r.t.Helper()
	for {
		if m := r.take(); m["type"] == typ {
			return m
		}
	}
}

// upTo returns the messages r gets up to the first event named name, that
// one included.
func (r *rawConn) upTo(name string) []map[string]any {
	r.t.Helper()
	var out []map[string]any
	for {
		m := r.take()
		out = append(out, m)
		if m["type"] == "event" && m["name"] == name {
			return out
		}
	}
}

// nextEvent is the name, data (as JSON) and sender of the next event r gets.
func (r *rawConn) nextEvent() (name, data, from string) {
	r.t.Helper()
	m := r.nextOf("event")
	d, _ := json.Marshal(m["data"])
	return m["name"].(string), string(d), m["from"].(string)
}

// TestEventsReachExactlyTheirSessions: an event to one user, to several,
// to everyone and to everyone but the sender reaches exactly those
// sessions (every session of a user, two here), with the sender's user id,
// and the ack counts them. Whether a session got nothing is read from the
// order of one sender's events: each session's next event after the one
// under test is a marker sent to everyone after it.
func TestEventsReachExactlyTheirSessions(t *testing.T) {
	forBackends(t, testEventsReachExactlyTheirSessions)
}

func testEventsReachExactlyTheirSessions(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "text")
	ann := joinRaw(t, base, id, "ann-client-0123456789")
	bob := joinRaw(t, base, id, "bob-client-0123456789")
	bob2 := joinRaw(t, base, id, "bob-client-0123456789") // Bob's second session
	cat := joinRaw(t, base, id, "cat-client-0123456789")
	dan := joinRaw(t, base, id, "dan-client-0123456789")
	all := map[string]*rawConn{"ann": ann, "bob": bob, "bob2": bob2, "cat": cat, "dan": dan}
	if bob.user != bob2.user || bob.user == ann.user {
		t.Fatalf("user ids: ann %s, bob %s and %s", ann.user, bob.user, bob2.user)
	}
	q := func(users ...*rawConn) string {
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = `"` + u.user + `"`
		}
		return "[" + strings.Join(ids, ",") + "]"
	}
	cases := []struct {
		name  string
		event string // the event's other members
		want  []string
	}{
		{"one", `"to":` + q(cat), []string{"cat"}},
		{"one user, both sessions", `"to":` + q(bob), []string{"bob", "bob2"}},
		{"many", `"to":` + q(bob, dan, dan), []string{"bob", "bob2", "dan"}},
		{"many, me among them", `"to":` + q(ann, cat), []string{"ann", "cat"}},
		{"all", ``, []string{"ann", "bob", "bob2", "cat", "dan"}},
		{"all but me", `"excludeSelf":true`, []string{"bob", "bob2", "cat", "dan"}},
		{"many but me", `"to":` + q(ann, dan) + `,"excludeSelf":true`, []string{"dan"}},
		{"nobody present", `"to":["u00000000000000000000"]`, nil},
	}
	for i, tc := range cases {
		sep := ","
		if tc.event == "" {
			sep = ""
		}
		ann.send(fmt.Sprintf(`{"type":"event","name":"case","data":{"n":%d},"id":"e%d"%s%s}`, i, i, sep, tc.event))
		ann.send(`{"type":"event","name":"marker"}`)
		for who, r := range all {
			wanted := false
			for _, w := range tc.want {
				wanted = wanted || w == who
			}
			var got []string
			for _, m := range r.upTo("marker") {
				switch m["type"] {
				case "event":
					d, _ := json.Marshal(m["data"])
					got = append(got, fmt.Sprintf("%s %s from %s", m["name"], d, m["from"]))
				case "eventAck":
					if who != "ann" || m["id"] != fmt.Sprintf("e%d", i) || m["delivered"] != float64(len(tc.want)) {
						t.Errorf("%s: %s got the ack %v, want %d delivered", tc.name, who, m, len(tc.want))
					}
					got = append(got, "ack")
				}
			}
			want := []string{}
			if wanted {
				want = append(want, fmt.Sprintf(`case {"n":%d} from %s`, i, ann.user))
			}
			if who == "ann" {
				want = append(want, "ack")
			}
			want = append(want, "marker null from "+ann.user)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %s got %q, want %q", tc.name, who, got, want)
			}
		}
	}
	// Client ids are secrets: nothing the others got names Ann's.
	cat.send(`{"type":"event","name":"probe","to":["ann-client-0123456789"],"id":"p"}`)
	if ack := cat.nextOf("eventAck"); ack["delivered"] != 0.0 {
		t.Errorf("an event to a client id reached %v sessions", ack["delivered"])
	}
}

// TestEventsKeepTheSendersOrder: every receiver gets one sender's events
// in the order they were sent, interleaved with edits as they happened.
func TestEventsKeepTheSendersOrder(t *testing.T) { forBackends(t, testEventsKeepTheSendersOrder) }

func testEventsKeepTheSendersOrder(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{EventsPerSecond: 1e6})
	id := mkdoc(t, base, "")
	a := joinRaw(t, base, id, "a-0123456789abcdef")
	b := joinRaw(t, base, id, "b-0123456789abcdef")
	const n = 500
	for i := range n {
		a.send(fmt.Sprintf(`{"type":"event","name":"seq","data":%d,"excludeSelf":true}`, i))
	}
	for i := range n {
		if _, data, _ := b.nextEvent(); data != fmt.Sprint(i) {
			t.Fatalf("event %d arrived as %s", i, data)
		}
	}
}

// TestEventFloodIsCutOff: on a clock that stands still, so that every
// count is exact, a session flooding events gets its burst through, the
// next ones refused (rate_limited, with their ids), and once it has had
// eventFlood bursts refused in a row it is closed with 4008, as a session
// flooding operations is. Meanwhile another session edits and a third
// watches: the edits are all acknowledged, and however long the flood,
// the watcher gets exactly the burst of flood events, so an edit reaches
// it behind at most that many, in the flooder's order.
func TestEventFloodIsCutOff(t *testing.T) { forBackends(t, testEventFloodIsCutOff) }

func testEventFloodIsCutOff(t *testing.T, bk backend) {
	clock, _ := standingClock()
	srv, base := bk.testServer(t, Config{EventsPerSecond: 10, Now: clock})
	const burst = 20 // twice the rate
	id := mkdoc(t, base, "")
	flood := joinRaw(t, base, id, "flood-0123456789")
	editor := joinRaw(t, base, id, "editor-0123456789")
	watcher := joinRaw(t, base, id, "watcher-0123456789")

	const n = 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if flood.c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"event","name":"spam","data":%d,"id":"f%d","excludeSelf":true}`, i, i)) != nil {
				return // closed
			}
		}
	}()
	// The editor edits while the flood is on.
	for i := range 5 {
		op := `["x"]`
		if i > 0 {
			op = fmt.Sprintf(`[%d,"x"]`, i)
		}
		editor.send(fmt.Sprintf(`{"type":"op","rev":%d,"id":"editor-0123456789:%d","op":%s}`, i, i+1, op))
		if m := editor.nextOf("ack"); m["rev"] != float64(i+1) {
			t.Fatalf("ack %v", m)
		}
	}
	// The flooder hears of its events in its order: the burst
	// acknowledged, then refusals, until the close (which does not wait
	// for what is queued: the last answers may be lost).
	acked, refused := 0, 0
	flood.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		msgs, err := flood.frame()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closeRateLimited {
				t.Fatalf("after %d acks and %d refusals: %v, want the close %d", acked, refused, err, closeRateLimited)
			}
			break
		}
		for _, m := range msgs {
			switch m["type"] {
			case "eventAck":
				if m["id"] != fmt.Sprintf("f%d", acked) || refused > 0 {
					t.Fatalf("ack %v after %d acks and %d refusals", m, acked, refused)
				}
				acked++
			case "error":
				if m["code"] != "rate_limited" || m["id"] != fmt.Sprintf("f%d", acked+refused) {
					t.Fatalf("error %v after %d acks and %d refusals", m, acked, refused)
				}
				refused++
			}
		}
	}
	<-done
	if acked > burst || refused > eventFlood*burst+1 {
		t.Errorf("%d events acknowledged and %d refused before the close; want at most the burst of %d, and %d refused", acked, refused, burst, eventFlood*burst+1)
	}
	// The watcher got the burst, in order, and all five edits.
	seen, events := 0, 0
	for seen < 5 {
		switch m := watcher.take(); m["type"] {
		case "event":
			if m["data"] != float64(events) || m["from"] != flood.user {
				t.Fatalf("flood event %v after %d", m, events)
			}
			events++
		case "op":
			seen++
		}
	}
	if events != burst {
		t.Errorf("the watcher got %d flood events before the last edit, want the burst of %d", events, burst)
	}
	watcher.send(`{"type":"event","name":"end"}`)
	for m := watcher.take(); m["type"] != "event" || m["name"] != "end"; m = watcher.take() {
		if m["type"] == "event" {
			t.Fatalf("a flood event after the burst: %v", m)
		}
	}
	eventually(t, "the flooder's session closed", func() (bool, string) {
		return srv.open.Load() == 2, fmt.Sprint(srv.open.Load(), " sessions open")
	})
}

// TestEventsALittleTooFastAreRefusedNotClosed: a session whose events are
// refused, but fewer than eventFlood bursts in a row, stays open; when the
// clock moves on it may send again, and the count starts over. Refused
// events with an id are each answered; of those without, the first of a
// run.
func TestEventsALittleTooFastAreRefusedNotClosed(t *testing.T) {
	forBackends(t, testEventsALittleTooFastAreRefusedNotClosed)
}

func testEventsALittleTooFastAreRefusedNotClosed(t *testing.T, bk backend) {
	clock, advance := standingClock()
	_, base := bk.testServer(t, Config{EventsPerSecond: 10, Now: clock})
	const burst = 20
	id := mkdoc(t, base, "")
	a := joinRaw(t, base, id, "eager-0123456789")
	for round := range 3 {
		for i := range burst + eventFlood*burst {
			a.send(fmt.Sprintf(`{"type":"event","name":"e","id":"r%dn%d","excludeSelf":true}`, round, i))
		}
		for i := range burst + eventFlood*burst {
			m := a.take()
			want, code := "eventAck", ""
			if i >= burst {
				want, code = "error", "rate_limited"
			}
			if m["type"] != want || m["id"] != fmt.Sprintf("r%dn%d", round, i) || code != "" && m["code"] != code {
				t.Fatalf("round %d, event %d: %v", round, i, m)
			}
		}
		advance(2 * time.Second) // a full burst again
	}
	for range burst { // let through: the run of refusals is over
		a.send(`{"type":"event","name":"e","excludeSelf":true}`)
	}
	for range 5 {
		a.send(`{"type":"event","name":"quiet","excludeSelf":true}`)
	}
	a.send(`{"type":"event","name":"asks","id":"asks","excludeSelf":true}`)
	if m := a.take(); m["type"] != "error" || m["id"] != nil {
		t.Fatalf("the first refused without an id: %v", m)
	}
	if m := a.take(); m["type"] != "error" || m["id"] != "asks" {
		t.Fatalf("after it, the refused event with an id, and nothing between: %v", m)
	}
}

// standingClock is a clock for Config.Now that stands still until
// advanced.
func standingClock() (now func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return t
		}, func(d time.Duration) {
			mu.Lock()
			t = t.Add(d)
			mu.Unlock()
		}
}

// TestBadEventsGetClearErrors: each malformed or oversized event is
// refused with a code and a message that says what is wrong, with its id
// when it had a valid one, and the session stays open.
func TestBadEventsGetClearErrors(t *testing.T) { forBackends(t, testBadEventsGetClearErrors) }

func testBadEventsGetClearErrors(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxEventBytes: 100, MaxMessageBytes: 64 << 10})
	id := mkdoc(t, base, "")
	a := joinRaw(t, base, id, "a-0123456789abcdef")
	big := strings.Repeat("x", 100)
	cases := []struct{ msg, code, id, says string }{
		{`{"type":"event","name":"x","data":"` + big + `","id":"e1"}`, "invalid", "e1", "more than 100"},
		{`{"type":"event","name":"x","data":{"a":[1,2,{"b":"` + big + `"}]},"id":"e2"}`, "invalid", "e2", "more than 100"},
		{`{"type":"event","data":1,"id":"e3"}`, "invalid", "e3", "name"},
		{`{"type":"event","name":"","id":"e4"}`, "invalid", "e4", "name"},
		{`{"type":"event","name":"has space","id":"e5"}`, "invalid", "e5", "name"},
		{`{"type":"event","name":"` + strings.Repeat("n", 65) + `","id":"e6"}`, "invalid", "e6", "name"},
		{`{"type":"event","name":"x","to":[],"id":"e7"}`, "invalid", "e7", "to must list"},
		{`{"type":"event","name":"x","to":["not an id"],"id":"e8"}`, "invalid", "e8", "user ids"},
		{`{"type":"event","name":"x","to":"everyone","id":"e9"}`, "bad_message", "e9", `"to"`},
		{`{"type":"event","name":7,"id":"e10"}`, "bad_message", "e10", `"name"`},
		{`{"type":"event","name":"x","excludeSelf":"yes","id":"e11"}`, "bad_message", "e11", `"excludeSelf"`},
		{"{\"type\":\"event\",\"name\":\"x\",\"data\":\"\xff\",\"id\":\"e12\"}", "invalid", "e12", "UTF-8"},
		{`{"type":"event","name":"x","data":{"a":1},"id":"has:colon"}`, "invalid", "", "id"},
		{`{"type":"event","name":"x","data":{"a":1}`, "bad_message", "", "JSON"},
		{`{"type":"event","name":"x","data":}`, "bad_message", "", "JSON"},
	}
	for _, tc := range cases {
		a.send(tc.msg)
		m := a.nextOf("error")
		id, _ := m["id"].(string)
		if m["code"] != tc.code || id != tc.id || !strings.Contains(m["message"].(string), tc.says) {
			t.Errorf("%s\n got %v, want %s with id %q saying %q", tc.msg, m, tc.code, tc.id, tc.says)
		}
	}
	// Data of exactly the limit, and the session is still open.
	fits := `"` + strings.Repeat("y", 98) + `"`
	a.send(`{"type":"event","name":"fits","data":` + fits + `,"id":"ok"}`)
	if name, data, _ := a.nextEvent(); name != "fits" || data != fits {
		t.Fatalf("the fitting event: %s %s", name, data)
	}
	if m := a.nextOf("eventAck"); m["delivered"] != 1.0 {
		t.Fatalf("ack %v", m)
	}
	// Before join, an event is refused like anything else.
	b := dialRaw(t, base, id, "")
	b.send(`{"type":"event","name":"early","id":"e0"}`)
	if m := b.nextOf("error"); m["code"] != "not_joined" || m["id"] != "e0" {
		t.Fatalf("before join: %v", m)
	}
}

// TestViewOnlySessionsSendEventsOnlyWhenAllowed: by default a view-only
// session's event is refused (read_only) and reaches nobody; the edit
// link turns the document's viewerEvents on, every session hears of it
// (meta), and then the viewer's events go through. A view link may not
// change the setting.
func TestViewOnlySessionsSendEventsOnlyWhenAllowed(t *testing.T) {
	forBackends(t, testViewOnlySessionsSendEventsOnlyWhenAllowed)
}

func testViewOnlySessionsSendEventsOnlyWhenAllowed(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	doc := createFull(t, base, `{"name":"v.txt","text":"v"}`)
	editor := joinRaw(t, base, doc.ID, "editor-0123456789")
	viewer := joinAs(t, base, doc.Links.View, "", "viewer-0123456789", "")
	asked := joinAs(t, base, doc.ID, "?readonly=1", "asked-0123456789", "")
	for _, v := range []*rawConn{viewer, asked} {
		v.send(`{"type":"event","name":"hi","to":["` + editor.user + `"],"id":"v1"}`)
		if m := v.nextOf("error"); m["code"] != "read_only" || m["id"] != "v1" || !strings.Contains(m["message"].(string), "viewerEvents") {
			t.Fatalf("a view-only session's event: %v", m)
		}
	}
	if st, _ := postJSON(t, "PATCH", base+"/api/docs/"+doc.Links.View, "", `{"settings":{"viewerEvents":true}}`); st != http.StatusForbidden {
		t.Fatalf("PATCH with the view link: %d", st)
	}
	st, body := postJSON(t, "PATCH", base+"/api/docs/"+doc.ID, "", `{"settings":{"viewerEvents":true}}`)
	if st != http.StatusOK || body["settings"].(map[string]any)["viewerEvents"] != true || body["name"] != "v.txt" {
		t.Fatalf("PATCH: %d %v", st, body)
	}
	for _, r := range []*rawConn{editor, viewer, asked} {
		if m := r.nextOf("meta"); m["doc"].(map[string]any)["settings"].(map[string]any)["viewerEvents"] != true {
			t.Fatalf("meta: %v", m)
		}
	}
	viewer.send(`{"type":"event","name":"hi","to":["` + editor.user + `"],"id":"v2"}`)
	if m := viewer.nextOf("eventAck"); m["delivered"] != 1.0 {
		t.Fatalf("ack: %v", m)
	}
	// The first thing the editor hears from the viewer is the allowed event.
	if name, _, from := editor.nextEvent(); name != "hi" || from != viewer.user {
		t.Fatalf("the editor got %s from %s", name, from)
	}
	// A join sees the setting; turning it off takes effect at once.
	if st, _ := postJSON(t, "PATCH", base+"/api/docs/"+doc.ID, "", `{"settings":{"viewerEvents":false}}`); st != http.StatusOK {
		t.Fatal(st)
	}
	viewer.nextOf("meta")
	viewer.send(`{"type":"event","name":"hi","id":"v3"}`)
	if m := viewer.nextOf("error"); m["code"] != "read_only" || m["id"] != "v3" {
		t.Fatalf("after turning it off: %v", m)
	}
	late := dialRaw(t, base, doc.Links.View, "")
	late.send(`{"type":"join"}`)
	if m := late.nextOf("joined"); m["doc"].(map[string]any)["settings"].(map[string]any)["viewerEvents"] != false {
		t.Fatalf("joined: %v", m["doc"])
	}
}

// TestAppDataIsSharedAndTokensFixIt: a client's app data is in joined,
// user messages and the presence route; a change replaces or removes keys
// one by one; too much data is refused; an embed token's keys cannot be
// changed and win at join.
func TestAppDataIsSharedAndTokensFixIt(t *testing.T) {
	forBackends(t, testAppDataIsSharedAndTokensFixIt)
}

func testAppDataIsSharedAndTokensFixIt(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{APIToken: adminToken, MaxUserDataBytes: 200})
	doc := createFull(t, base, `{"name":"d.txt","text":"d"}`)
	ann := joinAs(t, base, doc.ID, "", "ann-0123456789abcdef", `"name":"Ann","data":{"role":"author","status":"here"}`)
	bob := joinRaw(t, base, doc.ID, "bob-0123456789abcdef")
	presence := func() map[string]any {
		t.Helper()
		resp, err := http.Get(base + "/api/docs/" + doc.Links.View + "/presence")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct{ Users []map[string]any }
		json.NewDecoder(resp.Body).Decode(&p)
		for _, u := range p.Users {
			if u["id"] == ann.user {
				d, _ := json.Marshal(u["data"])
				return map[string]any{"data": string(d)}
			}
		}
		t.Fatal("Ann is not in presence")
		return nil
	}
	if p := presence(); p["data"] != `{"role":"author","status":"here"}` {
		t.Fatalf("presence: %v", p)
	}
	ann.send(`{"type":"profile","data":{"status":"away","avatar":"/a.png","role":null}}`)
	m := bob.nextOf("user")["user"].(map[string]any)
	if d, _ := json.Marshal(m["data"]); string(d) != `{"avatar":"/a.png","status":"away"}` || m["name"] != "Ann" {
		t.Fatalf("user: %v", m)
	}
	if p := presence(); p["data"] != `{"avatar":"/a.png","status":"away"}` {
		t.Fatalf("presence: %v", p)
	}
	for _, bad := range []string{
		`{"type":"profile","data":{"big":"` + strings.Repeat("x", 200) + `"}}`,
		`{"type":"profile","data":{"a":"` + strings.Repeat("x", 90) + `","b":"` + strings.Repeat("x", 90) + `"}}`,
		`{"type":"profile","data":[1]}`,
		`{"type":"profile","data":null}`,
	} {
		ann.send(bad)
		if e := ann.nextOf("error"); e["code"] != "invalid" {
			t.Errorf("%s: %v", bad, e)
		}
	}
	if p := presence(); p["data"] != `{"avatar":"/a.png","status":"away"}` {
		t.Fatalf("a refused change changed the data: %v", p)
	}
	// Ann's second session (another tab of one client) sets the data
	// anew: the last to join wins, and everyone hears of it.
	joinAs(t, base, doc.ID, "", "ann-0123456789abcdef", `"name":"Ann","data":{"status":"back"}`)
	if m := bob.nextOf("user")["user"].(map[string]any); m["id"] != ann.user || m["data"].(map[string]any)["status"] != "back" {
		t.Fatalf("Ann's second session: %v", m)
	}
	cat := dialRaw(t, base, doc.ID, "")
	cat.send(`{"type":"join","data":{"x":"` + strings.Repeat("x", 200) + `"}}`)
	if e := cat.nextOf("error"); e["code"] != "invalid" || !strings.Contains(e["message"].(string), "more than 200") {
		t.Fatalf("a join with too much data: %v", e)
	}

	// An embed token fixes role and keeps admin absent.
	st, tok := postJSON(t, "POST", base+"/api/docs/"+doc.ID+"/embed-tokens", adminToken, `{"mode":"view","name":"Stu","data":{"role":"student","admin":null}}`)
	if st != http.StatusCreated {
		t.Fatalf("mint: %d %v", st, tok)
	}
	handle := strings.TrimPrefix(strings.Split(tok["url"].(string), "?")[0], "/embed/")
	stu := joinAs(t, base, handle, "?token="+tok["token"].(string), "stu-0123456789abcdef", `"data":{"role":"teacher","admin":true,"status":"new"}`)
	u := bob.nextOf("user")["user"].(map[string]any)
	if d, _ := json.Marshal(u["data"]); string(d) != `{"role":"student","status":"new"}` || u["name"] != "Stu" || u["id"] != stu.user {
		t.Fatalf("the token's data: %v", u)
	}
	for _, change := range []string{`{"role":"teacher"}`, `{"role":null}`, `{"admin":true}`} {
		stu.send(`{"type":"profile","data":` + change + `}`)
		if e := stu.nextOf("error"); e["code"] != "invalid" || !strings.Contains(e["message"].(string), "set by the token") {
			t.Errorf("%s: %v", change, e)
		}
	}
	stu.send(`{"type":"profile","data":{"role":"student","status":"typing"}}`)
	u = bob.nextOf("user")["user"].(map[string]any)
	if d, _ := json.Marshal(u["data"]); string(d) != `{"role":"student","status":"typing"}` {
		t.Fatalf("after an allowed change: %v", u)
	}
	// Minting refuses data no session could carry.
	if st, _ := postJSON(t, "POST", base+"/api/docs/"+doc.ID+"/embed-tokens", adminToken, `{"mode":"view","data":["x"]}`); st != http.StatusBadRequest {
		t.Errorf("minting with an array for data: %d", st)
	}
	if st, _ := postJSON(t, "POST", base+"/api/docs/"+doc.ID+"/embed-tokens", adminToken, `{"mode":"view","data":{"x":"`+strings.Repeat("x", 300)+`"}}`); st != http.StatusBadRequest {
		t.Errorf("minting with too much data: %d", st)
	}
}

// TestEventsFromTheBackend: POST /api/docs/{id}/events reaches the
// document's sessions (all, or chosen users) as "api" or "admin", needs
// edit access and is limited per document; POST /api/admin/events reaches
// every session of the server, and needs the API token.
func TestEventsFromTheBackend(t *testing.T) { forBackends(t, testEventsFromTheBackend) }

func testEventsFromTheBackend(t *testing.T, bk backend) {
	clock, _ := standingClock()
	_, base := bk.testServer(t, Config{APIToken: adminToken, EventsPerSecond: 2, Now: clock})
	one := createFull(t, base, `{"name":"one.txt","text":"1"}`)
	two := createFull(t, base, `{"name":"two.txt","text":"2"}`)
	idle := createFull(t, base, `{"name":"idle.txt","text":"3"}`)
	a := joinRaw(t, base, one.ID, "a-0123456789abcdef")
	b := joinAs(t, base, one.Links.View, "", "b-0123456789abcdef", "")
	c := joinRaw(t, base, two.ID, "c-0123456789abcdef")

	url := base + "/api/docs/" + one.ID + "/events"
	if st, body := postJSON(t, "POST", url, "", `{"name":"tests","data":{"state":"running"}}`); st != 200 || body["delivered"] != 2.0 {
		t.Fatalf("to all: %d %v", st, body)
	}
	for _, r := range []*rawConn{a, b} {
		if name, data, from := r.nextEvent(); name != "tests" || data != `{"state":"running"}` || from != "api" {
			t.Fatalf("got %s %s from %s", name, data, from)
		}
	}
	if st, body := postJSON(t, "POST", url, adminToken, `{"name":"direct","to":["`+b.user+`"]}`); st != 200 || body["delivered"] != 1.0 {
		t.Fatalf("to one: %d %v", st, body)
	}
	if name, data, from := b.nextEvent(); name != "direct" || data != "null" || from != "admin" {
		t.Fatalf("got %s %s from %s", name, data, from)
	}
	for _, tc := range []struct {
		url, token, body string
		want             int
	}{
		{base + "/api/docs/" + one.Links.View + "/events", "", `{"name":"x"}`, 403},
		{base + "/api/docs/nope/events", "", `{"name":"x"}`, 404},
		{url, "", `{"name":"bad name"}`, 400},
		{url, "", `{"name":"x","to":[]}`, 400},
		{url, "", `{"name":"x","extra":1}`, 400},
		{url, "", `{"name":"x","data":"` + strings.Repeat("x", 9000) + `"}`, 400},
		{base + "/api/docs/" + idle.ID + "/events", "", `{"name":"x"}`, 200},
		{base + "/api/admin/events", "", `{"name":"x"}`, 401},
		{base + "/api/admin/events", "wrong", `{"name":"x"}`, 401},
		{base + "/api/admin/events", adminToken, `{"name":""}`, 400},
	} {
		if st, body := postJSON(t, "POST", tc.url, tc.token, tc.body); st != tc.want {
			t.Errorf("POST %s %s: %d %v, want %d", tc.url, tc.body, st, body, tc.want)
		}
	}
	// The per-document limit: 2 a second, bursts of 4; one token is left
	// from the first request. The administrator is not limited.
	for i := range 3 {
		if st, _ := postJSON(t, "POST", url, "", `{"name":"burst"}`); st != 200 {
			t.Fatalf("event %d of the burst: %d", i, st)
		}
	}
	if st, body := postJSON(t, "POST", url, "", `{"name":"burst"}`); st != http.StatusTooManyRequests || body["code"] != "rate_limited" {
		t.Fatalf("beyond the burst: %d %v", st, body)
	}
	if st, _ := postJSON(t, "POST", url, adminToken, `{"name":"burst"}`); st != 200 {
		t.Fatalf("the administrator: %d", st)
	}

	// An announcement reaches every session of every document.
	st, body := postJSON(t, "POST", base+"/api/admin/events", adminToken, `{"name":"restart","data":{"in":300}}`)
	if st != 200 || body["delivered"] != 3.0 || body["documents"] != 2.0 {
		t.Fatalf("announcement: %d %v", st, body)
	}
	for _, r := range []*rawConn{a, b, c} {
		for {
			name, data, from := r.nextEvent()
			if name == "burst" {
				continue
			}
			if name != "restart" || data != `{"in":300}` || from != "admin" {
				t.Fatalf("got %s %s from %s", name, data, from)
			}
			break
		}
	}
	// To chosen users, wherever they are.
	if st, body := postJSON(t, "POST", base+"/api/admin/events", adminToken, `{"name":"dm","to":["`+c.user+`"]}`); st != 200 || body["delivered"] != 1.0 || body["documents"] != 1.0 {
		t.Fatalf("to one user: %d %v", st, body)
	}
	if name, _, _ := c.nextEvent(); name != "dm" {
		t.Fatalf("c got %s", name)
	}
}

// TestEventsSkipASessionFarBehind: a session that does not read is not
// closed for the events others send it; once more than half its send
// buffer waits, events skip it (the acks count 0), and when it reads
// again it gets the events queued before that, in order, then everything
// after, and it was never dropped.
func TestEventsSkipASessionFarBehind(t *testing.T) { forBackends(t, testEventsSkipASessionFarBehind) }

func testEventsSkipASessionFarBehind(t *testing.T, bk backend) {
	srv, base := bk.testServer(t, Config{EventsPerSecond: 1e6, SendBuffer: 256 << 10})
	id := mkdoc(t, base, "")
	sender := joinRaw(t, base, id, "sender-0123456789")
	stuck := joinRaw(t, base, id, "stuck-0123456789")
	data := `"` + strings.Repeat("z", 8000) + `"`
	skipped := 0
	sent := 0
	for ; sent < 20000 && skipped == 0; sent++ {
		sender.send(fmt.Sprintf(`{"type":"event","name":"e%d","data":%s,"to":["%s"],"id":"i%d"}`, sent, data, stuck.user, sent))
		if m := sender.nextOf("eventAck"); m["delivered"] == 0.0 {
			skipped++
		}
	}
	if skipped == 0 {
		t.Fatalf("%d events of 8 KB to a session that does not read were all queued", sent)
	}
	// An edit still reaches it: no 4001.
	sender.send(`{"type":"op","rev":0,"id":"sender-0123456789:1","op":["edit"]}`)
	sender.nextOf("ack")
	last := -1
	stuck.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for done := false; !done; {
		msgs, err := stuck.frame()
		if err != nil {
			t.Fatalf("the stuck session, after event %d: %v", last, err)
		}
		for _, m := range msgs {
			switch m["type"] {
			case "event":
				var k int
				fmt.Sscanf(m["name"].(string), "e%d", &k)
				if k != last+1 {
					t.Fatalf("event e%d after e%d", k, last)
				}
				last = k
			case "op":
				done = true
			}
		}
	}
	if last != sent-2 {
		t.Errorf("the stuck session got events up to e%d; e%d was the first skipped", last, sent-1)
	}
	if m := metricsText(t, base); !strings.Contains(m, `collab_sessions_dropped_total{reason="slow_consumer"} 0`) {
		t.Error("a session was dropped as a slow consumer")
	}
	if srv.open.Load() != 2 {
		t.Errorf("%d sessions open", srv.open.Load())
	}
}
