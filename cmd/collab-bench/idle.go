package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// idle opens c.Idle connections spread over c.Docs new documents, each
// joined and then silent (it answers pings), and reports the growth of
// the server's resident memory per connection. The documents' memory,
// loaded on their first join, is part of that growth. Against an IPv4
// loopback server the connections come from several loopback source
// addresses (127.0.0.1, 127.0.0.2, …), c.PerAddr from each, so as to stay
// within the server's limit of connections per client address (1,000 by
// default).
func idle(ctx context.Context, c Config, a *api) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout+c.Drain+2*c.Settle)
	defer cancel()
	res := &Result{Mode: "idle", URL: c.URL, Seed: c.Seed, Docs: c.Docs, IdleConns: c.Idle, Converged: true}
	text := codeText(rand.New(rand.NewPCG(c.Seed, 0)), c.DocSize)
	ids := make([]string, c.Docs)
	for i := range ids {
		var err error
		if ids[i], err = a.createDoc(ctx, fmt.Sprintf("bench/idle%d.go", i), text); err != nil {
			return nil, fmt.Errorf("creating document %d: %w", i, err)
		}
	}
	if err := sleep(ctx, min(c.Settle, time.Second)); err != nil {
		return nil, err
	}
	m0, err := a.metrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the server's metrics: %w", err)
	}

	sources := 1
	if loopbackV4(c.URL) {
		sources = min((c.Idle+c.PerAddr-1)/c.PerAddr, 254)
	}
	res.SourceAddrs = sources
	dialers := make([]*websocket.Dialer, sources)
	for i := range dialers {
		nd := &net.Dialer{Timeout: 10 * time.Second}
		if sources > 1 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		dialers[i] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 1024}
	}
	base := "ws" + strings.TrimPrefix(c.URL, "http") + "/api/docs/"

	conns := make([]*websocket.Conn, c.Idle)
	var readers sync.WaitGroup
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
		readers.Wait()
	}()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	for range min(dialParallel, c.Idle) {
		wg.Go(func() {
			for i := range next {
				conn, err := joinIdle(dctx, dialers[i%sources], base+ids[i%len(ids)]+"/ws", i)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("idle connection %d: %w", i, err)
						dcancel()
					}
				} else {
					conns[i] = conn
					readers.Go(func() { discard(conn) })
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range c.Idle {
		select {
		case next <- i:
		case <-dctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := dctx.Err(); err != nil {
		return nil, err
	}

	// Every session open, then let the server settle (its garbage
	// collector runs as it allocates).
	want := m0["collab_sessions"] + float64(c.Idle)
	for {
		m, err := a.metrics(ctx)
		if err != nil {
			return nil, err
		}
		if m["collab_sessions"] >= want {
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("waiting for %.0f sessions on the server: %w", want, err)
		}
	}
	if err := sleep(ctx, c.Settle); err != nil {
		return nil, err
	}
	m1, err := a.metrics(ctx)
	if err != nil {
		return nil, err
	}
	perConn := func(name string) float64 { return (m1[name] - m0[name]) / float64(c.Idle) / 1024 }
	res.ServerRSSBeforeMB = m0["process_resident_memory_bytes"] / mb
	res.ServerRSSMB = m1["process_resident_memory_bytes"] / mb
	res.ServerKBPerConn = perConn("process_resident_memory_bytes")
	res.HeapKBPerConn = perConn("go_memstats_heap_inuse_bytes")
	res.StackKBPerConn = perConn("go_memstats_stack_inuse_bytes")
	return res, nil
}

// joinIdle opens one connection and joins; it returns once joined.
func joinIdle(ctx context.Context, d *websocket.Dialer, url string, i int) (*websocket.Conn, error) {
	conn, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: %w", resp.Status, err)
		}
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"join","client":"idle-%d","name":"idle"}`, i)); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, frame, err := conn.ReadMessage()
	if err == nil && !bytes.Contains(frame, []byte(`"type":"joined"`)) {
		err = fmt.Errorf("not joined: %.200s", frame)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	return conn, nil
}

// discard reads and drops what the server sends (answering its pings)
// until the connection closes.
func discard(conn *websocket.Conn) {
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}
