// Command natsprobe measures what NATS JetStream itself costs per message
// when it is used the way collab's cluster uses it, with no collab code:
// three processes, each embedding a NATS server (the three form one
// JetStream cluster, the stream keeps three replicas), each publishing
// its share of the messages asynchronously on a subject per document with
// Nats-Expected-Last-Subject-Sequence and Nats-Msg-Id, and each following
// the whole stream with an ordered consumer. It prints the processes' CPU
// time per message: the floor under a cluster's server CPU per edit in
// docs/BENCHMARKS.md, where a typing edit is one message of the stream.
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
	"crypto/sha256"
	"encoding/base64"
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

	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
		r, err := node(c, *as)
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
// their reports.
func spawn(args []string, dir string) ([]report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	type result struct {
		r   report
		err error
	}
	results := make([]result, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(self, append(slices.Clone(args), "-node", strconv.Itoa(i), "-dir", dir)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				results[i].err = fmt.Errorf("node %d: %w: %s", i, err, strings.TrimSpace(stderr.String()))
				return
			}
			results[i].err = json.Unmarshal(stdout.Bytes(), &results[i].r)
		})
	}
	wg.Wait()
	var reports []report
	for _, res := range results {
		if res.err != nil {
			return nil, res.err
		}
		reports = append(reports, res.r)
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
// followed.
func node(c config, i int) (report, error) {
	if i < 0 || i > 2 {
		return report{}, fmt.Errorf("-node %d: there are nodes 0, 1 and 2", i)
	}
	routes := make([]string, 3)
	for k, p := range c.RoutePorts {
		routes[k] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	srv, err := natsembed.Start(natsembed.Config{
		Name:        fmt.Sprintf("probe%d", i),
		StoreDir:    filepath.Join(c.Dir, strconv.Itoa(i)),
		Port:        c.ClientPorts[i],
		Cluster:     "natsprobe",
		ClusterPort: c.RoutePorts[i],
		Routes:      routes,
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
	js, err := jetstream.New(nc)
	if err != nil {
		return report{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration+2*time.Minute)
	defer cancel()
	stream, err := createStream(ctx, js)
	if err != nil {
		return report{}, err
	}
	f := newFollower()
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return report{}, err
	}
	cc, err := cons.Consume(f.take)
	if err != nil {
		return report{}, err
	}
	defer cc.Stop()
	// Every node starts publishing once its consumer saw all three ready.
	if _, err := js.Publish(ctx, fmt.Sprintf("probe.ready.%d", i), nil); err != nil {
		return report{}, err
	}
	if err := wait(ctx, f.ready, "the other nodes to be ready"); err != nil {
		return report{}, err
	}
	cpu0 := cpuTime()
	n, err := publish(ctx, js, c, i)
	if err != nil {
		return report{}, err
	}
	if _, err := js.Publish(ctx, fmt.Sprintf("probe.done.%d", i), []byte(strconv.Itoa(n))); err != nil {
		return report{}, err
	}
	if err := wait(ctx, f.done, "every node's messages"); err != nil {
		return report{}, err
	}
	return report{Node: i, Published: n, Followed: f.followed(), CPU: cpuTime() - cpu0}, nil
}

// createStream makes the probe's stream (as collab's: three replicas, a
// five-minute deduplication window), asking again, a few seconds at a
// time, until the cluster has a JetStream leader to make it.
func createStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe.>"}, Replicas: 3, Duplicates: 5 * time.Minute}
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.CreateOrUpdateStream(actx, cfg)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("creating the stream: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func wait(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}

// publish sends this node's share of the messages for c.Duration, paced,
// round-robin over its documents, each expecting the document's previous
// message (the acknowledgement of which it waits for, as a document's
// group commit does), and returns how many it sent.
func publish(ctx context.Context, js jetstream.JetStream, c config, i int) (int, error) {
	type doc struct {
		subject string
		last    uint64
		pending jetstream.PubAckFuture
	}
	var ds []*doc
	for d := i; d < c.Docs; d += 3 {
		ds = append(ds, &doc{subject: "probe.rev." + uuid.NewString()})
	}
	nodeID := uuid.NewString()
	settle := func(d *doc) error {
		if d.pending == nil {
			return nil
		}
		select {
		case ack := <-d.pending.Ok():
			d.last = ack.Sequence
		case err := <-d.pending.Err():
			return fmt.Errorf("%s: %w", d.subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
		d.pending = nil
		return nil
	}
	every := 3 * time.Second / time.Duration(c.Rate)
	start := time.Now()
	n := 0
	for next := start; time.Since(start) < c.Duration; next = next.Add(every) {
		time.Sleep(time.Until(next))
		d := ds[n%len(ds)]
		if err := settle(d); err != nil {
			return n, err
		}
		body := make([]byte, c.Size)
		_, _ = rand.Read(body)
		sum := sha256.Sum256(body)
		m := nats.NewMsg(d.subject)
		m.Header.Set("Collab-Revs", strconv.Itoa(n+1)+" 1")
		m.Header.Set("Collab-Node", nodeID)
		m.Header.Set(jetstream.MsgIDHeader, d.subject+":"+strconv.FormatUint(d.last, 10)+":"+base64.RawURLEncoding.EncodeToString(sum[:12]))
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(d.last, 10))
		m.Data = body
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return n, err
		}
		d.pending = f
		n++
	}
	for _, d := range ds {
		if err := settle(d); err != nil {
			return n, err
		}
	}
	return n, nil
}

// follower counts what the node's consumer delivers, reading each message
// as collab's follower does (its metadata and headers).
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

func (f *follower) take(m jetstream.Msg) {
	if _, err := m.Metadata(); err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch subject := m.Subject(); {
	case strings.HasPrefix(subject, "probe.rev."):
		if m.Headers().Get("Collab-Revs") != "" {
			f.docs++
		}
	case strings.HasPrefix(subject, "probe.ready."):
		if f.readies++; f.readies == 3 {
			close(f.ready)
		}
	case strings.HasPrefix(subject, "probe.done."):
		n, _ := strconv.Atoi(string(m.Data()))
		f.expect += n
		f.dones++
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
