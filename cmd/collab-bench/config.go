package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is one run's settings. parseFlags fills it from the command line;
// the defaults below are the flags' defaults.
type Config struct {
	URL        string        // server base URL, http://host:port (default http://127.0.0.1:8080): the first of URLs
	URLs       []string      // every node's base URL (-url a,b,c): each document's clients are spread over them
	Docs       int           // documents, created at the start (default 10)
	Clients    int           // clients per document (default 5)
	Rate       float64       // edits per second per client; 0 is a closed loop (default 2)
	Duration   time.Duration // measured editing time (default 10s; 10m when only -edits is given)
	Edits      int           // measured edits per client; 0 for no count (default 0)
	Warmup     time.Duration // editing before the measurement starts (default 0)
	Drain      time.Duration // bound on the final catch-up and the convergence check (default 30s)
	Mix        Mix           // kinds of edit (default typing=90,delete=8,paste=2)
	CursorRate float64       // cursor updates per second per client (default 0)
	DocSize    int           // bytes of initial text per document (default 2KB)
	Seed       uint64        // seeds text, positions and timing jitter (default 1)
	JSON       bool          // print one JSON line instead of the summary
	JSONOut    string        // also write the JSON line to this file
	CPUProfile string        // write the load tool's own CPU profile here
	GCPercent  int           // the load tool's own GOGC; 0 keeps the runtime's (default 800)
	Raw        bool          // clients that do not apply others' edits, for tools/relay (no convergence check)
	Idle       int           // >0: open this many idle connections instead of editing
	PerAddr    int           // with Idle: connections per loopback source address (default 500)
	Settle     time.Duration // with Idle: how long the connections sit idle before memory is read (default 5s)
}

// setupTimeout bounds creating the documents and connecting the clients.
const setupTimeout = 2 * time.Minute

// Mix weighs the kinds of edit a client makes.
type Mix struct {
	Typing int `json:"typing"` // insert 1-5 characters at a random place
	Delete int `json:"delete"` // delete 1-5 characters at a random place
	Paste  int `json:"paste"`  // insert 1-4 KB of code at a random place
}

func (m Mix) String() string {
	return fmt.Sprintf("typing=%d,delete=%d,paste=%d", m.Typing, m.Delete, m.Paste)
}

func parseMix(s string) (Mix, error) {
	var m Mix
	for part := range strings.SplitSeq(s, ",") {
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
			return m, fmt.Errorf("-mix: unknown kind %q (want typing, delete, paste)", k)
		}
	}
	if m.Typing+m.Delete+m.Paste == 0 {
		return m, errors.New("-mix: every weight is zero")
	}
	return m, nil
}

// parseSize reads a byte count: 5000, 5KB, 5MB (binary units: 1KB = 1024).
func parseSize(s string) (int, error) {
	mult, num := 1, strings.ToUpper(strings.TrimSpace(s))
	switch {
	case strings.HasSuffix(num, "MB"):
		mult, num = 1<<20, strings.TrimSuffix(num, "MB")
	case strings.HasSuffix(num, "KB"):
		mult, num = 1<<10, strings.TrimSuffix(num, "KB")
	case strings.HasSuffix(num, "B"):
		num = strings.TrimSuffix(num, "B")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 1<<30/mult {
		return 0, fmt.Errorf("-doc-size: %q is not a size like 5000, 5KB or 5MB", s)
	}
	return n * mult, nil
}

func parseFlags(args []string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("collab-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "server base URL; several, comma-separated, for the nodes of a cluster (documents are created on the first, each document's clients spread over all, the servers' counters summed)")
	fs.IntVar(&c.Docs, "docs", 10, "documents to create and edit (with -idle: to spread the connections over)")
	fs.IntVar(&c.Clients, "clients", 5, "clients per document")
	fs.Float64Var(&c.Rate, "rate", 2, "edits per second per client; 0 for a closed loop (each edit right after the previous one's ack)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured editing time (at most; default 10m when only -edits is given)")
	fs.IntVar(&c.Edits, "edits", 0, "measured edits per client (0: no count, edit for -duration)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "edit this long before measuring")
	fs.DurationVar(&c.Drain, "drain", 30*time.Second, "how long the end of the run may take: every client catching up, then the convergence check")
	mix := fs.String("mix", "typing=90,delete=8,paste=2", "edit mix: typing (1-5 characters at a random place), delete (1-5 characters), paste (1-4 KB of code)")
	fs.Float64Var(&c.CursorRate, "cursor-rate", 0, "cursor updates per second per client")
	size := fs.String("doc-size", "2KB", "initial text of each document (e.g. 5000, 5KB, 5MB)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed (text, positions, timing jitter)")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON line instead of the summary")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file (the server's is at its /debug/pprof with -pprof)")
	fs.IntVar(&c.GCPercent, "gc-percent", 800, "the load tool's own garbage-collection target (as GOGC): its collections hold up its clients' reads and writes, which would count as the server's latency, and a high target makes them rare (the tool's heap is small); 0 keeps the runtime's (GOGC, else 100)")
	fs.StringVar(&c.JSONOut, "json-out", "", "also write the JSON line to this file (with the summary on stdout)")
	fs.BoolVar(&c.Raw, "raw", false, "clients that send edits and count acks and others' edits without applying them: for a relay that does not transform (tools/relay); no convergence check")
	fs.IntVar(&c.Idle, "idle", 0, "instead of editing, open this many idle connections over -docs documents and report the server's memory per connection")
	fs.IntVar(&c.PerAddr, "idle-per-addr", 500, "with -idle against 127.x.x.x: connections per loopback source address (127.0.0.1, .2, …), below the server's -conns-per-addr")
	fs.DurationVar(&c.Settle, "settle", 5*time.Second, "with -idle: how long the connections sit idle before the server's memory is read")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: collab-bench [flags]

Loads a collab server over its real WebSocket protocol: creates -docs documents, connects
-clients clients to each, has them edit at -rate edits/s each (or in a closed loop), then
checks that every client converged to the server's text and every acknowledged op is in
the revision log exactly once. Exits 1 if that check fails.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["edits"] && !set["duration"] {
		c.Duration = 10 * time.Minute
	}
	var err error
	if c.Mix, err = parseMix(*mix); err != nil {
		return c, err
	}
	if c.DocSize, err = parseSize(*size); err != nil {
		return c, err
	}
	c.URLs = nil
	for raw := range strings.SplitSeq(c.URL, ",") {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("-url %q: want http://host:port", raw)
		}
		c.URLs = append(c.URLs, strings.TrimSuffix(raw, "/"))
	}
	c.URL = c.URLs[0]
	switch {
	case c.Docs < 1 || c.Docs > 100_000:
		return c, errors.New("-docs must be 1..100000")
	case c.Idle == 0 && (c.Clients < 1 || c.Clients > 10_000):
		return c, errors.New("-clients must be 1..10000")
	case c.Idle < 0 || c.Idle > 1_000_000:
		return c, errors.New("-idle must be 0..1000000")
	case c.Rate < 0 || c.Rate > 10_000, c.CursorRate < 0 || c.CursorRate > 1000:
		return c, errors.New("-rate must be 0..10000 and -cursor-rate 0..1000")
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return c, errors.New("-duration must be in (0, 24h]")
	case c.Edits < 0, c.Warmup < 0, c.Drain <= 0:
		return c, errors.New("-edits and -warmup must be ≥ 0 and -drain > 0")
	case c.GCPercent < 0:
		return c, errors.New("-gc-percent must be ≥ 0")
	case c.PerAddr < 1, c.Settle < 0 || c.Settle > time.Hour:
		return c, errors.New("-idle-per-addr must be ≥ 1 and -settle in [0, 1h]")
	}
	return c, nil
}

// loopbackV4 reports whether the server's host is an IPv4 loopback
// address (127.x.x.x), so that connections may come from other loopback
// source addresses.
func loopbackV4(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}
