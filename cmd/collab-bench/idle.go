package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// idle opens c.Idle connections spread over c.Docs documents, each joined
// and then silent, and measures the server's resident memory per
// connection.
func idle(ctx context.Context, c Config) (*Result, error) {
	ids := make([]string, c.Docs)
	for i := range ids {
		var err error
		if ids[i], err = createDoc(c.URL, i, "package idle\n"); err != nil {
			return nil, err
		}
	}
	time.Sleep(time.Second)
	_, rss0, err := metrics(c.URL)
	if err != nil {
		return nil, err
	}
	conns := make([]*websocket.Conn, 0, c.Idle)
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	base := "ws" + strings.TrimPrefix(c.URL, "http")
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	for i := 0; i < c.Idle; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		conn, _, err := d.DialContext(ctx, base+"/api/docs/"+ids[i%len(ids)]+"/ws", nil)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, conn)
		conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"join"}`))
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	// Let the server settle (its garbage collector runs as it allocates).
	time.Sleep(5 * time.Second)
	_, rss1, err := metrics(c.URL)
	if err != nil {
		return nil, err
	}
	return &Result{Mode: "idle", Docs: c.Docs, IdleConns: c.Idle, ServerRSSMB: rss1 / (1 << 20),
		KBPerConn: (rss1 - rss0) / float64(c.Idle) / 1024, Converged: true}, nil
}
