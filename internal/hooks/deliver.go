package hooks

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/kv"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The statuses of a delivery.
const (
	StatusPending   = "pending"   // under way: attempted (or about to be) and retried
	StatusDelivered = "delivered" // a 2xx answer
	StatusFailed    = "failed"    // given up after GiveUpAfter, or its event was forgotten
)

// Delivery is one event's way to one endpoint: its attempts and what
// became of it, as the delivery log shows it.
type Delivery struct {
	Event        string    `json:"event"` // the event id (webhook-id)
	Seq          uint64    `json:"seq"`
	Type         string    `json:"type"`
	Status       string    `json:"status"`
	Attempts     int       `json:"attempts"` // attempts made
	FirstAttempt time.Time `json:"firstAttempt,omitzero"`
	NextAttempt  time.Time `json:"nextAttempt,omitzero"` // pending: when the next attempt is due
	// Log holds the newest attempts, at most keepAttempts.
	Log []Attempt `json:"log"`
}

// Attempt is one try to deliver an event.
type Attempt struct {
	Time     time.Time `json:"time"`
	Status   int       `json:"status,omitempty"` // the answer's HTTP status; 0 when none came
	Error    string    `json:"error,omitempty"`  // why it failed
	Duration int64     `json:"durationMs"`
	Response string    `json:"response,omitempty"` // the start of the answer's body
}

// What a delivery log keeps: attempts per delivery, records per endpoint,
// bytes of an answer (and the most of one read).
const (
	keepAttempts   = 20
	keepDeliveries = 1000
	keepResponse   = 512
	readResponse   = 64 << 10
)

func (d *Delivery) clone() *Delivery {
	c := *d
	c.Log = slices.Clone(d.Log)
	return &c
}

// worker delivers to one endpoint, one event at a time, in journal order:
// the event at the head of its queue is retried until delivered or given
// up before the next one is sent. Redeliveries its owner asks for go
// first. Its goroutine is the only one that makes attempts; the API
// changes its fields under mu and nudges it.
type worker struct {
	s      *Service
	id     string
	scope  string        // the endpoint's workspace, "" for server-wide
	wake   chan struct{} // cap 1
	done   chan struct{} // closed by quit
	exited chan struct{} // closed once run has returned
	emu    sync.Mutex    // one change of the endpoint's settings at a time

	mu    sync.Mutex // guards the fields below
	ep    Endpoint
	st    state
	head  *Delivery            // the event under way at the head of the queue
	redo  map[uint64]*Delivery // redeliveries queued, by seq
	abort context.CancelFunc   // ends the attempt in flight
}

func (s *Service) startWorker(ep Endpoint, st state) {
	w := &worker{s: s, id: ep.ID, scope: ep.Workspace, ep: ep, st: st, wake: make(chan struct{}, 1), done: make(chan struct{}),
		exited: make(chan struct{}), redo: map[uint64]*Delivery{}}
	// Where the last run left off: the pending deliveries, and those done
	// whose progress was not saved.
	err := s.docs.View(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks).Bucket(bucketDeliveries).Bucket([]byte(ep.ID))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(w.st.Cursor + 1)); k != nil; k, v = c.Next() {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.Status == StatusPending {
				w.head = &d
				break
			}
			w.st.Cursor = d.Seq
		}
		for _, seq := range w.st.Redeliver {
			var d Delivery
			if v := b.Get(seqKey(seq)); v != nil && json.Unmarshal(v, &d) == nil && d.Status == StatusPending {
				w.redo[seq] = &d
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("webhooks: reading an endpoint's delivery log", "endpoint", ep.ID, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.clustered && !s.active.Load() || s.workers[ep.ID] != nil {
		return // stopped, not delivering, or started meanwhile
	}
	s.workers[ep.ID] = w
	s.wg.Add(1)
	go w.run()
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func (w *worker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// quit stops the worker, abandoning an attempt in flight.
func (w *worker) quit() {
	// done first: an attempt cancelled below then sees the worker gone,
	// and records nothing.
	close(w.done)
	w.mu.Lock()
	if w.abort != nil {
		w.abort()
	}
	w.mu.Unlock()
}

func (w *worker) endpoint() Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ep
}

func (w *worker) setEndpoint(ep Endpoint) {
	w.mu.Lock()
	w.ep = ep
	w.mu.Unlock()
	w.nudge()
}

func (w *worker) info() Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	in := Info{Endpoint: w.ep}
	in.Secret = ""
	if w.head != nil && w.head.Attempts > 0 {
		in.Pending = w.head.clone()
	}
	return in
}

func (w *worker) run() {
	defer w.s.wg.Done()
	defer close(w.exited)
	for {
		d, wait, ok := w.next()
		if !ok {
			return
		}
		if d != nil {
			w.attempt(d)
			continue
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = w.s.cfg.After(wait)
		}
		select {
		case <-w.done:
			return
		case <-w.s.stop:
			return
		case <-w.wake:
		case <-timer:
		}
	}
}

// next returns the delivery due now, or else how long until one is due
// (0: none is); ok is false once the worker is stopped.
func (w *worker) next() (d *Delivery, wait time.Duration, ok bool) {
	select {
	case <-w.done:
		return nil, 0, false
	case <-w.s.stop:
		return nil, 0, false
	default:
	}
	if !w.s.delivering() {
		return nil, 0, true // until the lease is renewed (see leaser)
	}
	now := w.s.cfg.Now()
	w.mu.Lock()
	if !w.ep.Enabled {
		w.mu.Unlock()
		return nil, 0, true
	}
	due := func(d *Delivery) bool {
		if !d.NextAttempt.After(now) {
			return true
		}
		if in := d.NextAttempt.Sub(now); wait == 0 || in < wait {
			wait = in
		}
		return false
	}
	for _, seq := range w.st.Redeliver {
		if r := w.redo[seq]; r != nil && due(r) {
			w.mu.Unlock()
			return r, 0, true
		}
	}
	head := w.head
	w.mu.Unlock()
	if head == nil {
		var err error
		if head, err = w.findNext(now); err != nil {
			w.s.log.Warn("webhooks: reading the journal", "endpoint", w.id, "err", err)
			return nil, w.s.cfg.RetryBase, true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if head != nil && head == w.head && due(head) {
		return head, 0, true
	}
	return nil, wait, true
}

// findNext makes the next event for the endpoint after its cursor the
// head of its queue, moving the cursor over those it does not want.
func (w *worker) findNext(now time.Time) (*Delivery, error) {
	w.mu.Lock()
	cursor, ep := w.st.Cursor, w.ep
	w.mu.Unlock()
	moved := cursor
	var head *Delivery
	for head == nil {
		es, err := w.s.docs.Journal(docs.JournalQuery{After: moved, Workspace: w.scope, Limit: 100})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if t := typeOf(e.Kind); ep.wants(t) {
				head = &Delivery{Event: w.s.eventID(e.Seq), Seq: e.Seq, Type: t, Status: StatusPending, NextAttempt: now, Log: []Attempt{}}
				break
			}
			moved = e.Seq
		}
		if len(es) < 100 {
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.st.Cursor != cursor || w.head != nil {
		return w.head, nil // changed meanwhile (deleted, or another call)
	}
	w.head = head
	if moved != cursor {
		w.st.Cursor = moved
		w.s.unsave(w.id, w.st, nil)
	}
	return head, nil
}

// attempt makes one attempt of d and records it.
func (w *worker) attempt(d *Delivery) {
	s := w.s
	es, err := s.docs.Journal(docs.JournalQuery{After: d.Seq - 1, Limit: 1})
	if err != nil {
		s.log.Warn("webhooks: reading the journal", "endpoint", w.id, "err", err)
		w.mu.Lock()
		d.NextAttempt = s.cfg.Now().Add(s.cfg.RetryBase)
		w.mu.Unlock()
		return
	}
	now := s.cfg.Now()
	var a Attempt
	var ok bool
	if len(es) == 0 || es[0].Seq != d.Seq {
		a = Attempt{Time: now, Error: "the event was forgotten: it is older than the journal keeps"}
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		w.mu.Lock()
		w.abort = cancel
		ep := w.ep
		w.mu.Unlock()
		a, ok = s.post(ctx, ep, s.render(es[0], ep.Audience()), now)
		cancel()
		w.mu.Lock()
		w.abort = nil
		w.mu.Unlock()
		select {
		case <-w.done:
			return // deleted: nothing to record
		case <-s.stop:
			return // shutting down: attempted again after the next start
		default:
		}
	}
	forgotten := len(es) == 0 || es[0].Seq != d.Seq
	now = s.cfg.Now()
	w.mu.Lock()
	if d.FirstAttempt.IsZero() {
		d.FirstAttempt = a.Time
	}
	d.Attempts++
	d.Log = append(d.Log, a)
	if len(d.Log) > keepAttempts {
		d.Log = slices.Delete(d.Log, 0, len(d.Log)-keepAttempts)
	}
	var disable string
	switch {
	case ok:
		d.Status, d.NextAttempt = StatusDelivered, time.Time{}
	case forgotten || now.Sub(d.FirstAttempt) >= s.cfg.GiveUpAfter:
		d.Status, d.NextAttempt = StatusFailed, time.Time{}
		if d == w.head && !forgotten {
			disable = fmt.Sprintf("event %s failed for %s (%d attempts): enable the endpoint again to go on with the events after it", d.Event, s.cfg.GiveUpAfter, d.Attempts)
			w.ep.Enabled, w.ep.DisabledReason, w.ep.Updated = false, disable, now.UTC()
		}
	default:
		d.NextAttempt = now.Add(s.backoff(d.Attempts))
	}
	if d.Status != StatusPending {
		if d == w.head {
			w.st.Cursor, w.head = d.Seq, nil
		} else {
			delete(w.redo, d.Seq)
			w.st.Redeliver = slices.DeleteFunc(w.st.Redeliver, func(seq uint64) bool { return seq == d.Seq })
		}
	}
	s.unsave(w.id, w.st, d)
	recorded := *d.clone()
	w.mu.Unlock()
	if disable != "" {
		w.emu.Lock()
		ep, err := s.changeEndpoint(w.id, func(ep *Endpoint) error {
			ep.Enabled, ep.DisabledReason, ep.Updated = false, disable, now.UTC()
			return nil
		})
		if err == nil {
			w.setEndpoint(ep)
		}
		w.emu.Unlock()
		if err != nil {
			s.log.Warn("webhooks: saving a disabled endpoint", "endpoint", w.id, "err", err)
		}
		s.log.Warn("webhooks: endpoint disabled", "endpoint", w.id, "reason", disable)
	}
	if f := s.cfg.OnAttempt; f != nil {
		f(w.id, recorded)
	}
}

// backoff is the wait after a delivery's attempt n failed: RetryBase
// doubled n-1 times, at most RetryMax, of which the second half is random
// ("equal jitter": retries of many endpoints that failed together spread
// out, and none comes sooner than half the schedule).
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.RetryMax
	if n-1 < 40 {
		if b := s.cfg.RetryBase << (n - 1); b > 0 && b < d {
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

// post sends ev to ep, signed, and says what came of it: ok for a 2xx.
func (s *Service) post(ctx context.Context, ep Endpoint, ev Event, now time.Time) (Attempt, bool) {
	a := Attempt{Time: now}
	start := time.Now()
	defer func() { a.Duration = time.Since(start).Milliseconds() }()
	fail := func(err error) (Attempt, bool) {
		a.Error = err.Error()
		if len(a.Error) > 300 {
			a.Error = strings.ToValidUTF8(a.Error[:300], "") + "…"
		}
		a.Duration = time.Since(start).Milliseconds()
		return a, false
	}
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		return fail(err)
	}
	sig, err := wh.Sign(ev.ID, now, ev.Body)
	if err != nil {
		return fail(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(ev.Body))
	if err != nil {
		return fail(err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.cfg.UserAgent)
	h.Set(standardwebhooks.HeaderWebhookID, ev.ID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(resp.Body, keepResponse))
	io.CopyN(io.Discard, resp.Body, readResponse) // so the connection may be reused
	a.Response = strings.ToValidUTF8(string(body), "")
	if !utf8.ValidString(a.Response) {
		a.Response = ""
	}
	a.Duration = time.Since(start).Milliseconds()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.Error = "answered " + resp.Status
		return a, false
	}
	return a, true
}

// unsave queues an endpoint's progress, and a delivery record if d is
// set, for the next save. Called with the worker's mu held.
func (s *Service) unsave(id string, st state, d *Delivery) {
	st.Redeliver = slices.Clone(st.Redeliver)
	s.smu.Lock()
	defer s.smu.Unlock()
	s.unsaved[id] = st
	if d != nil {
		m := s.unsavedD[id]
		if m == nil {
			m = map[uint64]*Delivery{}
			s.unsavedD[id] = m
		}
		m[d.Seq] = d.clone()
	}
}

// saver saves the delivery state every SaveEvery: one commit for every
// endpoint's progress, whatever the number of attempts.
func (s *Service) saver() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.save(); err != nil {
				s.log.Warn("webhooks: saving the delivery state; retried", "err", err)
			}
		}
	}
}

// save writes the delivery state queued by unsave, in one commit (in
// parts, when a cluster's log does not take it whole). What a failed
// commit did not save is queued again, unless newer state was.
func (s *Service) save() error {
	s.smu.Lock()
	states, ds := s.unsaved, s.unsavedD
	var taken [][]byte
	for k := range s.taken {
		taken = append(taken, []byte(k))
	}
	if len(states) == 0 && len(ds) == 0 && len(taken) == 0 {
		s.smu.Unlock()
		return nil
	}
	s.unsaved, s.unsavedD = map[string]state{}, map[string]map[uint64]*Delivery{}
	s.smu.Unlock()
	err := s.docs.Write("the webhooks' state", saveState(taken, states, ds))
	if errors.Is(err, docs.ErrTooLarge) {
		// More than one change set of a cluster's log carries: in parts.
		err = s.saveInParts(taken, states, ds)
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if err == nil {
		for _, k := range taken {
			delete(s.taken, string(k))
		}
		return nil
	}
	for id, st := range states {
		if _, newer := s.unsaved[id]; !newer {
			s.unsaved[id] = st
		}
	}
	for id, m := range ds {
		for seq, d := range m {
			if s.unsavedD[id] == nil {
				s.unsavedD[id] = map[uint64]*Delivery{}
			}
			if _, newer := s.unsavedD[id][seq]; !newer {
				s.unsavedD[id][seq] = d
			}
		}
	}
	return err
}

// saveState is the write of a save: the redelivery requests taken,
// endpoints' states and delivery records.
func saveState(taken [][]byte, states map[string]state, ds map[string]map[uint64]*Delivery) func(tx *kv.Tx) error {
	return func(tx *kv.Tx) error {
		hb := tx.Bucket(bucketHooks)
		eps := hb.Bucket(bucketEndpoints)
		// The redeliveries asked for on other nodes that the state saved
		// here holds now.
		if rb := hb.Bucket(bucketRequests); rb != nil {
			for _, k := range taken {
				if err := rb.Delete(k); err != nil {
					return err
				}
			}
		}
		for id, st := range states {
			if eps.Get([]byte(id)) == nil {
				continue // deleted
			}
			if err := putJSON(hb.Bucket(bucketState), id, st); err != nil {
				return err
			}
		}
		for id, m := range ds {
			if eps.Get([]byte(id)) == nil {
				continue
			}
			b, err := hb.Bucket(bucketDeliveries).CreateBucketIfNotExists([]byte(id))
			if err != nil {
				return err
			}
			for seq, d := range m {
				raw, err := json.Marshal(d)
				if err != nil {
					return err
				}
				if err := b.Put(seqKey(seq), raw); err != nil {
					return err
				}
			}
			if err := trimDeliveries(b); err != nil {
				return err
			}
		}
		return nil
	}
}

// savePart is how many delivery records a save in parts writes at once:
// with their attempts' logs, well under a megabyte (NATS's default
// largest message, which bounds a change set in a cluster).
const savePart = 32

// saveInParts is a save too large for one write: the states first, then
// each endpoint's delivery records, savePart at a time, oldest first.
// A part that fails fails the save, which is tried again whole.
func (s *Service) saveInParts(taken [][]byte, states map[string]state, ds map[string]map[uint64]*Delivery) error {
	if err := s.docs.Write("the webhooks' state", saveState(taken, states, nil)); err != nil {
		return err
	}
	for id, m := range ds {
		seqs := slices.Sorted(maps.Keys(m))
		for part := range slices.Chunk(seqs, savePart) {
			some := make(map[uint64]*Delivery, len(part))
			for _, seq := range part {
				some[seq] = m[seq]
			}
			if err := s.docs.Write("the webhooks' delivery log", saveState(nil, nil, map[string]map[uint64]*Delivery{id: some})); err != nil {
				return err
			}
		}
	}
	return nil
}

// trimDeliveries keeps an endpoint's newest keepDeliveries records, and
// every pending one.
func trimDeliveries(b *kv.Bucket) error {
	c := b.Cursor()
	k, _ := c.Last()
	for i := 0; i < keepDeliveries && k != nil; i++ {
		k, _ = c.Prev()
	}
	for ; k != nil; k, _ = c.Prev() {
		var d Delivery
		if v := b.Get(k); v != nil && json.Unmarshal(v, &d) == nil && d.Status == StatusPending {
			continue
		}
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Deliveries returns endpoint id's delivery log, newest event first,
// before the event with seq before (0: from the newest), at most limit.
func (s *Service) Deliveries(workspace, id string, before uint64, limit int) ([]Delivery, error) {
	if _, _, err := s.lookup(workspace, id); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	got := map[uint64]*Delivery{}
	err := s.docs.View(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks).Bucket(bucketDeliveries).Bucket([]byte(id))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Last()
		if before > 0 {
			if k, v = c.Seek(seqKey(before)); k == nil {
				k, v = c.Last()
			}
			for k != nil && binary.BigEndian.Uint64(k) >= before {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(got) < limit; k, v = c.Prev() {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			got[d.Seq] = &d
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.smu.Lock()
	for seq, d := range s.unsavedD[id] {
		if before == 0 || seq < before {
			got[seq] = d.clone()
		}
	}
	s.smu.Unlock()
	out := make([]Delivery, 0, len(got))
	for _, d := range got {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Delivery) int { return -cmpSeq(a.Seq, b.Seq) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Redeliver sends event eventID to endpoint id again, now, out of turn:
// for an event it is done with (delivered, failed, or filtered out). For
// the event at the head of its queue, it brings the next attempt forward
// to now. Its give-up clock starts again. In cluster mode, on a node that
// does not deliver, the request is stored for the node that does.
func (s *Service) Redeliver(workspace, id, eventID string) (Delivery, error) {
	seq, err := s.ParseEventID(eventID)
	if err != nil {
		return Delivery{}, err
	}
	_, w, err := s.lookup(workspace, id)
	if err != nil {
		return Delivery{}, err
	}
	es, err := s.docs.Journal(docs.JournalQuery{After: seq - 1, Limit: 1})
	if err != nil {
		return Delivery{}, err
	}
	if len(es) == 0 || es[0].Seq != seq || (workspace != "" && es[0].Workspace != workspace) {
		return Delivery{}, fmt.Errorf("%w: no event %s for this endpoint (or it was forgotten)", ErrNotFound, eventID)
	}
	if w == nil {
		return s.requestRedelivery(id, seq, typeOf(es[0].Kind))
	}
	old, err := s.delivery(id, seq)
	if err != nil {
		return Delivery{}, err
	}
	return w.redeliver(seq, old, typeOf(es[0].Kind))
}

// redeliver queues event seq (of type typ; old is its record, if any)
// for the worker's endpoint again, as Redeliver says.
func (w *worker) redeliver(seq uint64, old *Delivery, typ string) (Delivery, error) {
	s := w.s
	now := s.cfg.Now()
	w.mu.Lock()
	defer func() { w.mu.Unlock(); w.nudge() }()
	switch {
	case w.head != nil && w.head.Seq == seq:
		w.head.NextAttempt = now
		s.unsave(w.id, w.st, w.head)
		return *w.head.clone(), nil
	case seq > w.st.Cursor:
		return Delivery{}, fmt.Errorf("%w: event %s has not had its turn yet: it is queued behind the event under way", ErrInvalid, s.eventID(seq))
	}
	d := w.redo[seq]
	if d == nil {
		if len(w.redo) >= MaxRedeliveries {
			return Delivery{}, fmt.Errorf("%w: %d redeliveries are queued already", ErrTooMany, len(w.redo))
		}
		d = old
		if d == nil {
			d = newDelivery(s.eventID(seq), seq, typ)
		}
		w.redo[seq] = d
		w.st.Redeliver = append(w.st.Redeliver, seq)
	}
	d.Status, d.FirstAttempt, d.NextAttempt = StatusPending, time.Time{}, now
	s.unsave(w.id, w.st, d)
	return *d.clone(), nil
}

// newDelivery is the record of an event not attempted yet.
func newDelivery(event string, seq uint64, typ string) *Delivery {
	return &Delivery{Event: event, Seq: seq, Type: typ, Log: []Attempt{}}
}

// delivery reads endpoint id's record of the event seq, nil if none.
func (s *Service) delivery(id string, seq uint64) (*Delivery, error) {
	s.smu.Lock()
	if d := s.unsavedD[id][seq]; d != nil {
		s.smu.Unlock()
		return d.clone(), nil
	}
	s.smu.Unlock()
	var out *Delivery
	err := s.docs.View(func(tx *kv.Tx) error {
		b := tx.Bucket(bucketHooks).Bucket(bucketDeliveries).Bucket([]byte(id))
		if b == nil {
			return nil
		}
		if v := b.Get(seqKey(seq)); v != nil {
			out = &Delivery{}
			return json.Unmarshal(v, out)
		}
		return nil
	})
	return out, err
}
