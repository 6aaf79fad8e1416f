// Command collab-bench is collab's load generator. It speaks the real
// protocol over real WebSockets, through the client package: it creates
// documents over the REST API, connects clients to each, and has them type,
// delete and paste at an offered rate (open loop) or each as fast as the
// acks come back (closed loop, -rate 0). It reports acknowledged ops and
// edits per second; latency from submit to ack and from submit until
// every other client of the document has the op; the server's CPU seconds
// per acknowledged op and its memory (from its /metrics); errors and
// reconnects; and a convergence check: once every client caught up, each
// has the server's text at its head revision, and every acknowledged op id
// is in the revision log exactly once. A failed check exits with status 1.
// The server-side figures are the differences of /metrics between the
// window's start and the end of the drain; if the server restarted in
// between (a counter went down, or its process start time changed), they
// are the new process's counters alone, flagged "serverReset": true.
//
// With -idle N it opens N idle connections instead and reports the
// server's resident memory per connection.
//
// Every phase has a deadline: a run ends within two minutes of setup plus
// -warmup, -duration and twice -drain.
//
//	collab-bench -url http://127.0.0.1:8080 -docs 100 -clients 10 -rate 2 -duration 30s
//	collab-bench -docs 10 -clients 5 -rate 0 -duration 20s -json
//	collab-bench -idle 10000 -docs 1000
//
// Latencies: the client package reports each ack with the time since the
// op was first sent, so an op's send time is its ack time minus that
// latency; peers record when they applied it (by op id), and the op's
// all-peers latency is the latest peer's time minus the send time. Ops
// some peer never received as an op (it resynced with the whole text) are
// left out, and counted. An op counts when it was sent after the warmup;
// edits made while an op is in flight are composed by the client into its
// next op, so ops can be fewer than edits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "collab-bench:", err)
		os.Exit(1)
	}
}

// errNotConverged is returned after the report when the convergence check
// failed.
var errNotConverged = errors.New("convergence check failed")

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
		// A high target lets the heap grow far past what is live; past
		// this, collect as often as it takes, whatever the target.
		if debug.SetMemoryLimit(-1) == math.MaxInt64 {
			debug.SetMemoryLimit(1 << 30)
		}
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	a := newAPI(cfg.URL)
	var res *Result
	if cfg.Idle > 0 {
		res, err = idle(ctx, cfg, a)
	} else {
		res, err = load(ctx, cfg, a)
	}
	if err != nil {
		return err
	}
	if err := report(stdout, cfg, res); err != nil {
		return err
	}
	if res.ConvergenceError != "" {
		return fmt.Errorf("%w: %s", errNotConverged, res.ConvergenceError)
	}
	return nil
}
