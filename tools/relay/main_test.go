package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRelay joins two sessions to a document over real WebSockets and
// checks the fan-out: the author gets an ack, the other session the edit,
// both numbered in one order.
func TestRelay(t *testing.T) {
	srv := httptest.NewServer(newHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/docs", "application/json", strings.NewReader(`{"name":"a.go"}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s, %v", resp.Status, err)
	}
	resp.Body.Close()
	join := func(client string) *websocket.Conn {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/docs/"+doc.ID+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.WriteJSON(map[string]string{"type": "join", "client": client}); err != nil {
			t.Fatal(err)
		}
		if m := read(t, c); m["type"] != "joined" {
			t.Fatalf("%s got %v, want joined", client, m)
		}
		return c
	}
	ann, bob := join("ann"), join("bob")
	for rev, c := range []*websocket.Conn{ann, bob} {
		id := []string{"ann:1", "bob:1"}[rev]
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"op","rev":0,"id":"`+id+`","op":["x"]}`)); err != nil {
			t.Fatal(err)
		}
		author, peer := c, []*websocket.Conn{bob, ann}[rev]
		if m := read(t, author); m["type"] != "ack" || m["id"] != id || m["rev"] != float64(rev+1) {
			t.Errorf("author got %v, want the ack of %s at %d", m, id, rev+1)
		}
		m := read(t, peer)
		if m["type"] != "op" || m["id"] != id || m["rev"] != float64(rev+1) || m["author"] != strings.Split(id, ":")[0] {
			t.Errorf("peer got %v, want %s at %d", m, id, rev+1)
		}
	}
	if resp, err := http.Get(srv.URL + "/api/docs/nope/ws"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown document: %v, %v", resp.Status, err)
	}
}

func read(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
