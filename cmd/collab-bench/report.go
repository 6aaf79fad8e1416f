package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// report prints the result: one JSON line with -json, a summary otherwise.
func report(w io.Writer, c Config, r *Result) error {
	if c.JSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if r.Mode == "idle" {
		fmt.Fprintf(w, "idle: %d connections over %d documents: server RSS %.1f MB, %.1f KB per connection\n",
			r.IdleConns, r.Docs, r.ServerRSSMB, r.KBPerConn)
		return nil
	}
	rate := fmt.Sprintf("%g edits/s per client (%g offered in all)", c.Rate, c.Rate*float64(c.Docs*c.Clients))
	if r.Mode == "closed" {
		rate = "closed loop"
	}
	fmt.Fprintf(w, "%d documents × %d clients, %s, %.1fs\n", r.Docs, r.Clients, rate, r.Seconds)
	fmt.Fprintf(w, "  edits:           %d (%.0f/s), acknowledged ops %d (%.0f/s)\n", r.Edits, r.EditsPerSec, r.AckedOps, r.AckedOpsPerSec)
	q := func(name string, x Quant) {
		fmt.Fprintf(w, "  %-16s p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)\n", name, x.P50, x.P95, x.P99, x.Max, x.N)
	}
	q("submit→ack:", r.AckMs)
	q("submit→all peers:", r.AllPeersMs)
	fmt.Fprintf(w, "  server:          %.0f µs CPU per acknowledged op, RSS %.1f MB\n", r.ServerCPUPerOpUs, r.ServerRSSMB)
	fmt.Fprintf(w, "  errors %d, reconnects %d\n", r.Errors, r.Reconnects)
	if r.Converged {
		fmt.Fprintln(w, "  convergence:     PASS (every client equals the server's text; every acknowledged op is in the log once)")
	} else {
		fmt.Fprintf(w, "  convergence:     FAIL: %s\n", r.ConvergenceError)
	}
	return nil
}
