package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/gorilla/websocket"
)

// testServer starts the real server on an httptest listener.
func testServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "ws.db"), docs.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, mgr, NewMetrics(), slog.New(slog.NewTextHandler(testLogOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Drain(ctx)
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
	t *testing.T
	c *websocket.Conn
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

func (r *rawConn) send(s string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// next returns the next message of the given type, unpacking batched frames.
func (r *rawConn) next(typ string) map[string]any {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := r.c.ReadMessage()
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var msgs []map[string]any
		if data[0] == '[' {
			json.Unmarshal(data, &msgs)
		} else {
			var m map[string]any
			json.Unmarshal(data, &m)
			msgs = append(msgs, m)
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

func TestHostileInputChangesNothing(t *testing.T) {
	_, base := testServer(t, Config{MaxMessageBytes: 64 << 10})
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

func TestReadOnlySessionCannotEdit(t *testing.T) {
	_, base := testServer(t, Config{})
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
	srv, base := testServer(t, Config{SendBuffer: 32 << 10, OpsPerSecond: 100000})
	id := mkdoc(t, base, "")
	slow := dialRaw(t, base, id, "")
	slow.send(`{"type":"join","client":"slow"}`)
	slow.next("joined") // and then never read again
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
	dropped := func() float64 {
		return testCounter(srv.metrics.dropped.WithLabelValues("slow_consumer"))
	}
	for i := 0; dropped() == 0; i++ {
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

func TestPresenceJoinCursorLeave(t *testing.T) {
	_, base := testServer(t, Config{PingPeriod: 50 * time.Millisecond, PongWait: 200 * time.Millisecond})
	id := mkdoc(t, base, "0123456789")
	ann := dialRaw(t, base, id, "")
	ann.send(`{"type":"join","client":"ann","name":"Ann","color":"#112233"}`)
	ann.next("joined")
	bob := dialRaw(t, base, id, "")
	bob.send(`{"type":"join","client":"bob","name":"<b>Bob</b>"}`)
	j := bob.next("joined")
	if users := j["users"].([]any); len(users) != 2 {
		t.Fatalf("users at join: %v", users)
	}
	if u := ann.next("user")["user"].(map[string]any); u["name"] != "<b>Bob</b>" {
		t.Fatalf("user: %v", u)
	}
	bob.send(`{"type":"cursor","rev":1,"ranges":[{"anchor":2,"head":4}]}`)
	if m := ann.next("cursor"); m["user"] != "bob" {
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
		if u.ID == "bob" && (len(u.Ranges) != 1 || u.Ranges[0].Anchor != 4 || u.Ranges[0].Head != 6) {
			t.Fatalf("bob's selection after the insert: %+v", u.Ranges)
		}
	}
	// Bob's connection dies without a close frame and stops answering
	// pings: the heartbeat finds it and Ann hears that Bob left.
	bob.c.UnderlyingConn().Close()
	if m := ann.next("leave"); m["user"] != "bob" {
		t.Fatalf("leave: %v", m)
	}
}

func TestDrainClosesWithGoingAway(t *testing.T) {
	srv, base := testServer(t, Config{})
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
