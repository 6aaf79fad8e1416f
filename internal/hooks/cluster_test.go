package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/ot"
)

// testClock runs with the real clock, shifted by what the test adds
// (Advance): After's channels fire when the real time has passed, or at
// once when an Advance passes their time.
type testClock struct {
	mu     sync.Mutex
	cond   sync.Cond // broadcast when a timer is added
	offset time.Duration
	timers map[*clockTimer]bool
}

type clockTimer struct {
	at time.Time
	d  time.Duration
	ch chan time.Time
}

func newTestClock() *testClock {
	c := &testClock{timers: map[*clockTimer]bool{}}
	c.cond.L = &c.mu
	return c
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) After(d time.Duration) <-chan time.Time {
	t := &clockTimer{d: d, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	t.at = time.Now().Add(c.offset + d)
	c.timers[t] = true
	c.cond.Broadcast()
	c.mu.Unlock()
	time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.timers[t] {
			delete(c.timers, t)
			t.ch <- time.Now().Add(c.offset)
		}
	})
	return t.ch
}

// Advance moves the clock on by d, firing the timers it passes.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	now := time.Now().Add(c.offset)
	for t := range c.timers {
		if !t.at.After(now) {
			delete(c.timers, t)
			t.ch <- now
		}
	}
}

// waitTimers waits until n timers of duration d are pending.
func (c *testClock) waitTimers(t *testing.T, d time.Duration, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	wake := time.AfterFunc(10*time.Second, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer wake.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		k := 0
		for tm := range c.timers {
			if tm.d == d {
				k++
			}
		}
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d timers of %s pending, want %d", k, d, n)
		}
		c.cond.Wait()
	}
}

// hookReceiver takes the deliveries to every endpoint (by URL path),
// checks their signatures, and keeps those it answered 2xx, in order.
type hookReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	secrets map[string]string      // path -> secret
	got     map[string][]hookEvent // path -> events answered 2xx
	tried   map[string][]string    // path -> event ids of every request
	fail    bool                   // answer 503
	bad     []string               // what failed to verify
	notify  chan struct{}          // cap 1: something came
}

type hookEvent struct {
	ID   string
	Type string
	Doc  string
	To   uint64 // toRev
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{secrets: map[string]string{}, got: map[string][]hookEvent{}, tried: map[string][]string{}, notify: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p payload
		err := json.Unmarshal(body, &p)
		rc.mu.Lock()
		if err == nil {
			var wh *standardwebhooks.Webhook
			if wh, err = standardwebhooks.NewWebhook(rc.secrets[r.URL.Path]); err == nil {
				// The test's clock runs ahead of the real one: the
				// timestamp is the clock's.
				err = wh.VerifyIgnoringTimestamp(body, r.Header)
			}
		}
		if err == nil && r.Header.Get("webhook-id") != p.ID {
			err = fmt.Errorf("webhook-id %s for event %s", r.Header.Get("webhook-id"), p.ID)
		}
		if err != nil {
			rc.bad = append(rc.bad, fmt.Sprintf("%s: %v", r.URL.Path, err))
		}
		rc.tried[r.URL.Path] = append(rc.tried[r.URL.Path], p.ID)
		fail := rc.fail
		if !fail {
			rc.got[r.URL.Path] = append(rc.got[r.URL.Path], hookEvent{ID: p.ID, Type: p.Type, Doc: p.Data.Document.ID, To: p.Data.ToRev})
		}
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *hookReceiver) setFail(fail bool) {
	rc.mu.Lock()
	rc.fail = fail
	rc.mu.Unlock()
}

// waitFor waits until cond, called with the receiver locked, holds.
func (rc *hookReceiver) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		rc.mu.Lock()
		ok := cond()
		rc.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("waiting for %s", what)
		}
	}
}

// hookCluster is three collab nodes over an embedded three-node NATS
// cluster: a docs.Manager and a Service each, on one clock.
type hookCluster struct {
	clock  *testClock
	ms     []*docs.Manager
	svcs   []*Service
	gained chan int       // a node gained the lease
	tries  []atomic.Int64 // attempts made by each node
}

const testLeaseTTL = time.Hour

func startHookCluster(t *testing.T, tweaks ...func(*Config)) *hookCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srvs, err := natsembed.StartLocal(ctx, t.TempDir(), "hooks", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Shutdown()
		}
	})
	hc := &hookCluster{clock: newTestClock(), gained: make(chan int, 10), tries: make([]atomic.Int64, len(srvs))}
	dir := t.TempDir()
	for i, srv := range srvs {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		l, err := jetstream.Open(ctx, nc, jetstream.Config{Timeout: 2 * time.Second, RetryWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		m, err := docs.Open(filepath.Join(dir, fmt.Sprintf("node%d.db", i)), docs.Config{Log: l, Now: hc.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		hc.ms = append(hc.ms, m)
	}
	for i, m := range hc.ms {
		cfg := Config{
			Node: fmt.Sprint("node", i), LeaseTTL: testLeaseTTL, AllowPrivate: true,
			Debounce: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
			Now: hc.clock.Now, After: hc.clock.After,
			OnLease: func(held bool) {
				if held {
					hc.gained <- i
				}
			},
			OnAttempt: func(string, Delivery) { hc.tries[i].Add(1) },
		}
		for _, tweak := range tweaks {
			tweak(&cfg)
		}
		s := New(m, cfg)
		t.Cleanup(s.Close) // before the Manager's
		hc.svcs = append(hc.svcs, s)
	}
	return hc
}

// holder waits for a node to gain the lease.
func (hc *hookCluster) holder(t *testing.T) int {
	t.Helper()
	select {
	case i := <-hc.gained:
		return i
	case <-time.After(20 * time.Second):
		t.Fatal("no node gained the lease")
	}
	return -1
}

// sync waits until every node has applied everything acknowledged.
func (hc *hookCluster) sync(t *testing.T) {
	t.Helper()
	for i, m := range hc.ms {
		if err := m.Sync(); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

// edit makes an edit on node i's replica of document id.
func (hc *hookCluster) edit(t *testing.T, i int, id string, n int) uint64 {
	t.Helper()
	d, err := hc.ms[i].Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	var rev uint64
	for k := range n {
		text, base, _ := d.Text()
		op := new(ot.Operation).Retain(text.Len()).Insert(fmt.Sprintf("<n%d.%d>", i, k))
		res, err := d.Submit(docs.Edit{Base: base, Op: *op, Author: fmt.Sprint("a", i), OpID: fmt.Sprintf("n%d-%s:%d", i, id, k+1)})
		if err != nil {
			t.Fatalf("node %d, edit of %s: %v", i, id, err)
		}
		rev = res.Rev
	}
	return rev
}

// journal is every event of the cluster's journal, as node i has it.
func (hc *hookCluster) journal(t *testing.T, i int) []string {
	t.Helper()
	var ids []string
	for after := uint64(0); ; {
		es, err := hc.ms[i].Journal(docs.JournalQuery{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			ids = append(ids, hc.svcs[i].eventID(e.Seq))
			after = e.Seq
		}
		if len(es) < 100 {
			return ids
		}
	}
}

func eventIDs(evs []hookEvent) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// summarised reports whether evs holds a changed event of document doc up
// to revision rev.
func summarised(evs []hookEvent, doc string, rev uint64) bool {
	return slices.ContainsFunc(evs, func(e hookEvent) bool { return e.Type == TypeChanged && e.Doc == doc && e.To == rev })
}

// TestClusterDeliversOnce: three nodes, each with a Service; only the
// holder of the lease delivers. Endpoints made on any node, documents
// created and edited on every node: each endpoint gets every event once,
// in the journal's order, from the holder only, an endpoint made on
// another node included; a redelivery asked for on another node is made
// by the holder. The holder stops: the next node to renew takes over, and
// delivers what was left, the event under retry included.
func TestClusterDeliversOnce(t *testing.T) {
	hc := startHookCluster(t)
	a := hc.holder(t)
	b, c := (a+1)%3, (a+2)%3
	rc := newHookReceiver(t)

	// An endpoint made on a node that does not deliver starts no worker
	// there; the holder delivers to it.
	u1, u2 := rc.URL+"/one", rc.URL+"/two"
	ep1, err := hc.svcs[b].Create("", Admin, Params{URL: &u1})
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := hc.svcs[a].Create("", Admin, Params{URL: &u2})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secrets["/one"], rc.secrets["/two"] = ep1.Secret, ep2.Secret
	rc.mu.Unlock()
	if n := len(hc.svcs[b].workers); n != 0 {
		t.Fatalf("node %d, not delivering, runs %d workers", b, n)
	}
	// Changed on a third node, read on every one.
	desc := "from node c"
	if _, err := hc.svcs[c].Update("", ep2.ID, Params{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	hc.sync(t)
	for i, s := range hc.svcs {
		list := s.List("")
		if len(list) != 2 || list[0].ID != ep1.ID || list[1].ID != ep2.ID || list[1].Description != desc || list[0].Secret != "" {
			t.Fatalf("node %d lists %+v", i, list)
		}
	}

	// Documents made and edited on every node.
	var ids []string
	for i, m := range hc.ms {
		meta, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("n%d.txt", i), Text: "x", Author: fmt.Sprint("a", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	final := map[string]uint64{}
	for i := range hc.ms {
		for _, id := range ids {
			final[id] = hc.edit(t, i, id, 2)
		}
	}
	all := func(path string) func() bool {
		return func() bool {
			for id, rev := range final {
				if !summarised(rc.got[path], id, rev) {
					return false
				}
			}
			return true
		}
	}
	rc.waitFor(t, "every edit's summary at /one", all("/one"))
	rc.waitFor(t, "every edit's summary at /two", all("/two"))
	hc.sync(t)
	journal := hc.journal(t, a)
	check := func(when string) {
		t.Helper()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, path := range []string{"/one", "/two"} {
			if got := eventIDs(rc.got[path]); !slices.Equal(got, journal) {
				t.Fatalf("%s, %s got\n%v\nthe journal holds\n%v", when, path, got, journal)
			}
		}
		if len(rc.bad) > 0 {
			t.Fatalf("deliveries that do not verify: %v", rc.bad)
		}
	}
	check("with every node editing")
	if len(journal) < 6 {
		t.Fatalf("a journal of %d events: %v", len(journal), journal)
	}
	for _, i := range []int{b, c} {
		if n := hc.tries[i].Load(); n != 0 {
			t.Fatalf("node %d, not delivering, made %d attempts", i, n)
		}
	}

	// A redelivery asked for on a node that does not deliver.
	again := journal[0]
	if _, err := hc.svcs[c].Redeliver("", ep1.ID, again); err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, "the redelivery", func() bool { return len(rc.got["/one"]) == len(journal)+1 })
	rc.mu.Lock()
	if last := rc.got["/one"][len(journal)]; last.ID != again {
		t.Fatalf("redelivered %s, want %s", last.ID, again)
	}
	rc.got["/one"] = rc.got["/one"][:len(journal)]
	rc.mu.Unlock()

	// The receiver fails; a new document's event is under retry when the
	// holder stops.
	rc.setFail(true)
	meta, err := hc.ms[c].Create(docs.CreateParams{Name: "late.txt", Text: "y", Author: "a2"})
	if err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, "a failed attempt at each endpoint", func() bool {
		return len(rc.tried["/one"]) > len(journal)+1 && len(rc.tried["/two"]) > len(journal)
	})
	hc.svcs[a].Close()
	rc.setFail(false)
	hc.sync(t) // the release, seen by every node
	// The next renewal, a third of the ttl on, finds the lease free.
	hc.clock.waitTimers(t, testLeaseTTL/3, 3)
	hc.clock.Advance(testLeaseTTL / 3)
	next := hc.holder(t)
	if next == a {
		t.Fatal("the stopped node gained the lease")
	}
	other := b + c - next
	final[meta.ID] = hc.edit(t, other, meta.ID, 1)
	rc.waitFor(t, "the late document's summary at /one", func() bool { return summarised(rc.got["/one"], meta.ID, final[meta.ID]) })
	rc.waitFor(t, "the late document's summary at /two", func() bool { return summarised(rc.got["/two"], meta.ID, final[meta.ID]) })
	hc.sync(t)
	journal = hc.journal(t, next)
	check("after the holder stopped")
	if n := hc.tries[other].Load(); n != 0 {
		t.Fatalf("node %d, not delivering, made %d attempts", other, n)
	}
}

// TestClusterHolderCrash: the holder stops without a word, as a crash
// would (no save, no summary, the lease kept): the others wait until the
// lease expires, then one takes it and delivers every event, the edits
// made meanwhile summarised; those whose delivery the holder had not
// saved are sent again (at least once).
func TestClusterHolderCrash(t *testing.T) {
	hc := startHookCluster(t)
	a := hc.holder(t)
	b := (a + 1) % 3
	rc := newHookReceiver(t)
	u := rc.URL + "/one"
	ep, err := hc.svcs[b].Create("", Admin, Params{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secrets["/one"] = ep.Secret
	rc.mu.Unlock()
	for i, m := range hc.ms {
		if _, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("n%d.txt", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	rc.waitFor(t, "the creations", func() bool { return len(rc.got["/one"]) == 3 })
	hc.svcs[a].halt()
	meta, err := hc.ms[b].Create(docs.CreateParams{Name: "late.txt", Text: "y"})
	if err != nil {
		t.Fatal(err)
	}
	rev := hc.edit(t, b, meta.ID, 2)

	// A third of the ttl on, the lease is still the stopped node's.
	hc.clock.waitTimers(t, testLeaseTTL/3, 3)
	hc.clock.Advance(testLeaseTTL / 3)
	hc.clock.waitTimers(t, testLeaseTTL/3, 2) // both renewals made
	select {
	case i := <-hc.gained:
		t.Fatalf("node %d took a lease that had not expired", i)
	default:
	}
	// Once it has expired, the next renewal takes it.
	hc.clock.Advance(testLeaseTTL)
	if next := hc.holder(t); next == a {
		t.Fatal("the stopped node gained the lease")
	}
	rc.waitFor(t, "the late document's summary", func() bool { return summarised(rc.got["/one"], meta.ID, rev) })
	hc.sync(t)
	journal := hc.journal(t, b)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var first []string
	for _, id := range eventIDs(rc.got["/one"]) {
		if !slices.Contains(first, id) {
			first = append(first, id)
		}
	}
	if !slices.Equal(first, journal) {
		t.Fatalf("got\n%v\nthe journal holds\n%v", eventIDs(rc.got["/one"]), journal)
	}
	if len(rc.bad) > 0 {
		t.Fatalf("deliveries that do not verify: %v", rc.bad)
	}
}

// A delivery log larger than one change set of the cluster's log (NATS's
// default largest message, 1 MiB) is saved in parts, and read on every
// node.
func TestClusterSavesLargeDeliveryLogs(t *testing.T) {
	hc := startHookCluster(t, func(c *Config) { c.SaveEvery = time.Hour }) // saved here, not by the saver
	u := "http://127.0.0.1:1/x"
	ep, err := hc.svcs[0].Create("", Admin, Params{URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	attempts := make([]Attempt, keepAttempts)
	for i := range attempts {
		attempts[i] = Attempt{Time: hc.clock.Now(), Status: 500, Response: strings.Repeat("r", keepResponse)}
	}
	const n = 200 // about 2.5 MB of records
	ds := map[uint64]*Delivery{}
	for seq := uint64(1); seq <= n; seq++ {
		ds[seq] = &Delivery{Event: fmt.Sprint("evt_", seq), Seq: seq, Type: "document.changed", Status: StatusFailed, Attempts: keepAttempts, Log: attempts}
	}
	s := hc.svcs[0]
	s.smu.Lock()
	s.unsavedD[ep.ID] = ds
	s.smu.Unlock()
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	hc.sync(t)
	for i, s := range hc.svcs {
		got, err := s.Deliveries("", ep.ID, 0, 1000)
		if err != nil || len(got) != n {
			t.Fatalf("node %d: %d deliveries, %v; want %d", i, len(got), err, n)
		}
	}
}
