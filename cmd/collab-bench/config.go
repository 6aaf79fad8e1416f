package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is one run's settings.
type Config struct {
	URL          string
	Docs         int
	Clients      int           // per document
	Rate         float64       // edits per second per client; 0 = closed loop
	Duration     time.Duration // how long clients edit
	Edits        int           // edits per client (0 = until Duration)
	Mix          Mix
	CursorRate   float64 // cursor updates per second per client
	DocSize      int     // bytes of initial text
	JSON         bool
	Seed         uint64
	Idle         int // open this many idle connections instead
	Drain        time.Duration
	OpsPerSecond float64 // unused by the tool; recorded for the report
}

// Mix weighs the kinds of edit.
type Mix struct{ Typing, Delete, Paste int }

func parseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("-mix: %q is not kind=weight", part)
		}
		switch k {
		case "typing":
			m.Typing = n
		case "delete":
			m.Delete = n
		case "paste":
			m.Paste = n
		default:
			return m, fmt.Errorf("-mix: unknown kind %q (typing, delete, paste)", k)
		}
	}
	if m.Typing+m.Delete+m.Paste == 0 {
		return m, fmt.Errorf("-mix: all weights are zero")
	}
	return m, nil
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "MB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MB")
	case strings.HasSuffix(s, "KB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KB")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("-doc-size: %q is not a size like 5KB or 5MB", s)
	}
	return n * mult, nil
}

func parseFlags(args []string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("collab-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	fs.IntVar(&c.Docs, "docs", 10, "documents")
	fs.IntVar(&c.Clients, "clients", 5, "clients per document")
	fs.Float64Var(&c.Rate, "rate", 2, "edits per second per client; 0 for a closed loop (next edit after the ack)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long the clients edit (at most)")
	fs.IntVar(&c.Edits, "edits", 0, "edits per client (0: until -duration)")
	mix := fs.String("mix", "typing=90,delete=8,paste=2", "edit mix: typing (1-5 characters at random places), delete, paste (a few KB)")
	fs.Float64Var(&c.CursorRate, "cursor-rate", 0, "cursor updates per second per client")
	size := fs.String("doc-size", "2KB", "initial document size (e.g. 5KB, 5MB)")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON line instead of the summary")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed")
	fs.IntVar(&c.Idle, "idle", 0, "open this many idle connections over -docs documents and report server memory per connection")
	fs.DurationVar(&c.Drain, "drain", 30*time.Second, "how long to wait for every client to catch up at the end")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.Mix, err = parseMix(*mix); err != nil {
		return c, err
	}
	if c.DocSize, err = parseSize(*size); err != nil {
		return c, err
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return c, fmt.Errorf("-url %q: want http://host:port", c.URL)
	}
	switch {
	case c.Docs < 1, c.Clients < 1 && c.Idle == 0, c.Rate < 0, c.Duration <= 0, c.Duration > time.Hour, c.Edits < 0:
		return c, fmt.Errorf("need -docs ≥ 1, -clients ≥ 1, -rate ≥ 0, 0 < -duration ≤ 1h, -edits ≥ 0")
	}
	return c, nil
}
