// Command natsprobe measures what NATS JetStream itself costs per message
// when collab's cluster uses it, with none of collab's editing: three
// processes, each embedding a NATS server (the three form one JetStream
// cluster, the stream keeps three replicas), each appending its share of
// the messages through collab's Log (internal/docs/jetstream: a subject
// per document, the expected-sequence and message-id headers, the same
// stream) and following the whole stream with it. It prints the
// processes' CPU time per message: the floor under a cluster's server CPU
// per edit in docs/BENCHMARKS.md, where a typing edit is one message of
// the stream.
//
//	go run ./tools/natsprobe -rate 1000 -duration 20s
//
// The three processes are this command again, each with -node; the first
// one prints what they measured.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "natsprobe:", err)
		os.Exit(1)
	}
}

// config is one probe: three nodes, ports ClientPorts[i] and
// RoutePorts[i] for node i.
type config struct {
	Rate        int           // messages a second, over the three nodes
	Duration    time.Duration // how long they publish
	Docs        int           // subjects, each published by one node
	Size        int           // bytes of a message's body
	Dir         string        // each node's store directory goes under it
	ClientPorts [3]int
	RoutePorts  [3]int
}

// report is what one node measured.
type report struct {
	Node      int           `json:"node"`
	Published int           `json:"published"` // by this node
	Followed  int           `json:"followed"`  // of every node's, by this node's consumer
	CPU       time.Duration `json:"cpu"`       // this process's, from the first message to the last followed
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("natsprobe", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.Rate, "rate", 1000, "messages a second over the three nodes (the typing scenario's edits a second)")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long to publish")
	fs.IntVar(&c.Docs, "docs", 100, "documents: a subject each")
	fs.IntVar(&c.Size, "size", 300, "bytes of a message's body (a typing edit's revision is about this)")
	fs.StringVar(&c.Dir, "dir", "", "directory for the servers' stores (default: a temporary one, removed after)")
	port := fs.Int("port", 17300, "client ports are port+1..3, route ports port+101..103")
	as := fs.Int("node", -1, "run as node 0, 1 or 2 of the three (the parent starts them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Rate < 3 || c.Docs < 3 || c.Size < 1 || c.Duration <= 0 {
		return errors.New("-rate and -docs must be at least 3, -size and -duration positive")
	}
	for i := range 3 {
		c.ClientPorts[i], c.RoutePorts[i] = *port+1+i, *port+101+i
	}
	if *as >= 0 {
		r, err := node(context.Background(), c, *as)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(r)
	}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "natsprobe-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.Dir = dir
	}
	reports, err := spawn(args, c.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, summary(c, reports))
	return nil
}

// spawn runs the three nodes as processes of this command and returns
// their reports. The first to fail stops the others: without it they
// would wait for its messages until their deadline.
func spawn(args []string, dir string) ([]report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	reports := make([]report, 3)
	g, ctx := errgroup.WithContext(context.Background())
	for i := range 3 {
		g.Go(func() error {
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, self, append(slices.Clone(args), "-node", strconv.Itoa(i), "-dir", dir)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("node %d: %w: %s", i, err, strings.TrimSpace(stderr.String()))
			}
			return json.Unmarshal(stdout.Bytes(), &reports[i])
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return reports, nil
}

// summary says what the three nodes measured, in two lines.
func summary(c config, rs []report) string {
	var published int
	var cpu time.Duration
	followed := rs[0].Followed
	for _, r := range rs {
		published += r.Published
		cpu += r.CPU
		followed = min(followed, r.Followed)
	}
	return fmt.Sprintf("natsprobe: %d messages published (%d/s offered over %d subjects, %d-byte bodies), followed by each of the three nodes: %d\n"+
		"  NATS CPU:  %.2f s over the three processes, %d µs per message",
		published, c.Rate, c.Docs, c.Size, followed, cpu.Seconds(), cpu.Microseconds()/int64(max(published, 1)))
}

// node runs node i of the probe until every node's messages are
// followed, or ctx ends.
func node(ctx context.Context, c config, i int) (report, error) {
	if i < 0 || i > 2 {
		return report{}, fmt.Errorf("-node %d: there are nodes 0, 1 and 2", i)
	}
	srv, err := natsembed.Start(natsembed.Config{
		Name:        fmt.Sprintf("probe%d", i),
		StoreDir:    filepath.Join(c.Dir, strconv.Itoa(i)),
		Port:        c.ClientPorts[i],
		Cluster:     "natsprobe",
		ClusterPort: c.RoutePorts[i],
		Routes:      natsembed.LocalRoutes(c.RoutePorts[:]),
		MaxPayload:  8 << 20, // as collab's embedded servers
	}, 30*time.Second)
	if err != nil {
		return report{}, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL(), nats.InProcessServer(srv))
	if err != nil {
		return report{}, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, c.Duration+2*time.Minute)
	defer cancel()
	// The probe's stream, as collab's (three replicas), once the cluster
	// has a JetStream leader to answer: Open asks until ctx ends.
	l, err := jetstream.Open(ctx, nc, jetstream.Config{Stream: "PROBE", Prefix: "probe"})
	if err != nil {
		return report{}, err
	}
	f := newFollower()
	stop, err := l.Follow(0, f.take)
	if err != nil {
		return report{}, err
	}
	defer stop()
	// Every node starts publishing once its follower saw all three ready.
	if err := mark(l, "ready", i, nil); err != nil {
		return report{}, err
	}
	if err := wait(ctx, f.ready, "the other nodes to be ready"); err != nil {
		return report{}, err
	}
	cpu0 := cpuTime()
	n, err := publish(ctx, l, c, i)
	if err != nil {
		return report{}, err
	}
	if err := mark(l, "done", i, []byte(strconv.Itoa(n))); err != nil {
		return report{}, err
	}
	if err := wait(ctx, f.done, "every node's messages"); err != nil {
		return report{}, err
	}
	return report{Node: i, Published: n, Followed: f.followed(), CPU: cpuTime() - cpu0}, nil
}

// mark appends node i's kind ("ready", "done") of message, a document of
// its own.
func mark(l *jetstream.Log, kind string, i int, body []byte) error {
	return l.Append([]docs.Run{{Doc: fmt.Sprintf("%s-%d", kind, i), First: 1, Count: 1, Body: body}})[0]
}

func wait(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}

// publish appends this node's share of the messages for c.Duration,
// paced, a revision at a time round-robin over its documents, as the
// node's group commit would at a typing rate, and returns how many it
// appended. It stops early if ctx ends.
func publish(ctx context.Context, l *jetstream.Log, c config, i int) (int, error) {
	var ids []string
	for d := i; d < c.Docs; d += 3 {
		ids = append(ids, uuid.NewString())
	}
	rev := map[string]uint64{}
	nodeID := uuid.NewString()
	every := 3 * time.Second / time.Duration(c.Rate)
	start := time.Now()
	n := 0
	for next := start; time.Since(start) < c.Duration; next = next.Add(every) {
		time.Sleep(time.Until(next))
		if err := ctx.Err(); err != nil {
			return n, err
		}
		doc := ids[n%len(ids)]
		rev[doc]++
		body := make([]byte, c.Size)
		_, _ = rand.Read(body)
		if err := l.Append([]docs.Run{{Doc: doc, First: rev[doc], Count: 1, Body: body, Node: nodeID}})[0]; err != nil {
			return n, fmt.Errorf("%s: %w", doc, err)
		}
		n++
	}
	return n, nil
}

// follower counts what the node's follower delivers.
type follower struct {
	mu                   sync.Mutex
	readies, dones, docs int
	expect               int  // documents' messages the done ones announced
	finished             bool // done is closed
	ready, done          chan struct{}
}

func newFollower() *follower {
	return &follower{ready: make(chan struct{}), done: make(chan struct{})}
}

func (f *follower) take(e docs.Entry) {
	if e.Run == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch doc := e.Run.Doc; {
	case strings.HasPrefix(doc, "ready-"):
		if f.readies++; f.readies == 3 {
			close(f.ready)
		}
	case strings.HasPrefix(doc, "done-"):
		n, _ := strconv.Atoi(string(e.Run.Body))
		f.expect += n
		f.dones++
	default:
		f.docs++
	}
	if f.dones == 3 && f.docs >= f.expect && !f.finished {
		close(f.done)
		f.finished = true
	}
}

func (f *follower) followed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.docs
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
