package hooks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/kv"
)

// Config tunes a Service. Zero fields take the documented defaults.
type Config struct {
	// Debounce is how long a document's edits gather before their
	// changed event (default 1s): at most one per document per Debounce.
	Debounce time.Duration
	// Timeout bounds one delivery attempt, connection to response
	// headers (default 10s).
	Timeout time.Duration
	// RetryBase and RetryMax: the wait before retry n is RetryBase*2^(n-1),
	// at most RetryMax (defaults 5s and 1h), half of it random (jitter).
	RetryBase time.Duration
	RetryMax  time.Duration
	// GiveUpAfter: an event still failing this long after its first
	// attempt is marked failed and its endpoint disabled (default 24h).
	GiveUpAfter time.Duration
	// AllowPrivate lets deliveries go to loopback, private and link-local
	// addresses (default off: only public addresses, checked as each
	// connection is made).
	AllowPrivate bool
	// MaxEndpoints caps the endpoints of one scope (a workspace, or the
	// server-wide ones; default 20).
	MaxEndpoints int
	// SaveEvery is how often delivery state (each endpoint's progress and
	// its delivery log) is written to the store (default 1s); a crash
	// forgets at most that much of it, and those events are sent again.
	SaveEvery time.Duration
	// UserAgent of deliveries (default "collab-webhooks/1").
	UserAgent string
	// Handles names documents and workspaces by their handles (the
	// server's access.Handles): every event's document.handle, and the
	// Token audience's ids. Without it events carry no handle, and the
	// Token audience names nothing.
	Handles interface {
		Doc(id string) string
		Workspace(id string) string
	}
	// Now and After are the clock (default time.Now and time.After).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Node names this process among a cluster's nodes, as the holder of
	// the webhooks' lease (default random). See LeaseTTL.
	Node string
	// LeaseTTL, in cluster mode (a docs.Manager with a Log), is how long
	// the node that delivers holds the lease "webhooks" without renewing
	// it (default 15s): only its holder delivers and summarises edits; it
	// renews it every LeaseTTL/3, and another node takes over at most
	// LeaseTTL after it stops.
	LeaseTTL time.Duration
	// OnLease, if set, is called in cluster mode when the service gains
	// the lease (true) and starts delivering, and when it loses it
	// (false), once it has stopped.
	OnLease func(held bool)
	// OnAttempt, if set, is called after each delivery attempt is
	// recorded (the delivery log and the endpoint show it), with the
	// endpoint's id and the delivery as it stands: tests wait on it
	// instead of polling the log. It runs on the endpoint's worker, so it
	// must not block for long.
	OnAttempt func(endpoint string, d Delivery)
}

func (c *Config) fill() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Debounce, time.Second)
	def(&c.Timeout, 10*time.Second)
	def(&c.RetryBase, 5*time.Second)
	def(&c.RetryMax, time.Hour)
	def(&c.GiveUpAfter, 24*time.Hour)
	def(&c.SaveEvery, time.Second)
	def(&c.LeaseTTL, 15*time.Second)
	if c.MaxEndpoints <= 0 {
		c.MaxEndpoints = 20
	}
	if c.Node == "" {
		c.Node = "node-" + randomID()
	}
	if c.UserAgent == "" {
		c.UserAgent = "collab-webhooks/1"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service keeps the endpoints, delivers events to them, and serves the
// event log to streams. Create it with New, stop it with Close.
type Service struct {
	cfg      Config
	docs     *docs.Manager
	log      *slog.Logger
	client   *http.Client
	instance string // the store's random part of event ids

	// ctx is cancelled by Close: it ends attempts in flight.
	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex // guards workers and closed, and active's changes
	workers map[string]*worker
	closed  bool

	// In cluster mode (see cluster.go) the service delivers only while
	// active, that is while it holds the lease, until leaseEnd (the
	// clock's UnixNano). resync (cap 1) says the stored endpoints, or the
	// redeliveries asked for, changed.
	clustered bool
	active    atomic.Bool
	leaseEnd  atomic.Int64
	resync    chan struct{}

	cmu     sync.Mutex    // guards changed
	changed chan struct{} // closed at the next journal entry (see Changed)

	nmu  sync.Mutex           // guards due
	due  map[string]time.Time // documents with revisions to summarise, and when
	nudg chan struct{}        // cap 1: due changed

	smu      sync.Mutex                      // guards the unsaved delivery state below
	unsaved  map[string]state                // endpoint id -> progress to save
	unsavedD map[string]map[uint64]*Delivery // endpoint id -> delivery log records to save
	saveNow  chan chan error                 // asks the saver for a save at once
	// taken: the redelivery requests (their keys in hooks/requests)
	// taken into the workers' state, deleted by the save that saves it.
	taken map[string]bool
}

// The store's buckets, beside the documents' in the same bbolt file:
//
//	hooks                 "instance" -> the random part of event ids
//	hooks/endpoints       endpoint id -> Endpoint (JSON)
//	hooks/state           endpoint id -> state (JSON)
//	hooks/deliveries/<id> journal seq -> Delivery (JSON)
//	hooks/requests        endpoint id, 0, journal seq -> a redelivery asked
//	                      for on a node not delivering (cluster mode)
var (
	bucketHooks      = []byte("hooks")
	bucketEndpoints  = []byte("endpoints")
	bucketState      = []byte("state")
	bucketDeliveries = []byte("deliveries")
	bucketRequests   = []byte("requests")
	keyInstance      = []byte("instance")
)

// New starts the service over the documents of m: it loads the endpoints
// and starts their deliveries, and summarises edits as they become
// durable (it becomes m's Watcher). Errors reading the store are logged;
// the service goes on with what it could read. In cluster mode it does
// so only while it holds the webhooks' lease (see Config.LeaseTTL and
// cluster.go).
func New(m *docs.Manager, cfg Config) *Service {
	cfg.fill()
	s := &Service{
		cfg: cfg, docs: m, log: cfg.Logger,
		stop: make(chan struct{}), workers: map[string]*worker{},
		changed: make(chan struct{}), due: map[string]time.Time{}, nudg: make(chan struct{}, 1),
		unsaved: map[string]state{}, unsavedD: map[string]map[uint64]*Delivery{}, saveNow: make(chan chan error),
		taken:     map[string]bool{},
		clustered: m.Clustered(), resync: make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.client = newClient(cfg)
	if err := s.init(); err != nil {
		s.log.Error("webhooks: reading the store", "err", err)
	}
	w := docs.Watcher{Revisions: s.onRevisions, Journal: s.onJournal}
	if s.clustered {
		w.Changes = s.onChanges
	}
	m.Watch(w)
	if s.clustered {
		s.wg.Add(1)
		go s.leaser()
	} else {
		s.start()
	}
	s.wg.Add(2)
	go s.noter()
	go s.saver()
	return s
}

// start marks the documents with edits a stop left unsummarised due at
// once, loads the endpoints and starts their deliveries.
func (s *Service) start() {
	ids, err := s.docs.Unjournaled()
	if err != nil {
		s.log.Error("webhooks: listing the documents with edits to summarise", "err", err)
	}
	now := s.cfg.Now()
	s.nmu.Lock()
	for _, id := range ids {
		s.due[id] = now
	}
	s.nmu.Unlock()
	if len(ids) > 0 {
		s.nudgeNoter()
	}
	eps, states, err := s.load()
	if err != nil {
		s.log.Error("webhooks: loading the endpoints", "err", err)
	}
	for _, ep := range eps {
		s.startWorker(ep, states[ep.ID])
	}
}

func (s *Service) nudgeNoter() {
	select {
	case s.nudg <- struct{}{}:
	default:
	}
}

// randomID is 8 random base32 characters.
func randomID() string {
	fresh := make([]byte, 5)
	rand.Read(fresh)
	return strings.ToLower(base32.StdEncoding.EncodeToString(fresh))
}

// init makes the buckets and the store's instance id.
func (s *Service) init() error {
	var inst []byte
	err := s.docs.View(func(tx *kv.Tx) error {
		if b := tx.Bucket(bucketHooks); b != nil {
			inst = append(inst, b.Get(keyInstance)...)
		}
		return nil
	})
	if err == nil && len(inst) > 0 {
		s.instance = string(inst)
		return nil
	}
	s.instance = randomID()
	if err != nil {
		return err
	}
	return s.docs.Write("the webhooks' state", func(tx *kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketHooks)
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{bucketEndpoints, bucketState, bucketDeliveries} {
			if _, err := b.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
		if old := b.Get(keyInstance); old != nil {
			s.instance = string(old)
			return nil
		}
		return b.Put(keyInstance, []byte(s.instance))
	})
}

// Close stops the deliveries (an attempt in flight is abandoned, and made
// again after the next start), summarises the edits that are due, and
// saves the delivery state; in cluster mode it then gives up the lease,
// so that another node takes over at its next renewal. Call it before
// closing the docs.Manager.
func (s *Service) Close() {
	if !s.halt() {
		return
	}
	s.nmu.Lock()
	ids := make([]string, 0, len(s.due))
	for id := range s.due {
		ids = append(ids, id)
	}
	s.nmu.Unlock()
	if len(ids) > 0 {
		if _, err := s.docs.NoteChanges(ids); err != nil {
			s.log.Warn("webhooks: summarising edits at shutdown; they will be after the next start", "err", err)
		}
	}
	if err := s.save(); err != nil {
		s.log.Warn("webhooks: saving the delivery state at shutdown; the events since its last save will be sent again", "err", err)
	}
	if s.active.Load() {
		if err := s.docs.ReleaseLease(leaseName, s.cfg.Node); err != nil {
			s.log.Warn("webhooks: giving up the lease; another node takes over once it expires", "err", err)
		}
	}
}

// halt stops the service's goroutines, abandoning an attempt in flight,
// and leaves the store as it is: what a crash leaves (Close then saves).
// It reports false if the service was stopped already.
func (s *Service) halt() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	s.mu.Unlock()
	s.docs.Watch(docs.Watcher{})
	// stop before cancel: an attempt that ends because it was cancelled
	// then sees the service stopping, and records nothing.
	close(s.stop)
	s.cancel()
	s.wg.Wait()
	return true
}

// onJournal wakes the streams and the endpoints an entry concerns.
func (s *Service) onJournal(e docs.JournalEntry) {
	s.announce()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if w.scope == "" || w.scope == e.Workspace {
			w.nudge()
		}
	}
}

// onRevisions marks a document's new revisions for summary at the end of
// the Debounce tick after this one (ticks are whole multiples of Debounce
// of the clock), unless a summary is due already. A document's summary
// thus comes at most Debounce after its first edit and at most one a
// tick, and the summaries of every document edited in one tick share one
// commit: a hundred documents typed in cost one write a second, not a
// hundred.
func (s *Service) onRevisions(id string, _ uint64) {
	if s.clustered && !s.active.Load() {
		return // the lease's holder summarises
	}
	s.nmu.Lock()
	if _, ok := s.due[id]; !ok {
		s.due[id] = s.cfg.Now().Add(s.cfg.Debounce).Truncate(s.cfg.Debounce)
		if len(s.due) == 1 {
			select {
			case s.nudg <- struct{}{}:
			default:
			}
		}
	}
	s.nmu.Unlock()
}

// noter summarises the documents whose summary is due, all of them in one
// commit, as often as one is due: a busy document gets one changed event
// per Debounce, however fast it is edited.
func (s *Service) noter() {
	defer s.wg.Done()
	for {
		if !s.delivering() {
			// Not (or no longer surely) the lease's holder: the edits are
			// summarised by whoever holds it.
			select {
			case <-s.stop:
				return
			case <-s.nudg:
			}
			continue
		}
		now := s.cfg.Now()
		var ids []string
		var next time.Time
		s.nmu.Lock()
		for id, at := range s.due {
			switch {
			case !at.After(now):
				ids = append(ids, id)
				delete(s.due, id)
			case next.IsZero() || at.Before(next):
				next = at
			}
		}
		s.nmu.Unlock()
		if len(ids) > 0 {
			if _, err := s.docs.NoteChanges(ids); err != nil {
				s.log.Warn("webhooks: summarising edits; retried", "docs", len(ids), "err", err)
				s.nmu.Lock()
				for _, id := range ids {
					if _, ok := s.due[id]; !ok {
						s.due[id] = now.Add(s.cfg.Debounce)
					}
				}
				s.nmu.Unlock()
			}
			continue
		}
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = s.cfg.After(next.Sub(now))
		}
		select {
		case <-s.stop:
			return
		case <-s.nudg:
		case <-timer:
		}
	}
}
