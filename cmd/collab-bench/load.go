package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
)

// Result is what a run measured.
type Result struct {
	Mode             string  `json:"mode"`
	Docs             int     `json:"docs"`
	Clients          int     `json:"clientsPerDoc"`
	Rate             float64 `json:"ratePerClient"`
	Seconds          float64 `json:"seconds"`
	Edits            int64   `json:"edits"`
	AckedOps         int64   `json:"ackedOps"`
	AckedOpsPerSec   float64 `json:"ackedOpsPerSec"`
	EditsPerSec      float64 `json:"editsPerSec"`
	AckMs            Quant   `json:"ackMs"`
	AllPeersMs       Quant   `json:"allPeersMs"`
	ServerCPUPerOpUs float64 `json:"serverCpuPerOpUs"`
	ServerRSSMB      float64 `json:"serverRssMB"`
	Errors           int     `json:"errors"`
	Reconnects       int     `json:"reconnects"`
	Converged        bool    `json:"converged"`
	ConvergenceError string  `json:"convergenceError,omitempty"`
	IdleConns        int     `json:"idleConns,omitempty"`
	KBPerConn        float64 `json:"serverKBPerConn,omitempty"`
}

// Quant is a latency distribution in milliseconds.
type Quant struct {
	N                  int
	P50, P95, P99, Max float64
}

func (q Quant) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"n": q.N, "p50": q.P50, "p95": q.P95, "p99": q.P99, "max": q.Max})
}

func quantiles(d []time.Duration) Quant {
	if len(d) == 0 {
		return Quant{}
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(p * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return Quant{N: len(d), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: float64(d[len(d)-1].Microseconds()) / 1000}
}

// metrics scrapes the server's CPU seconds and resident memory.
func metrics(base string) (cpu, rss float64, err error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "process_cpu_seconds_total":
			cpu = v
		case "process_resident_memory_bytes":
			rss = v
		}
	}
	return cpu, rss, sc.Err()
}

// codeText makes size bytes of code-like text.
func codeText(rng *rand.Rand, size int) string {
	var b strings.Builder
	for b.Len() < size {
		fmt.Fprintf(&b, "func f%d(x int) int { return x * %d } // héllo\n", rng.IntN(1e6), rng.IntN(100))
	}
	return b.String()[:size]
}

func createDoc(base string, i int, text string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("bench/f%d.go", i), "text": text})
	resp, err := http.Post(base+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var d struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&d) != nil {
		return "", fmt.Errorf("creating a document: %s", resp.Status)
	}
	return d.ID, nil
}

// opTrack follows one acknowledged op until every peer has it.
type opTrack struct {
	sent    time.Time
	recvMax time.Time
	recv    int
	acked   bool
}

type tracker struct {
	mu    sync.Mutex
	ops   map[string]*opTrack
	acks  []time.Duration
	ids   []map[string]bool // acked op ids per document
	peers int
}

func (t *tracker) get(id string) *opTrack {
	o := t.ops[id]
	if o == nil {
		o = &opTrack{}
		t.ops[id] = o
	}
	return o
}

func (t *tracker) ack(doc int, a client.Ack) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.get(a.ID)
	o.sent, o.acked = now.Add(-a.Latency), true
	t.acks = append(t.acks, a.Latency)
	t.ids[doc][a.ID] = true
}

func (t *tracker) remote(r client.Remote) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.get(r.ID)
	o.recv++
	if now.After(o.recvMax) {
		o.recvMax = now
	}
}

func (t *tracker) allPeers() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for _, o := range t.ops {
		if o.acked && o.recv >= t.peers && t.peers > 0 {
			out = append(out, o.recvMax.Sub(o.sent))
		}
	}
	return out
}

// load runs the editing workload.
func load(ctx context.Context, c Config) (*Result, error) {
	rng := rand.New(rand.NewPCG(c.Seed, 1))
	text := codeText(rng, c.DocSize)
	ids := make([]string, c.Docs)
	for i := range ids {
		var err error
		if ids[i], err = createDoc(c.URL, i, text); err != nil {
			return nil, err
		}
	}
	tr := &tracker{ops: map[string]*opTrack{}, ids: make([]map[string]bool, c.Docs), peers: c.Clients - 1}
	for i := range tr.ids {
		tr.ids[i] = map[string]bool{}
	}
	clients := make([][]*client.Client, c.Docs)
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	defer func() {
		for _, cs := range clients {
			for _, cl := range cs {
				cl.Close()
			}
		}
	}()
	for d, id := range ids {
		for k := 0; k < c.Clients; k++ {
			cl, err := client.Dial(dctx, client.Config{
				URL: c.URL, Doc: id, Name: fmt.Sprintf("bench-%d-%d", d, k), MaxBackoff: time.Second,
				OnAck:    func(a client.Ack) { tr.ack(d, a) },
				OnRemote: tr.remote,
			})
			if err != nil {
				return nil, fmt.Errorf("client %d of document %d: %w", k, d, err)
			}
			clients[d] = append(clients[d], cl)
		}
	}
	cpu0, _, err := metrics(c.URL)
	if err != nil {
		return nil, fmt.Errorf("reading the server's /metrics: %w", err)
	}

	start := time.Now()
	deadline := start.Add(c.Duration)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		edits int64
	)
	for d := range clients {
		for k, cl := range clients[d] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(c.Seed, uint64(d*100000+k+2)))
				n := edit(ctx, c, r, cl, deadline)
				mu.Lock()
				edits += n
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, rss1, err := metrics(c.URL)
	if err != nil {
		return nil, err
	}

	res := &Result{Mode: "open", Docs: c.Docs, Clients: c.Clients, Rate: c.Rate, Seconds: elapsed.Seconds(), Edits: edits}
	if c.Rate == 0 {
		res.Mode = "closed"
	}
	tr.mu.Lock()
	res.AckedOps = int64(len(tr.acks))
	res.AckMs = quantiles(append([]time.Duration(nil), tr.acks...))
	tr.mu.Unlock()
	res.AckedOpsPerSec = float64(res.AckedOps) / elapsed.Seconds()
	res.EditsPerSec = float64(edits) / elapsed.Seconds()
	if res.AckedOps > 0 {
		res.ServerCPUPerOpUs = (cpu1 - cpu0) / float64(res.AckedOps) * 1e6
	}
	res.ServerRSSMB = rss1 / (1 << 20)

	// Drain and check convergence.
	cctx, ccancel := context.WithTimeout(ctx, c.Drain)
	defer ccancel()
	res.Converged, res.ConvergenceError = converge(cctx, c, ids, clients, tr)
	res.AllPeersMs = quantiles(tr.allPeers())
	for _, cs := range clients {
		for _, cl := range cs {
			st := cl.Stats()
			res.Errors += st.Errors
			res.Reconnects += st.Reconnects
		}
	}
	return res, nil
}

// edit makes one client's edits until the deadline or the edit count; it
// returns how many it made.
func edit(ctx context.Context, c Config, r *rand.Rand, cl *client.Client, deadline time.Time) int64 {
	var n int64
	var tick <-chan time.Time
	if c.Rate > 0 {
		// Start at a random phase so clients do not edit in lockstep.
		time.Sleep(time.Duration(r.Float64() * float64(time.Second) / c.Rate))
		t := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
		defer t.Stop()
		tick = t.C
	}
	var cursor <-chan time.Time
	if c.CursorRate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / c.CursorRate))
		defer t.Stop()
		cursor = t.C
	}
	stop := time.NewTimer(time.Until(deadline))
	defer stop.Stop()
	for c.Edits == 0 || n < int64(c.Edits) {
		if c.Rate > 0 {
			select {
			case <-tick:
			case <-cursor:
				p := r.IntN(cl.Len() + 1)
				cl.SetCursor([]presence.Range{{Anchor: p, Head: p}})
				continue
			case <-stop.C:
				return n
			case <-ctx.Done():
				return n
			}
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		if err := cl.EditFunc(func(size int) (ot.Operation, error) { return randomEdit(r, c.Mix, size), nil }); err != nil {
			return n
		}
		n++
		if c.Rate == 0 {
			wctx, cancel := context.WithDeadline(ctx, deadline.Add(c.Drain))
			err := cl.WaitSynced(wctx)
			cancel()
			if err != nil {
				return n
			}
		}
	}
	return n
}

const pasteText = "\tif err != nil {\n\t\treturn fmt.Errorf(\"copy: %w\", err)\n\t}\n"

// randomEdit makes one edit of the mix on a text of size code points.
func randomEdit(r *rand.Rand, m Mix, size int) ot.Operation {
	k := r.IntN(m.Typing + m.Delete + m.Paste)
	var op ot.Operation
	switch {
	case k < m.Typing || size < 10:
		p := r.IntN(size + 1)
		s := "abcdefghij"[:1+r.IntN(5)]
		op.Retain(p).Insert(s).Retain(size - p)
	case k < m.Typing+m.Delete:
		n := 1 + r.IntN(5)
		p := r.IntN(size - n + 1)
		op.Retain(p).Delete(n).Retain(size - p - n)
	default:
		p := r.IntN(size + 1)
		op.Retain(p).Insert(strings.Repeat(pasteText, 1+r.IntN(40))).Retain(size - p)
	}
	return op
}

// converge waits until every client is synced and at the server's head,
// then checks texts and that each acknowledged op id is in the log once.
func converge(ctx context.Context, c Config, ids []string, clients [][]*client.Client, tr *tracker) (bool, string) {
	for d, id := range ids {
		for _, cl := range clients[d] {
			if err := cl.WaitSynced(ctx); err != nil {
				return false, fmt.Sprintf("document %d: a client did not sync: %v", d, err)
			}
		}
		head, text, err := restHead(c.URL, id)
		if err != nil {
			return false, err.Error()
		}
		for k, cl := range clients[d] {
			if err := cl.WaitRev(ctx, head); err != nil {
				return false, fmt.Sprintf("document %d client %d never reached revision %d: %v", d, k, head, err)
			}
			if cl.Text() != text {
				return false, fmt.Sprintf("document %d client %d text differs from the server's", d, k)
			}
		}
		seen, err := logIDs(c.URL, id)
		if err != nil {
			return false, err.Error()
		}
		tr.mu.Lock()
		for opID := range tr.ids[d] {
			if seen[opID] != 1 {
				tr.mu.Unlock()
				return false, fmt.Sprintf("document %d: acknowledged op %s is in the log %d times", d, opID, seen[opID])
			}
		}
		tr.mu.Unlock()
	}
	return true, ""
}

func restHead(base, id string) (uint64, string, error) {
	resp, err := http.Get(base + "/api/docs/" + id)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var d struct {
		Rev  uint64 `json:"rev"`
		Text string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return 0, "", err
	}
	return d.Rev, d.Text, nil
}

// logIDs counts the op ids in a document's revision log.
func logIDs(base, id string) (map[string]int, error) {
	seen := map[string]int{}
	after := uint64(0)
	for range 100000 {
		resp, err := http.Get(fmt.Sprintf("%s/api/docs/%s/revisions?after=%d&limit=1000", base, id, after))
		if err != nil {
			return nil, err
		}
		var page struct {
			Revisions []struct {
				Rev uint64 `json:"rev"`
				ID  string `json:"id"`
			} `json:"revisions"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, r := range page.Revisions {
			if r.ID != "" {
				seen[r.ID]++
			}
			after = r.Rev
		}
		if len(page.Revisions) < 1000 {
			return seen, nil
		}
	}
	return seen, fmt.Errorf("log of %s is longer than the tool reads", id)
}
