package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/gorilla/websocket"
)

// testServer is the local backend's testServer: for the tests that are
// about a single node's bbolt file, or not about the documents' backend.
func testServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	return localBackend.testServer(t, cfg)
}

// serveTest is serveTest on the local backend.
func serveTest(t testing.TB, cfg Config, dcfg docs.Config, wrap func(http.Handler) http.Handler) (*Server, string) {
	t.Helper()
	return localBackend.serveTest(t, cfg, dcfg, wrap)
}

// serveManager is serveTest over the documents of mgr.
func serveManager(t testing.TB, cfg Config, mgr *docs.Manager, wrap func(http.Handler) http.Handler) (*Server, string) {
	t.Helper()
	srv := New(cfg, mgr, NewMetrics(), slog.New(slog.NewTextHandler(testLogOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h := checkAPI(t, srv)
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Drain(ctx)
		srv.Close()
		mgr.Close()
	})
	return srv, hs.URL
}

func mkdoc(t testing.TB, base, text string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": "f.txt", "text": text})
	resp, err := http.Post(base+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&d)
	if d.ID == "" {
		t.Fatalf("create: %s", resp.Status)
	}
	return d.ID
}

func restText(t testing.TB, base, id string) (string, uint64) {
	t.Helper()
	resp, err := http.Get(base + "/api/docs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Text string `json:"text"`
		Rev  uint64 `json:"rev"`
	}
	json.NewDecoder(resp.Body).Decode(&d)
	return d.Text, d.Rev
}

// rawConn is a bare WebSocket to the protocol, for hostile input.
type rawConn struct {
	t    *testing.T
	c    *websocket.Conn
	user string           // the public user id the server gave at join (joinRaw)
	left []map[string]any // read and not yet taken (see take)
}

func dialRaw(t *testing.T, base, id, query string) *rawConn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + id + "/ws" + query
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// joinRaw dials the document and joins it as client.
func joinRaw(t *testing.T, base, id, client string) *rawConn {
	t.Helper()
	r := dialRaw(t, base, id, "")
	r.send(`{"type":"join","client":"` + client + `"}`)
	r.user, _ = r.next("joined")["user"].(string)
	return r
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// frame reads the next frame and returns its messages (a batched frame
// is an array of them).
func (r *rawConn) frame() ([]map[string]any, error) {
	_, data, err := r.c.ReadMessage()
	if err != nil {
		return nil, err
	}
	var msgs []map[string]any
	if data[0] == '[' {
		json.Unmarshal(data, &msgs)
	} else {
		var m map[string]any
		json.Unmarshal(data, &m)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// next returns the next message of the given type, unpacking batched frames.
func (r *rawConn) next(typ string) map[string]any {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		msgs, err := r.frame()
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", typ, err)
		}
		for _, m := range msgs {
			if m["type"] == typ {
				return m
			}
		}
	}
}

// closeCode reads until the connection ends and returns its close code.
func (r *rawConn) closeCode() int {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := r.c.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			return -1
		}
	}
}

func TestHostileInputChangesNothing(t *testing.T) { forBackends(t, testHostileInputChangesNothing) }

func testHostileInputChangesNothing(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxMessageBytes: 64 << 10})
	id := mkdoc(t, base, "hello")
	r := dialRaw(t, base, id, "")
	r.send(`{"type":"op","rev":1,"id":"x:1","op":[5,"!"]}`)
	if m := r.next("error"); m["code"] != "not_joined" {
		t.Fatalf("before join: %v", m)
	}
	r.send(`{"type":"join","client":"evil"}`)
	r.next("joined")
	cases := []struct{ msg, code string }{
		{`{"type":`, "bad_message"},
		{`not json`, "bad_message"},
		{`[1,2,3]`, "bad_message"},
		{`{"type":"op","rev":"1","id":"evil:1","op":[5]}`, "bad_message"},
		{`{"type":"op","rev":-1,"id":"evil:1","op":[5]}`, "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[5,"\ud800"]}`, "bad_message"},
		{"{\"type\":\"op\",\"rev\":1,\"id\":\"evil:1\",\"op\":[5,\"\xff\"]}", "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[5,0]}`, "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[5.5]}`, "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[[[[[[[[[[1]]]]]]]]]]}`, "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[99999999999999999999]}`, "bad_message"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[6,"x"]}`, "bad_op"},
		{`{"type":"op","rev":1,"id":"evil:1","op":[-9]}`, "bad_op"},
		{`{"type":"op","rev":99,"id":"evil:1","op":[5,"x"]}`, "future_revision"},
		{`{"type":"op","rev":1,"id":"someone:1","op":[5,"x"]}`, "invalid"},
		{`{"type":"op","rev":1,"op":[5,"x"]}`, "invalid"},
		{`{"type":"op","id":"evil:2"}`, "invalid"},
		{`{"type":"launch"}`, "unknown_type"},
		{`{"type":"join"}`, "already_joined"},
		{`{"type":"cursor","rev":1,"ranges":[{"anchor":-1,"head":2}]}`, "invalid"},
		{`{"type":"cursor","rev":1,"ranges":[{"anchor":0,"head":99}]}`, "invalid"},
		{`{"type":"cursor","rev":7,"ranges":[]}`, "invalid"},
		{`{"type":"profile","color":"red"}`, "invalid"},
		{`{"type":"profile","name":"` + strings.Repeat("n", 100) + `"}`, "invalid"},
		{`{"type":"chat","text":""}`, "invalid"},
	}
	for _, tc := range cases {
		r.send(tc.msg)
		if m := r.next("error"); m["code"] != tc.code {
			t.Errorf("%s: got %v, want code %s", tc.msg, m, tc.code)
		}
	}
	if text, rev := restText(t, base, id); text != "hello" || rev != 1 {
		t.Fatalf("document changed: %q at %d", text, rev)
	}
	// A message over the size limit closes the session cleanly (1009).
	// (The server may close while the message is still being written, in
	// which case the write fails and the close frame may be lost.)
	werr := r.c.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("x", 70<<10)+`"}`))
	if code := r.closeCode(); code != websocket.CloseMessageTooBig && werr == nil {
		t.Errorf("oversize message: close code %d", code)
	}
	// Others are unaffected.
	c, err := client.Dial(context.Background(), client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Insert(5, " world"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitSynced(context.Background()); err != nil {
		t.Fatal(err)
	}
	if text, _ := restText(t, base, id); text != "hello world" {
		t.Fatalf("after hostile session: %q", text)
	}
}

func TestReadOnlySessionCannotEdit(t *testing.T) { forBackends(t, testReadOnlySessionCannotEdit) }

func testReadOnlySessionCannotEdit(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "abc")
	r := dialRaw(t, base, id, "?readonly=1")
	r.send(`{"type":"join","client":"viewer"}`)
	if m := r.next("joined"); m["readOnly"] != true {
		t.Fatalf("joined: %v", m)
	}
	for i := range 3 {
		r.send(`{"type":"op","rev":1,"id":"viewer:` + string(rune('1'+i)) + `","op":[3,"x"]}`)
		if m := r.next("error"); m["code"] != "read_only" {
			t.Fatalf("op from viewer: %v", m)
		}
	}
	// It still receives others' edits.
	c, err := client.Dial(context.Background(), client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Insert(0, ">")
	if m := r.next("op"); m["author"] != c.User() {
		t.Fatalf("viewer got %v", m)
	}
	if text, _ := restText(t, base, id); text != ">abc" {
		t.Fatalf("text %q", text)
	}
}

func TestSlowConsumerIsClosedOthersContinue(t *testing.T) {
	forBackends(t, testSlowConsumerIsClosedOthersContinue)
}

func testSlowConsumerIsClosedOthersContinue(t *testing.T, bk backend) {
	srv, base := bk.testServer(t, Config{SendBuffer: 32 << 10, OpsPerSecond: 100000})
	id := mkdoc(t, base, "")
	slow := joinRaw(t, base, id, "slow") // and then never read again
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fast, err := client.Dial(ctx, client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	watcher, err := client.Dial(ctx, client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	paste := strings.Repeat("0123456789abcdef", 256) // 4 KB
	// closing reports whether the server is closing the slow session, or
	// closed it. The counter of slow consumers would not say which one it
	// closed: a reader falls behind a burst of edits too (the watcher,
	// where edits are acknowledged faster than one fsync each), and
	// resumes as it reconnects.
	closing := func() bool {
		srv.mu.Lock()
		r := srv.rooms[id]
		srv.mu.Unlock()
		r.mu.Lock()
		defer r.mu.Unlock()
		for c := range r.clients {
			if c.user == slow.user {
				return c.ending.Load()
			}
		}
		return true
	}
	for i := 0; !closing(); i++ {
		if i == 5000 {
			t.Fatal("the slow consumer was never closed")
		}
		if err := fast.Insert(0, paste); err != nil {
			t.Fatal(err)
		}
		if err := fast.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		if fast.Len() > 512<<10 {
			fast.Delete(0, fast.Len())
			fast.WaitSynced(ctx)
		}
	}
	if code := slow.closeCode(); code != closeSlowConsumer && code != websocket.CloseAbnormalClosure && code != -1 {
		t.Errorf("slow consumer closed with %d", code)
	}
	fast.Insert(0, "still here")
	fast.WaitSynced(ctx)
	text, rev := restText(t, base, id)
	if err := watcher.WaitRev(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if watcher.Text() != text {
		t.Fatal("the watcher diverged")
	}
}

func TestPresenceJoinCursorLeave(t *testing.T) { forBackends(t, testPresenceJoinCursorLeave) }

func testPresenceJoinCursorLeave(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{PingPeriod: 50 * time.Millisecond, PongWait: 200 * time.Millisecond})
	id := mkdoc(t, base, "0123456789")
	ann := dialRaw(t, base, id, "")
	ann.send(`{"type":"join","client":"ann","name":"Ann","color":"#112233"}`)
	ann.next("joined")
	bob := dialRaw(t, base, id, "")
	bob.send(`{"type":"join","client":"bob","name":"<b>Bob</b>"}`)
	j := bob.next("joined")
	bobID := j["user"]
	if users := j["users"].([]any); len(users) != 2 {
		t.Fatalf("users at join: %v", users)
	}
	if u := ann.next("user")["user"].(map[string]any); u["name"] != "<b>Bob</b>" {
		t.Fatalf("user: %v", u)
	}
	bob.send(`{"type":"cursor","rev":1,"ranges":[{"anchor":2,"head":4}]}`)
	if m := ann.next("cursor"); m["user"] != bobID {
		t.Fatalf("cursor: %v", m)
	}
	// Ann inserts before Bob's selection: the server moves it.
	ann.send(`{"type":"op","rev":1,"id":"ann:1","op":["xx",10]}`)
	ann.next("ack")
	resp, _ := http.Get(base + "/api/docs/" + id + "/presence")
	var p struct {
		Users []struct {
			ID     string
			Ranges []struct{ Anchor, Head int }
		}
	}
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	for _, u := range p.Users {
		if u.ID == bobID && (len(u.Ranges) != 1 || u.Ranges[0].Anchor != 4 || u.Ranges[0].Head != 6) {
			t.Fatalf("bob's selection after the insert: %+v", u.Ranges)
		}
	}
	// Bob's connection ends without a close frame: Ann hears that Bob left.
	bob.c.UnderlyingConn().Close()
	if m := ann.next("leave"); m["user"] != bobID {
		t.Fatalf("leave: %v", m)
	}
}

// TestHeartbeatDropsSilentPeer: a peer whose connection stays open but
// who stops answering pings (a laptop lid closed, a dead NAT mapping) is
// dropped once the pong timeout passes, and the others see it leave.
func TestHeartbeatDropsSilentPeer(t *testing.T) { forBackends(t, testHeartbeatDropsSilentPeer) }

func testHeartbeatDropsSilentPeer(t *testing.T, bk backend) {
	const pongWait = time.Second
	_, base := bk.testServer(t, Config{PingPeriod: pongWait / 4, PongWait: pongWait})
	id := mkdoc(t, base, "x")
	ann := joinRaw(t, base, id, "ann")
	bob := joinRaw(t, base, id, "bob")
	ann.next("user")
	// From now on Bob never reads, so his side never answers a ping; his
	// TCP connection stays open. Ann reads, so she answers hers.
	silent := time.Now()
	if m := ann.next("leave"); m["user"] != bob.user {
		t.Fatalf("leave: %v", m)
	}
	t.Logf("bob dropped %v after going silent (pong timeout %v)", time.Since(silent), pongWait)
	if m := metricsText(t, base); !strings.Contains(m, `collab_sessions_dropped_total{reason="heartbeat_timeout"} 1`) {
		t.Errorf("the heartbeat drop is not counted:\n%s", m)
	}
	resp, err := http.Get(base + "/api/docs/" + id + "/presence")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct{ Users []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&p)
	if len(p.Users) != 1 || p.Users[0].ID != ann.user {
		t.Fatalf("presence after bob went silent: %+v", p.Users)
	}
	// The server closed Bob's connection: reading it now ends (after what
	// was queued for him) instead of waiting.
	bob.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := bob.c.ReadMessage()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept bob's connection open")
		}
		if err != nil {
			break
		}
	}
}

// TestPingIsAnswered: the client's own heartbeat. Each ping after join is
// answered with a pong and changes nothing; one before join is refused
// like any other message.
func TestPingIsAnswered(t *testing.T) { forBackends(t, testPingIsAnswered) }

func testPingIsAnswered(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "x")
	early := dialRaw(t, base, id, "")
	early.send(`{"type":"ping"}`)
	if m := early.next("error"); m["code"] != "not_joined" {
		t.Fatalf("a ping before join: %v", m)
	}
	ann := joinRaw(t, base, id, "ann-heartbeat-client")
	for range 3 {
		ann.send(`{"type":"ping"}`)
		ann.next("pong")
	}
	ann.send(`{"type":"op","rev":1,"id":"ann-heartbeat-client:1","op":[1,"y"]}`)
	ann.send(`{"type":"ping"}`)
	var seen []string
	ann.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !slices.Contains(seen, "pong") || !slices.Contains(seen, "ack") {
		msgs, err := ann.frame()
		if err != nil {
			t.Fatalf("after an op and a ping, got only %v: %v", seen, err)
		}
		for _, m := range msgs {
			seen = append(seen, m["type"].(string))
		}
	}
	if text, rev := restText(t, base, id); text != "xy" || rev != 2 {
		t.Fatalf("after pings: %q at %d", text, rev)
	}
}

func TestDrainClosesWithGoingAway(t *testing.T) { forBackends(t, testDrainClosesWithGoingAway) }

func testDrainClosesWithGoingAway(t *testing.T, bk backend) {
	srv, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "x")
	r := dialRaw(t, base, id, "")
	r.send(`{"type":"join"}`)
	r.next("joined")
	go srv.Drain(context.Background())
	if code := r.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
}

var testLogOut io.Writer = io.Discard

// metricsText returns the server's /metrics page.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProtocolDocExamples keeps docs/PROTOCOL.md honest: every message type
// the server takes or sends has an example there, each example a client
// sends decodes with no unknown field, and each example the server sends
// has the fields (recursively) of a message the real server sent in the
// session below. An object key "…" in an example stands for "and more".
func TestProtocolDocExamples(t *testing.T) { forBackends(t, testProtocolDocExamples) }

func testProtocolDocExamples(t *testing.T, bk backend) {
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "PROTOCOL.md"))
	if err != nil {
		t.Fatal(err)
	}
	toClient := strings.Index(string(md), "## Server → client")
	if toClient < 0 {
		t.Fatal(`docs/PROTOCOL.md has no "## Server → client" section`)
	}
	examples := map[bool]map[string][]map[string]any{false: {}, true: {}} // by "from the server"
	rest, at := string(md), 0
	for {
		i := strings.Index(rest, "```json\n")
		if i < 0 {
			break
		}
		block, after, _ := strings.Cut(rest[i+len("```json\n"):], "```")
		fromServer := at+i > toClient
		dec := json.NewDecoder(strings.NewReader(block))
		for dec.More() {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("docs/PROTOCOL.md: an example is not JSON: %v\n%s", err, block)
			}
			typ, _ := m["type"].(string)
			examples[fromServer][typ] = append(examples[fromServer][typ], m)
		}
		at += len(rest) - len(after)
		rest = after
	}

	for _, typ := range []string{"join", "op", "cursor", "profile", "chat", "event", "ping"} {
		if len(examples[false][typ]) == 0 {
			t.Errorf("docs/PROTOCOL.md has no example of the client's %q", typ)
		}
	}
	for typ, ms := range examples[false] {
		for _, m := range ms {
			raw, _ := json.Marshal(m)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var in inMsg
			if err := dec.Decode(&in); err != nil {
				t.Errorf("docs/PROTOCOL.md: the client's %q example %s: %v", typ, raw, err)
			}
		}
	}

	// A session that makes the server send every kind of message.
	_, base := bk.testServer(t, Config{APIToken: adminToken})
	id := mkdoc(t, base, "hello")
	real := map[string][]map[string]any{}
	got := func(r *rawConn, typ string) map[string]any {
		t.Helper()
		m := r.next(typ)
		real[typ] = append(real[typ], m)
		return m
	}
	ann := dialRaw(t, base, id, "")
	ann.send(`{"type":"join","client":"ann","name":"Ann","color":"#e06c75","data":{"role":"reviewer"}}`)
	annUser, _ := got(ann, "joined")["user"].(string)
	bob := dialRaw(t, base, id, "")
	bob.send(`{"type":"join","client":"bob","name":"Bob"}`)
	got(bob, "joined")
	got(ann, "user")
	bob.send(`{"type":"cursor","rev":1,"ranges":[{"anchor":1,"head":3}]}`)
	got(ann, "cursor")
	ann.send(`{"type":"op","rev":1,"id":"ann:1","op":[5," world"]}`)
	got(ann, "ack")
	got(bob, "op")
	ann.send(`{"type":"op","rev":1,"id":"ann:1","op":[5," world"]}`)
	if m := got(ann, "ack"); m["duplicate"] != true {
		t.Fatalf("a resend's ack: %v", m)
	}
	ann.send(`{"type":"op","rev":2,"id":"ann:2","op":[99,"x"]}`)
	got(ann, "error")
	ann.send(`{"type":"profile","name":"Ann B."}`)
	got(bob, "user")
	bob.send(`{"type":"chat","text":"hi"}`)
	got(ann, "chat")
	ann.send(`{"type":"ping"}`)
	got(ann, "pong")
	ann.send(`{"type":"profile","data":{"status":"away"}}`)
	got(bob, "user") // with data
	bob.send(`{"type":"event","name":"follow-me","data":{"line":3},"to":["` + annUser + `"],"id":"e1"}`)
	got(ann, "event")
	got(bob, "eventAck")
	req, _ := http.NewRequest("POST", base+"/api/admin/events", strings.NewReader(`{"name":"restart","data":{"in":300}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/admin/events: %v %v", resp, err)
	}
	got(ann, "event")
	req, _ = http.NewRequest("PATCH", base+"/api/docs/"+id, strings.NewReader(`{"name":"hello.go"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %v %v", resp, err)
	}
	resp.Body.Close()
	got(ann, "meta")
	putText(t, base, id, "hello, world") // an edit of the API's, with no op id
	got(bob, "op")
	dave := dialRaw(t, base, id, "")
	dave.send(`{"type":"join"}`)
	got(dave, "joined") // with Bob's cursor in users
	carol := dialRaw(t, base, id, "")
	carol.send(`{"type":"join","client":"carol","rev":1}`)
	if m := got(carol, "joined"); m["resumed"] != true {
		t.Fatalf("a resumed join: %v", m)
	}
	bob.c.Close()
	got(ann, "leave")

	for typ := range real {
		if len(examples[true][typ]) == 0 {
			t.Errorf("docs/PROTOCOL.md has no example of the server's %q", typ)
		}
	}
	for typ, ms := range examples[true] {
		if len(real[typ]) == 0 {
			t.Errorf("docs/PROTOCOL.md shows a server message %q the test never saw", typ)
			continue
		}
		for _, m := range ms {
			if !someShape(m, real[typ]) {
				raw, _ := json.Marshal(m)
				var shapes []string
				for _, r := range real[typ] {
					shapes = append(shapes, shape(r))
				}
				t.Errorf("docs/PROTOCOL.md: the example %s\nhas the shape %s; the server sent %s", raw, shape(m), strings.Join(shapes, " or "))
			}
		}
	}
}

// sameShape reports whether doc (an example) has the keys of real,
// recursively: objects with the same keys (a key "…" in doc allows more),
// arrays whose every element has the shape of some element of real's.
func sameShape(doc, real any) bool {
	switch d := doc.(type) {
	case map[string]any:
		r, ok := real.(map[string]any)
		if !ok {
			return false
		}
		_, open := d["…"]
		for k, v := range d {
			if k == "…" {
				continue
			}
			rv, ok := r[k]
			if !ok || !sameShape(v, rv) {
				return false
			}
		}
		return open || len(d) == len(r)
	case []any:
		r, ok := real.([]any)
		if !ok {
			return false
		}
		for _, v := range d {
			if !someShape(v, r) {
				return false
			}
		}
		return true
	}
	return true // a scalar: any value stands for any
}

func someShape[T any](doc any, reals []T) bool {
	for _, r := range reals {
		if sameShape(doc, r) {
			return true
		}
	}
	return false
}

// shape is the keys of a message, recursively, for a failure message.
func shape(v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + shape(v[k])
		}
		return "{" + strings.Join(keys, " ") + "}"
	case []any:
		if len(v) > 0 {
			return "[" + shape(v[0]) + "…]"
		}
		return "[]"
	}
	return ""
}
