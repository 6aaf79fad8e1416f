package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzSessionMessage sends arbitrary messages over a real WebSocket of a
// view-only session: the server must answer or close cleanly, never crash,
// and the document must not change.
func FuzzSessionMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"op","rev":1,"id":"f:1","op":[5,"x"]}`, `{"type":"cursor","rev":1,"ranges":[{"anchor":1,"head":2}]}`,
		`{"type":"profile","name":"<img src=x onerror=alert(1)>","color":"#ffffff"}`, `{"type":"chat","text":"hi"}`,
		`{"type":"join"}`, `[]`, `{}`, `null`, `{"type":"op","op":[-1,"\ud800"]}`, "{\"type\":\"chat\",\"text\":\"\xff\"}",
		`{"type":"event","name":"x","data":{"a":[1,"\ud800"]},"to":["u1","u2"],"id":"e1"}`, `{"type":"event","name":"y","excludeSelf":true}`,
		`{"type":"profile","data":{"status":"away","role":null}}`, `{"type":"join","data":{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	_, base := testServer(f, Config{CursorsPerSecond: 1e6, OpsPerSecond: 1e6})
	resp, err := http.Post(base+"/api/docs", "application/json", bytes.NewReader([]byte(`{"name":"f.txt","text":"hello"}`)))
	if err != nil {
		f.Fatal(err)
	}
	var c created
	json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	view := c.Links.View
	var conn *websocket.Conn
	f.Fuzz(func(t *testing.T, msg []byte) {
		if conn == nil {
			u := "ws" + base[len("http"):] + "/api/docs/" + view + "/ws"
			c, _, err := websocket.DefaultDialer.Dial(u, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","client":"fuzz"}`))
			conn = c
		}
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			conn.Close()
			conn = nil
			return
		}
		// A probe the server always answers: the answer proves it is alive
		// and has handled msg (messages are handled in order).
		conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"probe"}`))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				conn.Close()
				conn = nil
				break // closed cleanly (or by policy): reconnect next time
			}
			if bytes.Contains(data, []byte(`unknown message type \"probe\"`)) {
				break
			}
		}
		if text, rev := restText(t, base, view); text != "hello" || rev != 1 {
			t.Fatalf("document changed by %q: %q at %d", msg, text, rev)
		}
	})
}

// FuzzREST posts arbitrary bodies to the writing routes: every answer is a
// client error or success, never a server error, and one the OpenAPI
// document describes (checkAPI).
func FuzzREST(f *testing.F) {
	for _, s := range []string{`{"name":"a.go","text":"x"}`, `{"text":"y"}`, `{"rev":0}`, `{"name":"../../etc/passwd"}`, `{"name":"a","language":"` + string(make([]byte, 100)) + `"}`, `[`, ``, "\xff",
		`{"name":"tests","data":{"state":"running"},"to":["u1"]}`, `{"settings":{"viewerEvents":true}}`} {
		f.Add(byte(0), []byte(s))
		f.Add(byte(1), []byte(s))
	}
	srv, _ := testServer(f, Config{})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/api/docs", bytes.NewReader([]byte(`{"name":"f.txt","text":"hello"}`))))
	var c created
	json.Unmarshal(rec.Body.Bytes(), &c)
	edit := c.Links.Edit
	routes := []struct{ method, path, ctype string }{
		{"POST", "/api/docs", "application/json"},
		{"POST", "/api/docs?name=f.txt", "text/plain"},
		{"PUT", "/api/docs/{id}", "application/json"},
		{"PUT", "/api/docs/{id}", "text/plain"},
		{"PATCH", "/api/docs/{id}", "application/json"},
		{"POST", "/api/docs/{id}/restore", "application/json"},
		{"POST", "/api/docs/{id}/events", "application/json"},
		{"POST", "/api/docs", "application/xml"},
	}
	f.Fuzz(func(t *testing.T, route byte, body []byte) {
		rt := routes[int(route)%len(routes)]
		path := rt.path
		if i := bytes.Index([]byte(path), []byte("{id}")); i >= 0 {
			path = path[:i] + edit + path[i+4:]
		}
		req := httptest.NewRequest(rt.method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", rt.ctype)
		rec := httptest.NewRecorder()
		checkAPI(t, srv).ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
	})
}
