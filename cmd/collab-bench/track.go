package main

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collab-editor/collab/client"
)

// clock is the run's time line: every instant is a duration since base
// (monotonic), and the measurement window is [start, end). Before the
// warmup ends start is +∞, so nothing counts; before editing stops end is
// +∞.
type clock struct {
	base  time.Time
	start atomic.Int64 // time.Duration since base
	end   atomic.Int64 // time.Duration since base
}

func newClock() *clock {
	c := &clock{base: time.Now()}
	c.start.Store(math.MaxInt64)
	c.end.Store(math.MaxInt64)
	return c
}

func (c *clock) now() time.Duration { return time.Since(c.base) }

// measured reports whether an instant is at or after the measurement start
// (ops sent then count, wherever their ack falls).
func (c *clock) measured(t time.Duration) bool { return int64(t) >= c.start.Load() }

// inWindow reports whether an instant is inside the measurement window.
func (c *clock) inWindow(t time.Duration) bool {
	return int64(t) >= c.start.Load() && int64(t) < c.end.Load()
}

// docTrack follows the ops of one document: from each op's ack, when it
// was sent (ack time − OnAck's latency); from each peer's OnRemote, when
// that peer had it. An op's all-peers latency is the newest peer's receipt
// minus its send time, counted once every other client of the document has
// it. One lock per document keeps the callbacks of different documents
// from contending.
type docTrack struct {
	clk   *clock
	peers int // clients of the document besides an op's author

	mu      sync.Mutex          // guards the fields below
	pending map[string]*opTrack // ops not yet acked and received by every peer
	acked   []string            // every acknowledged op id, warmup included
	ackLat  []time.Duration     // submit→ack of measured ops
	peerLat []time.Duration     // submit→every peer of measured ops
	ops     int                 // measured acknowledged ops (sent at or after start)
	window  int                 // of those, sent before end
}

type opTrack struct {
	sent  time.Duration // since clk.base; known once acked
	acked bool
	recv  int           // peers that have it
	last  time.Duration // the newest peer receipt
}

func newDocTrack(clk *clock, clients int) *docTrack {
	return &docTrack{clk: clk, peers: clients - 1, pending: map[string]*opTrack{}}
}

// ack is the author's OnAck.
func (t *docTrack) ack(a client.Ack) {
	now := t.clk.now()
	sent := now - a.Latency
	t.mu.Lock()
	defer t.mu.Unlock()
	// Peers and the revision log know an op by its public id.
	id := a.Public
	t.acked = append(t.acked, id)
	if t.clk.measured(sent) {
		t.ops++
		t.ackLat = append(t.ackLat, a.Latency)
		if t.clk.inWindow(sent) {
			t.window++
		}
	}
	if t.peers == 0 {
		return
	}
	o := t.op(id)
	o.sent, o.acked = sent, true
	t.done(id, o)
}

// remote is every peer's OnRemote.
func (t *docTrack) remote(r client.Remote) {
	if r.ID == "" || t.peers == 0 {
		return // an edit through the REST API: not ours
	}
	now := t.clk.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.op(r.ID)
	o.recv++
	o.last = max(o.last, now)
	t.done(r.ID, o)
}

func (t *docTrack) op(id string) *opTrack {
	o := t.pending[id]
	if o == nil {
		o = &opTrack{}
		t.pending[id] = o
	}
	return o
}

// done records and forgets an op once acked and received by every peer.
// Called with mu held.
func (t *docTrack) done(id string, o *opTrack) {
	if !o.acked || o.recv < t.peers {
		return
	}
	if t.clk.measured(o.sent) {
		t.peerLat = append(t.peerLat, o.last-o.sent)
	}
	delete(t.pending, id)
}

// incomplete counts measured acknowledged ops some peer never received
// (it resynced with the whole text instead, or the run ended first).
func (t *docTrack) incomplete() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, o := range t.pending {
		if o.acked && t.clk.measured(o.sent) {
			n++
		}
	}
	return n
}

// Quant is a latency distribution in milliseconds (nearest rank).
type Quant struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func quantiles(d []time.Duration) Quant {
	if len(d) == 0 {
		return Quant{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	return Quant{N: len(d), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(d[len(d)-1])}
}
