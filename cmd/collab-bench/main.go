// Command collab-bench is collab's load generator. It speaks the real
// protocol over real WebSockets (through the client package): it creates
// documents, connects clients to each, has them type, delete and paste at
// an offered rate or in a closed loop, and reports acknowledged edits per
// second, latency from submit to ack and from submit until every other
// client of the document has the edit, the server's CPU seconds per edit
// and memory (from its /metrics), and a final convergence check. With
// -idle it opens idle connections and reports the server's memory per
// connection. Every loop is bounded in count and time.
//
//	collab-bench -url http://127.0.0.1:8080 -docs 100 -clients 10 -rate 2 -duration 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "collab-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	if cfg.Idle > 0 {
		res, err := idle(ctx, cfg)
		if err != nil {
			return err
		}
		return report(stdout, cfg, res)
	}
	res, err := load(ctx, cfg)
	if err != nil {
		return err
	}
	if err := report(stdout, cfg, res); err != nil {
		return err
	}
	if !res.Converged {
		return fmt.Errorf("convergence check failed: %s", res.ConvergenceError)
	}
	return nil
}
