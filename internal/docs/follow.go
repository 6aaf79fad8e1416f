package docs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// A Manager in cluster mode (Config.Log set; see Log) runs three things
// beside the local mode's:
//
//   - the follower: every entry of the Log, in order, applied to this
//     node's bbolt file: runs of revisions through the group commit (so a
//     live document and its subscribers hear of them in order with the
//     node's own), change sets straight into bbolt;
//   - the metadata committer: writes other than revisions, recorded and
//     committed to the Log as change sets, one at a time;
//   - catching up: an edit refused because another node wrote first reads
//     what it missed (Log.Since) and is transformed and tried again.
type cluster struct {
	log Log

	mu   sync.Mutex
	cond sync.Cond // broadcast when followed or metaPos move
	// followed is the position of the newest entry applied; metaPos that
	// of the newest change set, which the next one must follow.
	followed, metaPos uint64
	closed            bool

	stop func() // ends the follow
	// steps takes the entries the follower handed on to the advancer;
	// queued is the position of the last (the follower's goroutine only).
	steps  chan step
	queued uint64
	// The metadata committer's queue (guarded by mu), and its wake-up.
	metaq []*write
	wake  chan struct{}
}

// The node's own positions in the Log, kept in bbolt beside the
// settings: never recorded, never replicated.
var (
	keyFollowed = settingKey("cluster:followed")
	keyMetaPos  = settingKey("cluster:meta")
)

// catchUpTries bounds how often an edit refused by the Log is transformed
// over what it missed and tried again.
const catchUpTries = 200

// newCluster is the cluster-mode state of a Manager over l.
func newCluster(l Log) *cluster {
	c := &cluster{log: l, wake: make(chan struct{}, 1), steps: make(chan step, 4096)}
	c.cond.L = &c.mu
	return c
}

// startCluster reads the node's positions, follows the Log from there
// and waits until it has applied everything the Log held at the start.
func (m *Manager) startCluster() error {
	c, l := m.cl, m.cl.log
	err := viewDB(m.store.db, func(tx *kv.Tx) error {
		b := tx.Bucket(bucketLinks)
		c.followed = readPos(b.Get(keyFollowed))
		c.metaPos = readPos(b.Get(keyMetaPos))
		return nil
	})
	if err != nil {
		return err
	}
	m.store.followed.Store(c.followed)
	m.store.sync = m.Sync
	last, err := l.Last()
	if err != nil {
		return fmt.Errorf("docs: the cluster's log: %w", err)
	}
	c.queued = c.followed
	m.wg.Add(2)
	go m.advancer()
	go m.metaCommitter()
	if c.stop, err = l.Follow(c.followed, m.follow); err != nil {
		return fmt.Errorf("docs: the cluster's log: %w", err)
	}
	start := time.Now()
	if err := c.await(last); err != nil {
		return err
	}
	m.cfg.Logger.Info("caught up with the cluster", "position", last, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func readPos(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// await waits until the follower has applied position pos.
func (c *cluster) await(pos uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.followed < pos && !c.closed {
		c.cond.Wait()
	}
	if c.followed < pos {
		return ErrClosed
	}
	return nil
}

// Sync waits until this node has applied everything the cluster's Log
// acknowledged before the call: a read after it sees every write
// acknowledged anywhere before it. It costs one round trip to the Log. In
// local mode it returns at once.
func (m *Manager) Sync() error {
	if m.cl == nil {
		return nil
	}
	last, err := m.cl.log.Last()
	if err != nil {
		return fmt.Errorf("%w: the cluster's log: %w", ErrStorage, err)
	}
	return m.cl.await(last)
}

// missed runs read, and, in cluster mode, when it finds nothing (an
// ErrNotFound) waits for the node to apply what the cluster acknowledged
// and runs it again: what another node created a moment ago is found.
func (s *Store) missed(read func() error) error {
	err := read()
	if sync := s.sync; sync != nil && errors.Is(err, ErrNotFound) {
		if serr := sync(); serr != nil {
			return err
		}
		err = read()
	}
	return err
}

// purgeLog forgets a purged document's revisions in the cluster's Log,
// if it can (see Purger). The change sets that named the document stay.
func (m *Manager) purgeLog(id string) {
	if m.cl == nil {
		return
	}
	if p, ok := m.cl.log.(Purger); ok {
		if err := p.Purge(id); err != nil {
			m.cfg.Logger.Warn("purging a document's revisions from the cluster's log", "doc", id, "err", err)
		}
	}
}

// close stops following. Called by Manager.Close before the committer
// closes.
func (c *cluster) close() {
	if c.stop != nil { // nil if Open failed before following
		c.stop()
	}
	close(c.steps)
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.poke()
}

// enqueue queues w for the metadata committer. It never blocks.
func (c *cluster) enqueue(w *write) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		w.err = ErrClosed
		go finish(w)
		return
	}
	c.metaq = append(c.metaq, w)
	c.mu.Unlock()
	c.poke()
}

func (c *cluster) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// next waits for queued writes and takes them all; nil once closed and
// drained.
func (c *cluster) next() []*write {
	for {
		c.mu.Lock()
		batch, closed := c.metaq, c.closed
		c.metaq = nil
		c.mu.Unlock()
		if len(batch) > 0 || closed {
			return batch
		}
		<-c.wake
	}
}

// finish reports a write's result: durable, done, then.
func finish(w *write) {
	if w.durable != nil {
		w.durable(w.err)
	}
	close(w.done)
	if w.then != nil {
		w.then(w.err)
	}
}

// follow applies one entry of the Log; the follower's goroutine only. A
// run is handed to the group commit without waiting for it, so that the
// next entries follow it into the queue; a change set waits until the
// runs before it are applied. The node's position moves past an entry
// once it is applied (see advancer).
func (m *Manager) follow(e Entry) {
	c := m.cl
	if e.Run != nil {
		c.steps <- step{pos: e.Pos, done: m.applyRun(*e.Run)}
	} else {
		if err := c.await(c.queued); err != nil {
			return // closing
		}
		m.applyChanges(e.Pos, e.Changes)
		c.steps <- step{pos: e.Pos, changes: true}
	}
	c.queued = e.Pos
}

// A step is an entry of the Log the follower handed on: applied once done
// is closed (nil: applied already).
type step struct {
	pos     uint64
	done    <-chan struct{}
	changes bool
}

// advancer moves the node's position past each entry, in order, once it
// is applied, and wakes whoever waits for it (see await).
func (m *Manager) advancer() {
	defer m.wg.Done()
	c := m.cl
	for st := range c.steps {
		if st.done != nil {
			<-st.done
		}
		m.store.followed.Store(st.pos)
		c.mu.Lock()
		c.followed = st.pos
		if st.changes {
			c.metaPos = st.pos
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// applyRun queues a run of revisions of the Log for its document, through
// the group commit, and returns what is closed once they are applied (nil
// if there is nothing to apply: the node's own run, or a document gone).
func (m *Manager) applyRun(run Run) <-chan struct{} {
	if d := m.loaded(run.Doc); d != nil && d.durableRev() >= run.Last() {
		return nil // this node's own, or caught up already
	}
	d, err := m.open(run.Doc) // not Open, which may wait for the follower
	if err != nil {
		if !errors.Is(err, ErrNotFound) { // not a document purged since
			m.repair(run.Doc, err)
		}
		return nil
	}
	ws, err := remoteWrites(d, []Run{run})
	if err != nil || len(ws) == 0 {
		d.Release()
		if err != nil {
			m.cfg.Logger.Error("revisions from the cluster do not decode: skipped", "doc", run.Doc, "position", run.Pos, "err", err)
		}
		return nil
	}
	last := ws[len(ws)-1]
	for _, w := range ws {
		w.durable = func(err error) {
			if err != nil {
				m.repair(run.Doc, err)
			}
			if w == last {
				d.Release()
			}
		}
		m.commit.enqueue(w)
	}
	return last.done
}

// remoteWrites makes the writes of runs of d, read from the Log.
func remoteWrites(d *Document, runs []Run) ([]*write, error) {
	var ws []*write
	for _, run := range runs {
		revs, recs, err := decodeRun(run)
		if err != nil {
			return nil, err
		}
		for i, r := range revs {
			ws = append(ws, &write{doc: d, rev: r, prep: prepared{rec: recs[i]}, remote: true, pos: run.Pos, node: run.Node})
		}
	}
	return ws, nil
}

// repair brings document id up to the Log after revisions of it from the
// follower could not be applied (a gap before them, a document closed
// meanwhile): it reads what the document lacks from the Log, off the
// follower's and the commit's goroutines.
func (m *Manager) repair(id string, cause error) {
	if m.isClosed() {
		return
	}
	m.cfg.Logger.Warn("catching a document up with the cluster", "doc", id, "because", cause)
	go func() {
		d, err := m.open(id)
		if err != nil {
			return
		}
		defer d.Release()
		if err := m.catchUp(d); err != nil {
			m.cfg.Logger.Error("catching a document up with the cluster", "doc", id, "err", err)
		}
	}()
}

// pause waits d, or until the manager closes (false).
func (m *Manager) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.stop:
		return false
	}
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// remote applies runs of document id read from the Log (consecutive, in
// order) to the live document, loading it, and waits until they are.
// A gap before them (revisions this node missed) is read from the Log
// first.
func (m *Manager) remote(id string, runs []Run) error {
	d, err := m.open(id) // not Open, which may wait for the follower
	if err != nil {
		return err
	}
	defer d.Release()
	ws, err := remoteWrites(d, runs)
	if err != nil {
		return err
	}
	for _, w := range ws {
		m.commit.enqueue(w)
	}
	for _, w := range ws {
		<-w.done
		if errors.Is(w.err, errGap) {
			// This node missed revisions before these: read them from
			// the Log, which has them all, and apply from there.
			return m.catchUp(d)
		}
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

// errGap is a remote revision that does not follow the document's newest.
var errGap = errors.New("docs: revisions from the cluster after a gap")

// catchUpTo brings d up to the revision another node wrote first, which
// refused one of d's with err (see awaitRev).
func (m *Manager) catchUpTo(d *Document, err error) error {
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Head == 0 && ce.Pos == 0 {
		return m.catchUp(d)
	}
	return m.awaitRev(d, ce.Head, ce.Pos)
}

// awaitRev waits until d has revision rev and the Log's entry at position
// pos (0: not asked): the follower brings them within moments, a read from
// the Log (catchUp) if it does not.
func (m *Manager) awaitRev(d *Document, rev, pos uint64) error {
	timer := time.NewTimer(followWait)
	defer timer.Stop()
	for {
		d.mu.Lock()
		at, atPos, advanced := d.durRev, d.durPos, d.advanced
		if advanced == nil {
			advanced = make(chan struct{})
			d.advanced = advanced
		}
		d.mu.Unlock()
		if (rev == 0 || at >= rev) && (pos == 0 || atPos >= pos) {
			return nil
		}
		select {
		case <-advanced:
		case <-timer.C:
			return m.catchUp(d)
		}
	}
}

// followWait is how long an edit refused by the Log waits for the
// follower to bring what another node wrote before reading it itself: a
// follower is milliseconds behind, a few hundred on a saturated machine;
// longer, it is stuck (a stream between leaders), and a read from the
// leader is quicker.
const followWait = 250 * time.Millisecond

// catchUp applies to d whatever the Log has of it after its newest
// durable revision. One at a time per document, and shared: callers
// that arrive while one is under way wait for the next, which one of
// them runs for all, so that edits refused while the follower is stuck do
// not flood the stream's leader with reads (which would hold up every
// request to it, the follower's own included).
func (m *Manager) catchUp(d *Document) error {
	d.mu.Lock()
	need := d.catchBegun + 1 // a catch-up that begins from now on
	for d.catchDone < need && d.catching != nil {
		wait := d.catching
		d.mu.Unlock()
		<-wait
		d.mu.Lock()
	}
	if d.catchDone >= need {
		d.mu.Unlock()
		return nil // another caller's, begun after this one arrived
	}
	d.catchBegun++
	rev, done, n := d.durRev, make(chan struct{}), d.catchBegun
	d.catching = done
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.catching, d.catchDone = nil, n
		d.mu.Unlock()
		close(done)
	}()
	runs, err := m.cl.log.Since(d.id, rev)
	if err != nil {
		return fmt.Errorf("%w: reading %q from the cluster: %w", ErrStorage, d.id, err)
	}
	if len(runs) == 0 {
		return nil
	}
	return m.remote(d.id, runs)
}

// applyRemote applies a revision of the Log to its live document, on the
// commit goroutine, so that the document's subscribers hear of it in
// order with the node's own. Local edits not yet durable were made
// against an older head: they are rolled back (and fail with ErrConflict,
// which their Submit answers by catching up and trying again).
func (c *committer) applyRemote(w *write) {
	d := w.doc
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.err != nil:
		w.err = d.err
		return
	case w.rev.Rev <= d.durRev:
		w.skip = true // this node's own, or applied before
		return
	case w.rev.Rev != d.durRev+1:
		w.err = fmt.Errorf("%w: revision %d of %q after %d", errGap, w.rev.Rev, d.id, d.durRev)
		return
	}
	if first := d.writes[d.durRev+1]; first != nil {
		// The edits rolled back are transformed over this revision and
		// tried again (see catchUpTo): nothing more to wait for.
		first.abandoned = &ConflictError{Doc: d.id, Head: w.rev.Rev}
		d.rollback(first, first.abandoned)
	}
	text, err := w.rev.Op.ApplyRope(d.durTxt)
	if err != nil {
		w.err = fmt.Errorf("docs: revision %d of %q from the cluster does not apply: %w", w.rev.Rev, d.id, err)
		return
	}
	r := w.rev
	w.text = text
	d.text, d.head, d.durRev, d.durTxt = text, r.Rev, r.Rev, text
	if w.pos != 0 {
		d.durPos = w.pos
	}
	d.writer = w.node
	d.hist = append(d.hist, r)
	if client, seq, ok := parseOpID(r.OpID); ok {
		d.marks[client] = clientMark{seq: seq, rev: r.Rev}
	} else if r.OpID != "" {
		d.opids[r.OpID] = r.Rev
	}
	d.snapLog += uint64(len(w.prep.rec))
	if c.store.snapshotDue(r.Rev-d.snapRev, d.snapLog, d.snapSize) {
		d.snapRev, d.snapLog, d.snapSize = r.Rev, 0, uint64(text.ByteLen())
	}
	d.trim()
	if d.advanced != nil {
		close(d.advanced)
		d.advanced = nil
	}
}

// clusterLog is cluster mode's revisionLog: revisions from the Log are
// applied, this node's revisions appended to the Log, one run per
// document, and the batch returned in the order its subscribers hear of
// it (the Log's revisions first). Writes that are not revisions went to
// the metadata committer or, if the node's own, commit to bbolt here.
type clusterLog struct {
	log  Log
	node string // Config.Node, on every run
}

func (l *clusterLog) commit(c *committer, batch []*write) ([]*write, error) {
	var remote, local, other []*write
	for _, w := range batch {
		switch {
		case w.remote:
			c.applyRemote(w)
			if w.err == nil && !w.skip {
				remote = append(remote, w)
			}
		case w.doc != nil:
			local = append(local, w)
		default:
			other = append(other, w)
		}
	}
	if len(remote) > 0 {
		c.store.addPending(remote)
	}
	if len(local) > 0 {
		l.appendRuns(c, local)
	}
	if len(other) > 0 {
		if err := c.commitBatch(other); err != nil {
			for _, w := range other {
				w.err = notSaved(w.what, err)
			}
		}
	}
	out := make([]*write, 0, len(batch))
	for _, w := range batch {
		if w.remote {
			out = append(out, w)
		}
	}
	for _, w := range batch {
		if !w.remote {
			out = append(out, w)
		}
	}
	return out, nil
}

// fitsLog refuses, in cluster mode, a revision (what: "the edit") whose
// record of n bytes one entry of the Log cannot carry (see
// Log.MaxAppend): it could never be appended.
func (m *Manager) fitsLog(what string, n int) error {
	if m.cl == nil {
		return nil
	}
	if most := m.cl.log.MaxAppend() - binary.MaxVarintLen64; n > most {
		return fmt.Errorf("%w: %s takes %d bytes, and the cluster's log takes at most %d in one message (the NATS servers' max_payload)", ErrTooLarge, what, n, most)
	}
	return nil
}

// appendRuns appends this node's revisions to the Log, one run per
// document, and sets each write's error. A revision rolled back since it
// was queued (see rollback) is not sent. A run stops short of what one
// entry of the Log carries: a document's revisions beyond go in the next
// round of runs, once the first is stored (or fail with it).
func (l *clusterLog) appendRuns(c *committer, local []*write) {
	for len(local) > 0 {
		local = l.appendRound(c, local)
	}
}

// appendRound is one round of appendRuns: it returns the writes left
// for the next.
func (l *clusterLog) appendRound(c *committer, local []*write) (next []*write) {
	var (
		runs  []Run
		owner [][]*write
		at    = map[*Document]int{}
		full  = map[*Document]bool{}
		most  = l.log.MaxAppend()
	)
	for _, w := range local {
		d := w.doc
		d.mu.Lock()
		abandoned := w.abandoned
		d.mu.Unlock()
		if abandoned != nil {
			w.err = abandoned
			continue
		}
		i, ok := at[d]
		if ok && (full[d] || len(runs[i].Body)+binary.MaxVarintLen64+len(w.prep.rec) > most) {
			full[d] = true
			next = append(next, w)
			continue
		}
		if ok && runs[i].Last()+1 != w.rev.Rev {
			w.err = fmt.Errorf("%w: revision %d of %q does not follow %d", ErrConflict, w.rev.Rev, d.id, runs[i].Last())
			continue
		}
		if !ok {
			i = len(runs)
			at[d] = i
			runs = append(runs, Run{Doc: d.id, First: w.rev.Rev, Node: l.node})
			owner = append(owner, nil)
		}
		runs[i].Count++
		runs[i].Body = appendRunRecord(runs[i].Body, w.prep.rec)
		owner[i] = append(owner[i], w)
	}
	if len(runs) == 0 {
		return nil
	}
	errs := l.log.Append(runs)
	var durable []*write
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrConflict) {
			// Unknown whether it was stored: the document's next append
			// finds out (a conflict, if it was).
			err = &refusal{what: theLog, err: err}
		}
		for _, w := range owner[i] {
			w.err, w.pos = err, runs[i].Pos
		}
		if err == nil {
			durable = append(durable, owner[i]...)
		}
	}
	if len(durable) > 0 {
		c.store.addPending(durable)
	}
	// A document's revisions after a run that failed cannot follow it.
	left := next[:0]
	for _, w := range next {
		if err := owner[at[w.doc]][0].err; err != nil {
			w.err = err
		} else {
			left = append(left, w)
		}
	}
	return left
}

// NewRun makes a Run of consecutive revisions of document doc.
func NewRun(doc string, revs []Revision) Run {
	r := Run{Doc: doc, First: revs[0].Rev, Count: len(revs)}
	for _, rev := range revs {
		rec, _ := encodeRecord(rev)
		r.Body = appendRunRecord(r.Body, rec)
	}
	return r
}

// A run's body: each revision's record (see encodeRecord), preceded by
// its length as a uvarint.
func appendRunRecord(body, rec []byte) []byte {
	return append(binary.AppendUvarint(body, uint64(len(rec))), rec...)
}

// decodeRun returns a run's revisions and their records.
func decodeRun(run Run) ([]Revision, [][]byte, error) {
	revs := make([]Revision, 0, run.Count)
	recs := make([][]byte, 0, run.Count)
	b := run.Body
	for i := 0; i < run.Count; i++ {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, nil, fmt.Errorf("docs: run of %q at %d from the cluster: %w", run.Doc, run.Pos, corruptRecord(run.First+uint64(i)))
		}
		rec := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		r, err := decodeRecord(run.First+uint64(i), rec)
		if err != nil {
			return nil, nil, fmt.Errorf("docs: run of %q at %d from the cluster: %w", run.Doc, run.Pos, err)
		}
		r.opJSON = recordOp(rec)
		revs = append(revs, r)
		recs = append(recs, rec)
	}
	if len(b) != 0 {
		return nil, nil, fmt.Errorf("docs: run of %q at %d from the cluster: %d bytes after its records", run.Doc, run.Pos, len(b))
	}
	return revs, recs, nil
}

// recordOp is the operation's JSON in a record that decodes (see
// encodeRecord): what follows its three leading fields.
func recordOp(rec []byte) []byte {
	_, n := binary.Uvarint(rec) // time
	rec = rec[n:]
	for range 2 { // author, op id
		l, n := binary.Uvarint(rec)
		rec = rec[n+int(l):]
	}
	return rec[:len(rec):len(rec)]
}

// metaCommitter commits writes other than revisions to the Log, in the
// order queued: each batch is run in one bbolt transaction that records
// its writes and is rolled back; the recorded change set is committed to
// the Log if no other came first (else the batch runs again, over the
// change sets it missed), and the writes are done once the follower has
// applied it, so that the writer reads what it wrote.
func (m *Manager) metaCommitter() {
	defer m.wg.Done()
	c := m.cl
	for batch := c.next(); batch != nil; batch = c.next() {
		err := m.commitChanges(batch)
		if errors.Is(err, ErrTooLarge) && len(batch) > 1 {
			// Together too large for one entry of the Log: one at a
			// time, so that only a write too large on its own fails.
			for _, w := range batch {
				settle([]*write{w}, m.commitChanges([]*write{w}))
			}
			continue
		}
		settle(batch, err)
	}
}

// settle finishes the writes of a batch of the metadata committer, which
// failed with err if not nil.
func settle(batch []*write, err error) {
	for _, w := range batch {
		switch {
		case errors.Is(err, ErrTooLarge):
			w.err = err
		case err != nil:
			w.err = notSaved(w.what, err)
		}
		finish(w)
	}
}

// commitChanges records the change set of batch and commits it to the
// Log (see metaCommitter), and waits until this node has applied it.
func (m *Manager) commitChanges(batch []*write) (err error) {
	c := m.cl
	synced := false
	for attempt := 0; ; attempt++ {
		var changes kv.Changes
		changes, err = m.store.record(batch)
		if err == nil && !synced && missedOne(batch) {
			// A write that found nothing may concern what another
			// node made a moment ago: catch up, and run the batch
			// again.
			synced = true
			if err = m.Sync(); err == nil {
				continue
			}
		}
		if err != nil || changes.Empty() {
			return err
		}
		c.mu.Lock()
		after := c.metaPos
		c.mu.Unlock()
		body, err := changes.MarshalBinary()
		if err != nil {
			return err
		}
		pos, err := c.log.Commit(after, body)
		switch {
		case err == nil:
			return c.await(pos)
		case errors.Is(err, ErrTooLarge):
			return err // nothing stored; the same again would not fit
		case !errors.Is(err, ErrConflict) || attempt >= catchUpTries:
			return &refusal{what: theLog, err: err}
		}
		// Another node's change set came first: apply it, run again.
		last, err := c.log.Last()
		if err == nil {
			err = c.await(last)
		}
		if err != nil {
			return &refusal{what: theLog, err: err}
		}
	}
}

// missedOne reports whether a write of batch failed with ErrNotFound.
func missedOne(batch []*write) bool {
	for _, w := range batch {
		if errors.Is(w.err, ErrNotFound) {
			return true
		}
	}
	return false
}

// record runs the writes of batch in a bbolt transaction that records
// them and is rolled back, after the revisions pending in the log are
// checkpointed (so that they read every durable revision), and returns
// what they wrote; each write's own error is in its err.
func (s *Store) record(batch []*write) (kv.Changes, error) {
	if err := s.checkpoint(); err != nil {
		return nil, err
	}
	btx, err := s.db.Begin(true)
	if err != nil {
		return nil, s.health.failed(partDB, "record a change", err)
	}
	defer btx.Rollback()
	tx := kv.Record(btx)
	for _, w := range batch {
		w.err = w.fn(tx)
	}
	return tx.Changes(), nil
}

// applyChanges applies a change set of the Log to bbolt, after the
// revisions pending in the log (which came before it), with the node's
// position; then tells live documents of their new metadata, and the
// watcher of new journal entries. What each node derives from revisions
// itself (a document's log, snapshots, op ids, blame) is left as this
// node has it, but where the change set creates it.
func (m *Manager) applyChanges(pos uint64, data []byte) {
	var all kv.Changes
	if err := all.UnmarshalBinary(data); err != nil {
		m.cfg.Logger.Error("a change set from the cluster does not decode: skipped", "position", pos, "err", err)
		return
	}
	changes := replicated(all)
	for attempt := 0; ; attempt++ {
		err := m.store.withPending(func(tx *kv.Tx) error {
			if err := changes.Apply(tx, nil); err != nil {
				// Every node fails the same way on the same change set:
				// it is skipped everywhere alike.
				m.cfg.Logger.Error("a change set from the cluster does not apply: skipped", "position", pos, "err", err)
				return errSkip
			}
			// Everything before pos is pending, and committed by this
			// transaction: the node resumes after pos.
			links := tx.Bucket(bucketLinks)
			if err := links.Put(keyFollowed, binary.BigEndian.AppendUint64(nil, pos)); err != nil {
				return err
			}
			return links.Put(keyMetaPos, binary.BigEndian.AppendUint64(nil, pos))
		})
		if errors.Is(err, errSkip) {
			return
		}
		if err == nil {
			break
		}
		m.cfg.Logger.Error("applying a change set from the cluster", "position", pos, "err", err)
		if !m.pause(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond) {
			return
		}
	}
	m.changed(changes)
}

var errSkip = errors.New("skip")

// metaAny is Meta of a deleted document too.
func (s *Store) metaAny(id string) (m Meta, err error) {
	err = s.view(id, func(v *view) error {
		m, _, err = v.metaOf(id, true)
		return err
	})
	return m, err
}

// changed tells live documents whose metadata a change set wrote, and
// the watcher of the journal entries it appended.
func (m *Manager) changed(changes kv.Changes) {
	var entries []JournalEntry
	for _, ch := range changes {
		switch {
		case ch.Op == kv.OpPut && len(ch.Path) == 1 && bytes.Equal(ch.Path[0], bucketMeta):
			d := m.loaded(string(ch.Key))
			if d == nil {
				continue
			}
			meta, err := m.store.metaAny(d.id)
			switch {
			case err != nil:
			case !meta.Deleted.IsZero():
				m.drop(d)
				d.close(ErrDeleted)
			default:
				d.mu.Lock()
				same := sameView(d.meta, meta)
				d.mu.Unlock()
				if !same { // not this node's own change, already told
					d.setMeta(meta)
				}
			}
		case ch.Op == kv.OpDeleteBucket && len(ch.Path) == 1 && bytes.Equal(ch.Path[0], bucketLog):
			if d := m.loaded(string(ch.Key)); d != nil {
				m.drop(d)
				d.close(ErrDeleted)
			}
		case ch.Op == kv.OpPut && len(ch.Path) == 1 && bytes.Equal(ch.Path[0], bucketJournal):
			var e JournalEntry
			if json.Unmarshal(ch.Value, &e) == nil {
				entries = append(entries, e)
			}
		}
	}
	m.watchJournal(entries)
	m.watchChanges(changes)
}

// sameView reports whether two versions of a document's metadata look the
// same to its sessions: a change set that only moved bookkeeping (the
// journal's cursor), or that this node made and told of already, is not
// news.
func sameView(a, b Meta) bool {
	return a.Name == b.Name && a.Language == b.Language && a.Workspace == b.Workspace &&
		a.EditLink == b.EditLink && a.ViewLink == b.ViewLink && a.Settings == b.Settings
}

// replicated is what of a change set every node applies: not what each
// derives from the revisions itself (a document's log bucket, with its
// head and marks; its snapshots, op ids, blame checkpoints, line counts)
// nor its presence, but where the change set creates those buckets (a
// new document's empty log and first snapshot).
func replicated(all kv.Changes) kv.Changes {
	var created [][][]byte
	out := all[:0:0]
	for _, ch := range all {
		if ch.Op == kv.OpCreateBucket {
			created = append(created, append(append([][]byte(nil), ch.Path...), ch.Key))
		}
		if ch.Op != kv.OpCreateBucket && ch.Op != kv.OpDeleteBucket && derived(ch.Path) && !within(ch.Path, created) {
			continue
		}
		out = append(out, ch)
	}
	return out
}

// derived reports whether path is a bucket each node derives from the
// revisions (or keeps for itself).
func derived(path [][]byte) bool {
	switch {
	case len(path) >= 2 && bytes.Equal(path[0], bucketLog):
		return true
	case len(path) >= 3 && bytes.Equal(path[0], bucketDoc):
		for _, sub := range [][]byte{subSnap, subOpID, subBlame, subPres, subSessLines} {
			if bytes.Equal(path[2], sub) {
				return true
			}
		}
	}
	return false
}

// within reports whether path is one of created or inside one.
func within(path [][]byte, created [][][]byte) bool {
	for _, c := range created {
		if len(c) <= len(path) && equalPrefix(path, c) {
			return true
		}
	}
	return false
}

func equalPrefix(path, prefix [][]byte) bool {
	for i := range prefix {
		if !bytes.Equal(path[i], prefix[i]) {
			return false
		}
	}
	return true
}
