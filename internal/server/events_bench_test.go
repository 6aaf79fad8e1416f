package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/gorilla/websocket"
)

// BenchmarkEditUnderEventFlood measures one session's edit round trip
// (insert, ack) while another client floods the document with app events
// as fast as its socket takes them: "quiet" has no flood; "flood" the
// default limits (20 events a second, and a session closed after 10 bursts
// refused in a row), so the flooder is cut off at once; "flood-reconnecting"
// the same with a flooder that connects again each time it is cut off; and
// "flood-unlimited" no effective limit, so every event reaches the
// editor's session too, ahead of its acks. The flooder runs on the same
// machine, so its own CPU counts against the editor too. handledEvents/s
// is the rate the server read the flood at (let through or refused),
// deliveredEvents/s what reached the editor, reconnects/s how often the
// flooder was cut off and came back.
//
//	go test -run '^$' -bench EditUnderEventFlood ./internal/server/
func BenchmarkEditUnderEventFlood(b *testing.B) {
	for _, bc := range []struct {
		name             string
		flood, reconnect bool
		rate             float64
	}{
		{"quiet", false, false, 0},
		{"flood", true, false, 0},
		{"flood-reconnecting", true, true, 0},
		{"flood-unlimited", true, false, 1e9},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, base := testServer(b, Config{EventsPerSecond: bc.rate})
			handled := func() float64 {
				return metricValue(b, base, "collab_events_total") + metricValue(b, base, "collab_events_refused_total")
			}
			id := mkdoc(b, base, "")
			var delivered atomic.Int64
			flooded := make(chan struct{}) // closed when the flood's first event reaches the editor
			var once sync.Once
			ctx := context.Background()
			editor, err := client.Dial(ctx, client.Config{URL: base, Doc: id, OnEvent: func(client.Event) {
				delivered.Add(1)
				once.Do(func() { close(flooded) })
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer editor.Close()

			var reconnects atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if bc.flood {
				wg.Add(1)
				go func() {
					defer wg.Done()
					flood(base, id, bc.reconnect, stop, &reconnects)
				}()
				defer func() {
					close(stop)
					wg.Wait()
				}()
				select { // the flood is on
				case <-flooded:
				case <-time.After(10 * time.Second):
					b.Fatal("no event of the flood reached the editor")
				}
			}
			delivered.Store(0)
			reconnects.Store(0)
			handled0 := handled()
			start := time.Now()
			b.ResetTimer()
			for i := range b.N {
				if err := editor.Insert(i, "x"); err != nil {
					b.Fatal(err)
				}
				if err := editor.WaitSynced(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			secs := time.Since(start).Seconds()
			b.ReportMetric((handled()-handled0)/secs, "handledEvents/s")
			b.ReportMetric(float64(delivered.Load())/secs, "deliveredEvents/s")
			b.ReportMetric(float64(reconnects.Load())/secs, "reconnects/s")
			if editor.Err() != nil {
				b.Fatal(fmt.Errorf("the editor's session ended: %w", editor.Err()))
			}
		})
	}
}

// flood sends events to everyone on document id until stop is closed or,
// unless reconnect is set, the server closes its session.
func flood(base, id string, reconnect bool, stop chan struct{}, reconnects *atomic.Int64) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + id + "/ws"
	msg := []byte(`{"type":"event","name":"flood","data":{"text":"` + strings.Repeat("x", 200) + `"},"excludeSelf":true}`)
	for {
		conn, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			return
		}
		go func() { // read everything: refusals, the close
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					conn.Close()
					return
				}
			}
		}()
		conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","client":"flooder-0123456789"}`))
		for {
			select {
			case <-stop:
				conn.Close()
				return
			default:
			}
			if conn.WriteMessage(websocket.TextMessage, msg) != nil {
				break
			}
		}
		conn.Close()
		if !reconnect {
			return
		}
		reconnects.Add(1)
	}
}

// metricValue reads a counter of the server's /metrics.
func metricValue(tb testing.TB, base, name string) float64 {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	tb.Fatalf("no %s in /metrics", name)
	return 0
}
