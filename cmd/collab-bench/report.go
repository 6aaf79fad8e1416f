package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what a run measured; with -json it is printed as one line.
type Result struct {
	Mode string `json:"mode"`          // "open" (a -rate), "closed" (-rate 0) or "idle"
	Raw  bool   `json:"raw,omitempty"` // -raw clients: no convergence check
	URL  string `json:"url"`
	Seed uint64 `json:"seed"`
	Docs int    `json:"docs"`

	// Editing runs.
	Clients          int     `json:"clientsPerDoc"`
	Rate             float64 `json:"ratePerClient"`
	OfferedEditsPerS float64 `json:"offeredEditsPerSec"`
	Mix              string  `json:"mix,omitempty"`
	DocBytes         int     `json:"docBytes"`
	CursorRate       float64 `json:"cursorRate"`
	WarmupSeconds    float64 `json:"warmupSeconds"`
	Seconds          float64 `json:"seconds"`         // the measurement window
	Edits            int     `json:"edits"`           // made in the window
	EditsPerSec      float64 `json:"editsPerSec"`     //
	AckedOps         int     `json:"ackedOps"`        // sent in the window and acknowledged
	AckedOpsPerSec   float64 `json:"ackedOpsPerSec"`  //
	AckMs            Quant   `json:"ackMs"`           // submit→ack, every op sent from the window's start
	AllPeersMs       Quant   `json:"allPeersMs"`      // submit→every other client of the document has it
	AllPeersMissing  int     `json:"allPeersMissing"` // acked ops some peer never received as an op
	CursorsSent      int     `json:"cursorsSent"`     //
	CursorsSkipped   int     `json:"cursorsSkipped"`  // an edit was in flight

	// ServerReset: the server restarted between the two scrapes of
	// /metrics, so its counters started again from zero. The server-side
	// figures below then cover only the time since the restart (the new
	// process's counters alone), and ServerCPUPerOpUs, which divides by the
	// ops of the whole window, is 0 for unknown.
	ServerReset        bool    `json:"serverReset"`
	ServerCPUSeconds   float64 `json:"serverCpuSeconds"`   // from the window's start until every op was acked
	ServerCPUPerOpUs   float64 `json:"serverCpuPerOpUs"`   // ServerCPUSeconds / ops acked
	ServerOpsApplied   float64 `json:"serverOpsApplied"`   // the server's own count, same span
	ServerCommits      float64 `json:"serverCommits"`      // group commits (fsyncs), same span
	ServerOpsPerCommit float64 `json:"serverOpsPerCommit"` //
	ServerCommitMs     float64 `json:"serverCommitMs"`     // mean duration of a commit
	ServerGCCycles     float64 `json:"serverGcCycles"`     //
	// ServerEditP99Ms bounds the server's own 99th percentile from an op's
	// arrival to its ack queued for the socket: the upper bound of the
	// collab_edit_seconds bucket that holds it (0 if the server has none, -1
	// if past the last bound).
	ServerEditP99Ms float64 `json:"serverEditP99Ms,omitempty"`
	// ServerCommitP99Ms and ServerCommitMaxMs bound the 99th percentile and
	// the slowest of the server's group commits, each the fsync that the
	// edits of one commit wait for: the upper bounds of the
	// collab_commit_seconds buckets that hold them (0 if the server has
	// none, -1 if past the last bound). A slow commit delays every edit
	// that arrives meanwhile: a disk that stalls for 100 ms once in a run
	// of 2,000 edits/s puts the 200 edits of that stall in the tail.
	ServerCommitP99Ms float64 `json:"serverCommitP99Ms,omitempty"`
	ServerCommitMaxMs float64 `json:"serverCommitMaxMs,omitempty"`

	ServerRSSBeforeMB float64 `json:"serverRssBeforeMB"`
	ServerRSSMB       float64 `json:"serverRssMB"`

	Errors        int            `json:"errors"`                // error messages from the server
	ErrorCodes    map[string]int `json:"errorCodes,omitempty"`  //
	Reconnects    int            `json:"reconnects"`            //
	Duplicates    int            `json:"duplicateAcks"`         // acks of resent ops
	FailedClients int            `json:"failedClients"`         // clients that stopped with an error
	ClientError   string         `json:"clientError,omitempty"` // the first one's error

	Converged        bool   `json:"converged"`
	ConvergenceError string `json:"convergenceError,omitempty"`

	// Idle runs.
	IdleConns       int     `json:"idleConns,omitempty"`
	SourceAddrs     int     `json:"sourceAddrs,omitempty"` // loopback source addresses the connections came from
	ServerKBPerConn float64 `json:"serverKBPerConn,omitempty"`
	HeapKBPerConn   float64 `json:"heapKBPerConn,omitempty"`  // Go heap in use
	StackKBPerConn  float64 `json:"stackKBPerConn,omitempty"` // goroutine stacks
}

func newResult(c Config) *Result {
	r := &Result{Mode: "open", Raw: c.Raw, URL: c.URL, Seed: c.Seed, Docs: c.Docs, Clients: c.Clients, Rate: c.Rate,
		OfferedEditsPerS: c.Rate * float64(c.Docs*c.Clients), Mix: c.Mix.String(), DocBytes: c.DocSize,
		CursorRate: c.CursorRate, WarmupSeconds: c.Warmup.Seconds()}
	if c.Rate == 0 {
		r.Mode = "closed"
	}
	return r
}

const mb = 1 << 20

// server records the server's counters between two scrapes of /metrics.
// If the server restarted in between, they are the new process's alone.
func (r *Result) server(m0, m1 metrics) {
	r.ServerRSSBeforeMB = m0["process_resident_memory_bytes"] / mb
	r.ServerRSSMB = m1["process_resident_memory_bytes"] / mb
	if restarted(m0, m1) {
		r.ServerReset = true
		m0 = metrics{}
	}
	delta := func(name string) float64 { return m1[name] - m0[name] }
	r.ServerCPUSeconds = delta("process_cpu_seconds_total")
	r.ServerOpsApplied = delta("collab_ops_applied_total")
	r.ServerCommits = delta("collab_commit_batch_size_count")
	if r.ServerCommits > 0 {
		r.ServerOpsPerCommit = delta("collab_commit_batch_size_sum") / r.ServerCommits
		r.ServerCommitMs = delta("collab_commit_seconds_sum") / r.ServerCommits * 1000
	}
	r.ServerGCCycles = delta("go_gc_duration_seconds_count")
	r.ServerEditP99Ms = boundMs(bucketQuantile(m0, m1, "collab_edit_seconds", 0.99))
	r.ServerCommitP99Ms = boundMs(bucketQuantile(m0, m1, "collab_commit_seconds", 0.99))
	r.ServerCommitMaxMs = boundMs(bucketQuantile(m0, m1, "collab_commit_seconds", 1))
}

// restarted reports whether the server restarted between two scrapes: its
// process started at another time, or one of its counters went down
// (Prometheus's rule for a counter reset; a counter that vanished reads
// as 0). Either way every counter of the second scrape counts from the
// restart, so differences would mix two processes.
func restarted(m0, m1 metrics) bool {
	t0, ok0 := m0["process_start_time_seconds"]
	t1, ok1 := m1["process_start_time_seconds"]
	if ok0 && ok1 && t0 != t1 {
		return true
	}
	for key, v := range m0 {
		if counter(key) && m1[key] < v {
			return true
		}
	}
	return false
}

// counter reports whether a sample of metrics only grows while the
// process lives: a counter (named …_total, as the server's, the Go
// collector's and the process collector's all are) or a histogram's or
// summary's bucket, count or sum.
func counter(key string) bool {
	name, _, _ := strings.Cut(key, "{")
	for _, suffix := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// boundMs is a bucket bound from bucketQuantile in milliseconds, -1 for
// one past the last bound.
func boundMs(s float64) float64 {
	if math.IsInf(s, 1) {
		return -1
	}
	return s * 1000
}

// boundText reads a bound from boundMs: "≤ 0.8 ms", or "past the last
// bucket" for -1.
func boundText(ms float64) string {
	if ms < 0 {
		return "past the last bucket"
	}
	return fmt.Sprintf("≤ %g ms", ms)
}

// bucketQuantile is the upper bound of the bucket of histogram name that
// holds quantile q of the observations between two scrapes, or 0 if there
// were none.
func bucketQuantile(m0, m1 metrics, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for key, v := range m1 {
		le, ok := strings.CutPrefix(key, name+`_bucket{le="`)
		if !ok {
			continue
		}
		bound, err := strconv.ParseFloat(strings.TrimSuffix(le, `"}`), 64)
		if err != nil || math.IsInf(bound, 1) {
			continue
		}
		bs = append(bs, bucket{bound, v - m0[key]})
	}
	total := m1[name+"_count"] - m0[name+"_count"]
	if total <= 0 {
		return 0
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	for _, b := range bs {
		if b.n >= q*total {
			return b.le
		}
	}
	return math.Inf(1)
}

// collect gathers the latencies and counters of every document and client.
func (r *Result) collect(clk *clock, docs []*benchDoc, errs *tally) {
	window := time.Duration(clk.end.Load() - clk.start.Load())
	r.Seconds = window.Seconds()
	var acks, peers []time.Duration
	ops := 0
	for _, doc := range docs {
		t := doc.track
		t.mu.Lock()
		acks = append(acks, t.ackLat...)
		peers = append(peers, t.peerLat...)
		ops += t.ops
		r.AckedOps += t.window
		t.mu.Unlock()
		r.AllPeersMissing += t.incomplete()
		for k, cl := range doc.clients {
			st := cl.Stats()
			r.Errors += st.Errors
			r.Reconnects += st.Reconnects
			r.Duplicates += st.Duplicates
			err := cl.Err()
			if k < len(doc.workers) {
				w := doc.workers[k]
				r.Edits += w.edits
				r.CursorsSent += w.cursorsSent
				r.CursorsSkipped += w.cursorsSkipped
				err = cmp.Or(err, w.err)
			}
			if err != nil {
				r.FailedClients++
				r.ClientError = cmp.Or(r.ClientError, err.Error())
			}
		}
	}
	r.AckMs, r.AllPeersMs = quantiles(acks), quantiles(peers)
	if window > 0 {
		r.EditsPerSec = float64(r.Edits) / window.Seconds()
		r.AckedOpsPerSec = float64(r.AckedOps) / window.Seconds()
	}
	if ops > 0 && !r.ServerReset {
		r.ServerCPUPerOpUs = r.ServerCPUSeconds / float64(ops) * 1e6
	}
	errs.mu.Lock()
	if len(errs.n) > 0 {
		r.ErrorCodes = maps.Clone(errs.n)
	}
	errs.mu.Unlock()
}

// report prints the result: one JSON line with -json, a summary otherwise.
func report(w io.Writer, c Config, r *Result) error {
	if c.JSON || c.JSONOut != "" {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if c.JSONOut != "" {
			if err := os.WriteFile(c.JSONOut, b, 0o644); err != nil {
				return err
			}
		}
		if c.JSON {
			_, err = w.Write(b)
			return err
		}
	}
	if r.Mode == "idle" {
		_, err := fmt.Fprintf(w, "idle: %d connections over %d documents (from %d loopback addresses)\n"+
			"  server RSS %.1f MB → %.1f MB: %.1f KB per connection (Go heap %.1f KB, stacks %.1f KB)\n",
			r.IdleConns, r.Docs, r.SourceAddrs, r.ServerRSSBeforeMB, r.ServerRSSMB, r.ServerKBPerConn, r.HeapKBPerConn, r.StackKBPerConn)
		return err
	}
	var b strings.Builder
	how := fmt.Sprintf("%g edits/s per client, %g offered", r.Rate, r.OfferedEditsPerS)
	if r.Mode == "closed" {
		how = "closed loop"
	}
	fmt.Fprintf(&b, "%d documents × %d clients, %s, mix %s, %d-byte documents; measured %.1f s", r.Docs, r.Clients, how, r.Mix, r.DocBytes, r.Seconds)
	if r.WarmupSeconds > 0 {
		fmt.Fprintf(&b, " after %.1f s warmup", r.WarmupSeconds)
	}
	fmt.Fprintf(&b, "\n  throughput:        %.0f acknowledged ops/s (%d ops), %.0f edits/s (%d edits)\n", r.AckedOpsPerSec, r.AckedOps, r.EditsPerSec, r.Edits)
	q := func(name string, x Quant) {
		fmt.Fprintf(&b, "  %-18s p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)\n", name, x.P50, x.P95, x.P99, x.Max, x.N)
	}
	q("submit→ack:", r.AckMs)
	q("submit→all peers:", r.AllPeersMs)
	if r.AllPeersMissing > 0 {
		fmt.Fprintf(&b, "  (%d acknowledged ops not received as ops by every peer are left out)\n", r.AllPeersMissing)
	}
	if r.CursorRate > 0 {
		fmt.Fprintf(&b, "  cursors:           %d sent, %d skipped (an edit in flight)\n", r.CursorsSent, r.CursorsSkipped)
	}
	perOp := fmt.Sprintf("%.0f µs per acknowledged op", r.ServerCPUPerOpUs)
	if r.ServerReset {
		b.WriteString("  server restarted during the run: server-side figures cover only the time since the restart\n")
		perOp = "per acknowledged op unknown"
	}
	fmt.Fprintf(&b, "  server CPU:        %.2f s, %s (server applied %.0f ops in %.0f commits, %.1f ops and %.2f ms per commit; %.0f GCs)\n",
		r.ServerCPUSeconds, perOp, r.ServerOpsApplied, r.ServerCommits, r.ServerOpsPerCommit, r.ServerCommitMs, r.ServerGCCycles)
	fmt.Fprintf(&b, "  server RSS:        %.1f MB (%.1f MB before)\n", r.ServerRSSMB, r.ServerRSSBeforeMB)
	if r.ServerEditP99Ms != 0 {
		fmt.Fprintf(&b, "  server-side:       p99 %s from an op's arrival to its ack queued for the socket (collab_edit_seconds)\n", boundText(r.ServerEditP99Ms))
	}
	if r.ServerCommitMaxMs != 0 {
		fmt.Fprintf(&b, "  server commits:    p99 %s, slowest %s (collab_commit_seconds: the fsync each commit's edits wait for)\n",
			boundText(r.ServerCommitP99Ms), boundText(r.ServerCommitMaxMs))
	}
	fmt.Fprintf(&b, "  errors %d, reconnects %d, duplicate acks %d, failed clients %d", r.Errors, r.Reconnects, r.Duplicates, r.FailedClients)
	if len(r.ErrorCodes) > 0 {
		var codes []string
		for _, k := range slices.Sorted(maps.Keys(r.ErrorCodes)) {
			codes = append(codes, fmt.Sprintf("%s %d", k, r.ErrorCodes[k]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(codes, ", "))
	}
	b.WriteString("\n")
	if r.ClientError != "" {
		fmt.Fprintf(&b, "  first client failure: %s\n", r.ClientError)
	}
	if r.Raw && r.ConvergenceError == "" {
		b.WriteString("  convergence:       not checked (-raw: the clients do not apply each other's edits)\n")
	} else if r.Converged {
		b.WriteString("  convergence:       PASS (every client has the server's text at its head; every acknowledged op is in the log once)\n")
	} else {
		fmt.Fprintf(&b, "  convergence:       FAIL: %s\n", strings.ReplaceAll(r.ConvergenceError, "\n", "\n                     "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
