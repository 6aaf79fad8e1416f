package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/gorilla/websocket"
)

// TestSilentReadersDoNotStallOtherDocuments: sessions that never read
// fill their send buffers and are closed as slow consumers, while a writer
// on another document keeps getting its acks. Closing a peer that does not
// read waits up to WriteWait for the close frame to go out; here that is a
// minute, so the other document's ack can only arrive if that wait happens
// off the goroutine that delivers every document's revisions — and it
// arrives while the silent sessions are still connected.
func TestSilentReadersDoNotStallOtherDocuments(t *testing.T) {
	forBackends(t, testSilentReadersDoNotStallOtherDocuments)
}

func testSilentReadersDoNotStallOtherDocuments(t *testing.T, bk backend) {
	const silentN = 10
	srv, base := bk.testServer(t, Config{SendBuffer: 256 << 10, OpsPerSecond: 100000, WriteWait: time.Minute})
	hot := mkdoc(t, base, "")
	other := mkdoc(t, base, "calm")
	for i := range silentN {
		joinRaw(t, base, hot, fmt.Sprintf("silent%d", i)) // and never read again
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	flood, err := client.Dial(ctx, client.Config{URL: base, Doc: hot})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	calm, err := client.Dial(ctx, client.Config{URL: base, Doc: other})
	if err != nil {
		t.Fatal(err)
	}
	defer calm.Close()

	dropped := func() float64 { return testCounter(srv.metrics.dropped.WithLabelValues(dropSlowConsumer)) }
	// Pieces well below the send buffer: a session is dropped only once
	// its socket is full and its writes wait.
	paste := strings.Repeat("0123456789abcdef", 1024) // 16 KB
	for i := 0; dropped() < silentN; i++ {
		if i == 20000 {
			t.Fatalf("only %v of %d silent sessions were closed", dropped(), silentN)
		}
		if err := flood.Insert(0, paste); err != nil {
			t.Fatal(err)
		}
		if flood.Len() > 512<<10 {
			flood.Delete(0, flood.Len())
		}
		if err := flood.WaitSynced(ctx); err != nil {
			t.Fatalf("the flooding writer's own acks stalled: %v", err)
		}
	}
	if err := calm.Insert(0, "still "); err != nil {
		t.Fatal(err)
	}
	if err := calm.WaitSynced(ctx); err != nil {
		t.Fatalf("the other document's ack stalled: %v", err)
	}
	if open := srv.open.Load(); open < silentN+2 {
		t.Errorf("%d sessions open when the other document's ack arrived; the %d silent ones should still be closing", open, silentN)
	}
	if text, _ := restText(t, base, other); text != "still calm" {
		t.Errorf("other document: %q", text)
	}
}

// TestColdLoadDoesNotBlockOtherDocuments: while one document loads (held
// up here), other documents' sessions join, edit and leave.
func TestColdLoadDoesNotBlockOtherDocuments(t *testing.T) {
	forBackends(t, testColdLoadDoesNotBlockOtherDocuments)
}

func testColdLoadDoesNotBlockOtherDocuments(t *testing.T, bk backend) {
	srv, base := bk.testServer(t, Config{})
	live := mkdoc(t, base, "live")
	cold := mkdoc(t, base, "cold")
	loading, release := make(chan struct{}), make(chan struct{})
	open := srv.openDoc
	srv.openDoc = func(id string) (*docs.Document, error) {
		if id == cold {
			close(loading)
			<-release
		}
		return open(id)
	}
	a := joinRaw(t, base, live, "a")

	c := dialRaw(t, base, cold, "")
	c.send(`{"type":"join","client":"cold1"}`)
	<-loading
	// A second session of the cold document waits for the same load.
	c2 := dialRaw(t, base, cold, "")
	c2.send(`{"type":"join","client":"cold2"}`)

	b := joinRaw(t, base, live, "b") // needs the server's room table
	a.send(`{"type":"op","rev":1,"id":"a:1","op":[4,"!"]}`)
	if m := a.next("ack"); m["rev"] != 2.0 {
		t.Fatalf("ack: %v", m)
	}
	if m := b.next("op"); m["rev"] != 2.0 {
		t.Fatalf("b: %v", m)
	}
	b.c.Close()
	a.next("leave")

	close(release)
	for _, s := range []*rawConn{c, c2} {
		if m := s.next("joined"); m["text"] != "cold" {
			t.Fatalf("cold join: %v", m)
		}
	}
}

// TestResumeIsCappedByBytes: a client resuming from far back gets the
// revisions while they are small, the text once they pass
// MaxResumeBytes — read from disk, beyond the memory window, either way.
func TestResumeIsCappedByBytes(t *testing.T) { forBackends(t, testResumeIsCappedByBytes) }

func testResumeIsCappedByBytes(t *testing.T, bk backend) {
	_, base := bk.serveTest(t, Config{MaxResumeBytes: 64 << 10}, docs.Config{MaxBytes: 1 << 20, Window: 4}, nil)
	id := mkdoc(t, base, "")
	w := joinRaw(t, base, id, "writer")
	big := strings.Repeat("x", 10<<10)
	for i := range 20 { // 20 revisions of 10 KB: 200 KB of operations
		op := fmt.Sprintf(`[%q]`, big)
		if i > 0 {
			op = fmt.Sprintf(`[%q,%d]`, big, i*len(big))
		}
		w.send(fmt.Sprintf(`{"type":"op","rev":%d,"id":"writer:%d","op":%s}`, i, i+1, op))
		w.next("ack")
	}
	join := func(rev int) map[string]any {
		r := dialRaw(t, base, id, "")
		r.send(fmt.Sprintf(`{"type":"join","rev":%d}`, rev))
		return r.next("joined")
	}
	if m := join(0); m["resumed"] != false || m["text"] != strings.Repeat(big, 20) || len(m["ops"].([]any)) != 0 {
		t.Errorf("resume over 200 KB of operations: resumed %v, %d ops", m["resumed"], len(m["ops"].([]any)))
	}
	if m := join(15); m["resumed"] != true || len(m["ops"].([]any)) != 5 || m["text"] != nil {
		t.Errorf("resume over 50 KB of operations: resumed %v, %d ops", m["resumed"], len(m["ops"].([]any)))
	}
	if m := join(20); m["resumed"] != true || m["ops"] == nil || len(m["ops"].([]any)) != 0 {
		t.Errorf("resume with nothing missed: %v", m)
	}
	// A revision the document never had is refused, not answered with text.
	r := dialRaw(t, base, id, "")
	r.send(`{"type":"join","rev":99}`)
	if m := r.next("error"); m["code"] != "future_revision" {
		t.Errorf("resume from the future: %v", m)
	}
	r.send(`{"type":"join"}`)
	r.next("joined")
}

// TestFailedUpgradesGiveBackTheirSlot: refused upgrades (a plain GET, a
// foreign Origin) do not use up the per-address connection limit.
func TestFailedUpgradesGiveBackTheirSlot(t *testing.T) {
	forBackends(t, testFailedUpgradesGiveBackTheirSlot)
}

func testFailedUpgradesGiveBackTheirSlot(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{MaxConnsPerAddr: 2})
	id := mkdoc(t, base, "x")
	u := base + "/api/docs/" + id + "/ws"
	for range 5 {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET of the WebSocket URL: %s", resp.Status)
		}
		_, resp, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(u, "http"), http.Header{"Origin": {"https://evil.example"}})
		if err == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin: %v %v", err, resp)
		}
	}
	joinRaw(t, base, id, "a")
	joinRaw(t, base, id, "b")
}

// TestClientIDsStaySecret: nothing another session or a REST caller sees
// names a session's client id, so no one can submit ops in its name; an
// attacker who joins under the victim's public user id gets its own op
// id space, and the victim's next edit is applied as usual.
func TestClientIDsStaySecret(t *testing.T) { forBackends(t, testClientIDsStaySecret) }

func testClientIDsStaySecret(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "")
	const secret = "victimsecret0123456789"
	victim := joinRaw(t, base, id, secret)
	spy := dialRaw(t, base, id, "")
	spy.send(`{"type":"join","client":"spy"}`)
	var seen []string
	keep := func(m any) { b, _ := json.Marshal(m); seen = append(seen, string(b)) }
	keep(spy.next("joined"))
	victim.send(`{"type":"cursor","rev":0,"ranges":[{"anchor":0,"head":0}]}`)
	keep(spy.next("cursor"))
	victim.send(`{"type":"op","rev":0,"id":"` + secret + `:1","op":["a"]}`)
	if m := victim.next("ack"); m["id"] != secret+":1" {
		t.Fatalf("victim's ack: %v", m)
	}
	op := spy.next("op")
	keep(op)
	if op["id"] != victim.user+":1" || op["author"] != victim.user {
		t.Errorf("the victim's op as others see it: %v", op)
	}
	for _, path := range []string{"", "/revisions", "/presence"} {
		resp, err := http.Get(base + "/api/docs/" + id + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen = append(seen, string(b))
	}
	for _, s := range seen {
		if strings.Contains(s, secret) {
			t.Fatalf("the victim's client id is visible: %s", s)
		}
	}
	// The attacker takes the victim's user id as its client id and
	// submits the victim's next sequence number, and a huge one.
	evil := joinRaw(t, base, id, victim.user)
	evil.send(`{"type":"op","rev":1,"id":"` + victim.user + `:2","op":[1,"b"]}`)
	evil.next("ack")
	evil.send(`{"type":"op","rev":2,"id":"` + victim.user + `:9999999999","op":[2,"c"]}`)
	evil.next("ack")
	victim.send(`{"type":"op","rev":1,"id":"` + secret + `:2","op":[1,"!"]}`)
	if m := victim.next("ack"); m["duplicate"] == true || m["rev"] != 4.0 {
		t.Fatalf("the victim's own edit after the attack: %v", m)
	}
	if text, _ := restText(t, base, id); len(text) != 4 {
		t.Errorf("text %q: an edit was lost", text)
	}
}

// TestChatAndProfileFloodsAreLimited: a view-only session cannot flood the
// document's chat history or everyone's screens with profile changes.
func TestChatAndProfileFloodsAreLimited(t *testing.T) {
	forBackends(t, testChatAndProfileFloodsAreLimited)
}

func testChatAndProfileFloodsAreLimited(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	c := createFull(t, base, `{"name":"a","text":"x"}`)
	watcher := joinRaw(t, base, c.ID, "watcher")
	flood := dialRaw(t, base, c.Links.View, "")
	flood.send(`{"type":"join","client":"flood"}`)
	flood.next("joined")
	watcher.next("user")
	const n = 100
	for i := range n {
		flood.send(fmt.Sprintf(`{"type":"chat","text":"spam %d"}`, i))
		flood.send(fmt.Sprintf(`{"type":"profile","name":"spam %d"}`, i))
	}
	flood.send(`{"type":"cursor","rev":1,"ranges":[]}`) // a marker after the flood
	chats, users, limited := 0, 0, 0
	watcher.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for done := false; !done; {
		msgs, err := watcher.frame()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			switch m["type"] {
			case "chat":
				chats++
			case "user":
				users++
			case "cursor":
				done = true
			}
		}
	}
	flood.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for limited < 2*n-chats-users {
		msgs, err := flood.frame()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m["type"] == "error" && m["code"] == "rate_limited" {
				limited++
			}
		}
	}
	if chats > chatBurst+2 || users > profileBurst+2 {
		t.Errorf("%d of %d chat messages and %d of %d profile changes went through", chats, n, users, n)
	}
	resp, err := http.Get(base + "/api/docs/" + c.ID + "/chat")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var kept struct{ Messages []any }
	json.NewDecoder(resp.Body).Decode(&kept)
	if len(kept.Messages) != chats {
		t.Errorf("%d chat messages kept, %d broadcast", len(kept.Messages), chats)
	}
}

// TestBadMessageNamesTheOp: an op the server cannot read still names its
// id, so the client knows which operation was refused.
func TestBadMessageNamesTheOp(t *testing.T) { forBackends(t, testBadMessageNamesTheOp) }

func testBadMessageNamesTheOp(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{})
	id := mkdoc(t, base, "")
	a := joinRaw(t, base, id, "a")
	a.send(`{"type":"op","rev":1,"id":"a:1","op":["\ud800"]}`)
	if m := a.next("error"); m["id"] != "a:1" {
		t.Fatalf("a lone surrogate: %v", m)
	}
	a.send(`{"type":"op","rev":"one","id":"a:2","op":["x"]}`)
	if m := a.next("error"); m["code"] != "bad_message" || m["id"] != "a:2" {
		t.Fatalf("a rev of the wrong type: %v", m)
	}
}

// TestReconnectingFloodIsLimitedByAddress: a client that opens new
// connections as fast as it can, each with fresh per-session limits, is
// held to ConnsPerSecond new connections from its address; connections
// already open go on working.
func TestReconnectingFloodIsLimitedByAddress(t *testing.T) {
	forBackends(t, testReconnectingFloodIsLimitedByAddress)
}

func testReconnectingFloodIsLimitedByAddress(t *testing.T, bk backend) {
	_, base := bk.testServer(t, Config{ConnsPerSecond: 0.1}) // a burst of one, then one every ten seconds
	id := mkdoc(t, base, "x")
	a := joinRaw(t, base, id, "a")
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + id + "/ws"
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		c.Close()
		t.Fatal("a second new connection at once was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a connection over the rate: %v %v", err, resp)
	}
	a.send(`{"type":"op","rev":1,"id":"a:1","op":[1,"!"]}`)
	if m := a.next("ack"); m["rev"] != 2.0 {
		t.Fatalf("the open session: %v", m)
	}
}
