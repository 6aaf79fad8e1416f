package hooks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/kv"
)

// In a cluster every node runs a Service over its replica of the store,
// and every node hears of every revision and journal entry. One node
// delivers and summarises edits: the holder of the lease "webhooks"
// (docs.Manager.Lease), which renews it every LeaseTTL/3. The others
// serve the API from their replica: an endpoint created, changed or
// deleted there, or a redelivery asked for, is a replicated write, which
// the holder hears of (Watcher.Changes) and applies to its workers; it
// also checks at each renewal.
//
// On gaining the lease a node loads the endpoints and their progress and
// starts delivering, and summarises the edits left unsummarised; on
// losing it (or failing to renew it before it expires) it stops, an
// attempt in flight abandoned, and saves its progress. The next holder
// carries on from the saved progress: an event whose delivery was not
// saved is sent again, as after a crash (at least once).

const leaseName = "webhooks"

// delivering reports whether this service may deliver and summarise
// now: always in local mode; in cluster mode while it holds the lease,
// until its ttl runs out without a renewal.
func (s *Service) delivering() bool {
	return !s.clustered || s.active.Load() && s.cfg.Now().UnixNano() < s.leaseEnd.Load()
}

// leaser takes and renews the lease every LeaseTTL/3, starting and
// stopping the deliveries as it is gained and lost; between renewals it
// applies the endpoint changes made on other nodes, while it holds it.
func (s *Service) leaser() {
	defer s.wg.Done()
	for {
		start := s.cfg.Now()
		held, err := s.docs.Lease(leaseName, s.cfg.Node, s.cfg.LeaseTTL)
		switch {
		case err != nil:
			s.log.Warn("webhooks: renewing the lease", "node", s.cfg.Node, "err", err)
			if s.active.Load() && !s.delivering() {
				s.lose()
			}
		case held:
			lapsed := !s.delivering()
			s.leaseEnd.Store(start.Add(s.cfg.LeaseTTL).UnixNano())
			if !s.active.Load() {
				s.gain()
			} else {
				if lapsed {
					// Held throughout, but the workers paused when its
					// ttl ran out before this renewal came back.
					s.wakeAll()
				}
				s.reconcile()
			}
		case s.active.Load():
			s.lose()
		}
		timer := s.cfg.After(s.cfg.LeaseTTL / 3)
	wait:
		for {
			select {
			case <-s.stop:
				return
			case <-timer:
				break wait
			case <-s.resync:
				if s.active.Load() {
					s.reconcile()
				}
			}
		}
	}
}

// gain starts delivering: the endpoints as stored, the edits to
// summarise.
func (s *Service) gain() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.active.Store(true)
	s.mu.Unlock()
	s.log.Info("webhooks: this node delivers", "node", s.cfg.Node)
	s.start()
	s.takeRequests()
	s.nudgeNoter()
	if f := s.cfg.OnLease; f != nil {
		f(true)
	}
}

// lose stops delivering: the workers (an attempt in flight is abandoned),
// the edits due (summarised by the next holder), then saves the progress.
// What a failed save did not keep is dropped, not saved later over the
// next holder's: those events are sent again.
func (s *Service) lose() {
	s.mu.Lock()
	s.active.Store(false)
	ws := s.workers
	s.workers = map[string]*worker{}
	s.mu.Unlock()
	for _, w := range ws {
		w.quit()
	}
	for _, w := range ws {
		<-w.exited
	}
	s.nmu.Lock()
	clear(s.due)
	s.nmu.Unlock()
	if err := s.save(); err != nil {
		s.log.Warn("webhooks: saving the delivery state on losing the lease; the events since its last save will be sent again", "err", err)
		s.smu.Lock()
		clear(s.unsaved)
		clear(s.unsavedD)
		s.smu.Unlock()
	}
	s.smu.Lock()
	clear(s.taken)
	s.smu.Unlock()
	s.log.Info("webhooks: this node no longer delivers", "node", s.cfg.Node)
	if f := s.cfg.OnLease; f != nil {
		f(false)
	}
}

// wakeAll nudges every worker and the noter.
func (s *Service) wakeAll() {
	s.mu.Lock()
	for _, w := range s.workers {
		w.nudge()
	}
	s.mu.Unlock()
	s.nudgeNoter()
}

// onChanges hears of every change set the cluster applies here, and
// asks the leaser to reconcile when one wrote endpoints or redelivery
// requests. It runs on the docs follower: it only looks.
func (s *Service) onChanges(c kv.Changes) {
	for _, ch := range c {
		if len(ch.Path) == 0 || !bytes.Equal(ch.Path[0], bucketHooks) {
			continue
		}
		sub := ch.Key // the bucket made or deleted
		if len(ch.Path) >= 2 {
			sub = ch.Path[1]
		}
		if bytes.Equal(sub, bucketEndpoints) || bytes.Equal(sub, bucketRequests) {
			select {
			case s.resync <- struct{}{}:
			default:
			}
			return
		}
	}
}

// reconcile makes the workers match the stored endpoints, as other nodes
// may have changed them: new ones start, deleted ones stop, changed
// settings apply; then it takes the redeliveries asked for.
func (s *Service) reconcile() {
	eps, states, err := s.load()
	if err != nil {
		s.log.Warn("webhooks: reading the endpoints", "err", err)
		return
	}
	stored := map[string]bool{}
	for _, ep := range eps {
		stored[ep.ID] = true
		s.mu.Lock()
		w := s.workers[ep.ID]
		s.mu.Unlock()
		if w == nil {
			s.startWorker(ep, states[ep.ID])
			continue
		}
		if same(w.endpoint(), ep) {
			continue
		}
		// Read again under emu, so that a change made here meanwhile is
		// not undone by the older copy.
		w.emu.Lock()
		var fresh Endpoint
		var ok bool
		err := s.docs.View(func(tx *kv.Tx) error {
			var err error
			fresh, ok, err = getEndpoint(tx, ep.ID)
			return err
		})
		if err == nil && ok {
			w.setEndpoint(fresh)
		}
		w.emu.Unlock()
	}
	s.mu.Lock()
	var gone []string
	for id := range s.workers {
		if !stored[id] {
			gone = append(gone, id)
		}
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.dropWorker(id)
	}
	s.takeRequests()
}

// same reports whether two copies of an endpoint agree.
func same(a, b Endpoint) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// A redelivery asked for on a node that does not deliver is stored under
// requestKey, for the holder to take into the endpoint's queue; the save
// that saves the queue deletes it.
func requestKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(id), 0), seq)
}

func parseRequestKey(k []byte) (id string, seq uint64, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) != i+9 {
		return "", 0, false
	}
	return string(k[:i]), binary.BigEndian.Uint64(k[i+1:]), true
}

// deleteRequests deletes the redeliveries asked for endpoint id.
func deleteRequests(hb *kv.Bucket, id string) error {
	rb := hb.Bucket(bucketRequests)
	if rb == nil {
		return nil
	}
	prefix := append([]byte(id), 0)
	var keys [][]byte
	c := rb.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, slices.Clone(k))
	}
	for _, k := range keys {
		if err := rb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// requestRedelivery stores a redelivery of event seq (of type typ) to
// endpoint id for the node that delivers, and returns the delivery as it
// will be. The progress saved here may be up to SaveEvery old, so an
// event that has not had its turn yet is not refused: the holder, which
// knows, sends it in its turn (and at once if it is the one under way).
func (s *Service) requestRedelivery(id string, seq uint64, typ string) (Delivery, error) {
	now := s.cfg.Now()
	var out Delivery
	err := s.docs.Write("the redelivery", func(tx *kv.Tx) error {
		hb := tx.Bucket(bucketHooks)
		if _, ok, err := getEndpoint(tx, id); err != nil || !ok {
			return fmt.Errorf("%w: no endpoint %q here", ErrNotFound, id)
		}
		var st state
		if v := hb.Bucket(bucketState).Get([]byte(id)); v != nil {
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
		}
		d := newDelivery(s.eventID(seq), seq, typ)
		if b := hb.Bucket(bucketDeliveries).Bucket([]byte(id)); b != nil {
			if v := b.Get(seqKey(seq)); v != nil {
				if err := json.Unmarshal(v, d); err != nil {
					return err
				}
			}
		}
		rb, err := hb.CreateBucketIfNotExists(bucketRequests)
		if err != nil {
			return err
		}
		key := requestKey(id, seq)
		if rb.Get(key) == nil && !slices.Contains(st.Redeliver, seq) {
			n := len(st.Redeliver)
			prefix := append([]byte(id), 0)
			c := rb.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				n++
			}
			if n >= MaxRedeliveries {
				return fmt.Errorf("%w: %d redeliveries are queued already", ErrTooMany, n)
			}
		}
		d.Status, d.FirstAttempt, d.NextAttempt = StatusPending, time.Time{}, now
		out = *d
		return rb.Put(key, []byte{1})
	})
	return out, err
}

// takeRequests takes the redeliveries asked for on other nodes into the
// workers' queues.
func (s *Service) takeRequests() {
	var keys [][]byte
	err := s.docs.View(func(tx *kv.Tx) error {
		hb := tx.Bucket(bucketHooks)
		if hb == nil || hb.Bucket(bucketRequests) == nil {
			return nil
		}
		return hb.Bucket(bucketRequests).ForEach(func(k, _ []byte) error {
			keys = append(keys, slices.Clone(k))
			return nil
		})
	})
	if err != nil {
		s.log.Warn("webhooks: reading the redeliveries asked for", "err", err)
		return
	}
	for _, k := range keys {
		id, seq, ok := parseRequestKey(k)
		s.smu.Lock()
		taken := s.taken[string(k)]
		s.smu.Unlock()
		s.mu.Lock()
		w := s.workers[id]
		s.mu.Unlock()
		if !ok || taken || w == nil {
			continue
		}
		es, err := s.docs.Journal(docs.JournalQuery{After: seq - 1, Limit: 1})
		if err != nil {
			s.log.Warn("webhooks: reading the journal", "endpoint", id, "err", err)
			continue
		}
		old, err := s.delivery(id, seq)
		if err != nil {
			s.log.Warn("webhooks: reading the delivery log", "endpoint", id, "err", err)
			continue
		}
		if len(es) == 0 || es[0].Seq != seq {
			s.log.Warn("webhooks: a redelivery asked for an event forgotten since", "endpoint", id, "event", s.eventID(seq))
		} else if _, err := w.redeliver(seq, old, typeOf(es[0].Kind)); err != nil {
			s.log.Warn("webhooks: a redelivery asked for on another node", "endpoint", id, "event", s.eventID(seq), "err", err)
		}
		s.smu.Lock()
		s.taken[string(k)] = true
		s.smu.Unlock()
	}
}

// storedInfo is endpoint ep as the store has it, with the delivery at the
// head of its queue as last saved: what a node that does not deliver
// knows of it.
func (s *Service) storedInfo(ep Endpoint) (Info, error) {
	var in Info
	err := s.docs.View(func(tx *kv.Tx) error {
		var err error
		in, err = infoOf(tx, ep)
		return err
	})
	return in, err
}

// storedInfos is storedInfo of every endpoint of a workspace.
func (s *Service) storedInfos(workspace string) ([]Info, error) {
	var out []Info
	err := s.docs.View(func(tx *kv.Tx) error {
		hb := tx.Bucket(bucketHooks)
		if hb == nil {
			return nil
		}
		return hb.Bucket(bucketEndpoints).ForEach(func(k, v []byte) error {
			var ep Endpoint
			if err := json.Unmarshal(v, &ep); err != nil {
				return fmt.Errorf("endpoint %s: %w", k, err)
			}
			if ep.Workspace != workspace {
				return nil
			}
			in, err := infoOf(tx, ep)
			out = append(out, in)
			return err
		})
	})
	return out, err
}

// infoOf reads ep's pending delivery, the first pending one after its
// saved cursor, if attempted.
func infoOf(tx *kv.Tx, ep Endpoint) (Info, error) {
	in := Info{Endpoint: ep}
	in.Secret = ""
	hb := tx.Bucket(bucketHooks)
	var st state
	if v := hb.Bucket(bucketState).Get([]byte(ep.ID)); v != nil {
		if err := json.Unmarshal(v, &st); err != nil {
			return in, err
		}
	}
	b := hb.Bucket(bucketDeliveries).Bucket([]byte(ep.ID))
	if b == nil {
		return in, nil
	}
	c := b.Cursor()
	for k, v := c.Seek(seqKey(st.Cursor + 1)); k != nil; k, v = c.Next() {
		var d Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return in, err
		}
		if d.Status == StatusPending {
			if d.Attempts > 0 {
				in.Pending = &d
			}
			break
		}
	}
	return in, nil
}
