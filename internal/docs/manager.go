package docs

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/google/uuid"
)

// Config tunes a Manager. Zero fields take the documented defaults.
type Config struct {
	// MaxBytes caps a document's size in bytes of UTF-8 (default 8 MiB).
	// An edit that would grow a document past it fails with ErrTooLarge.
	MaxBytes int
	// Window is how many recent revisions a live document keeps in memory
	// to transform late edits and resume clients (default 1024).
	Window int
	// SnapshotEvery and SnapshotBytes: a snapshot of the text is written
	// every SnapshotEvery revisions (default 1,000, as ShareDB's milestone
	// snapshots) or SnapshotBytes bytes of log (default 1 MiB), so reading
	// any revision replays at most that. A snapshot is the whole text
	// (compressed): a larger SnapshotEvery writes less for a large,
	// busy document, and replays more for a history read. A text of more
	// than SnapshotEvery*256 bytes waits one revision per 256 bytes of it
	// instead, so that no document's snapshots cost more than 256 bytes
	// per edit.
	SnapshotEvery int
	SnapshotBytes int
	// IdleTimeout unloads a document nobody has used for this long
	// (default 2 minutes).
	IdleTimeout time.Duration
	// MaxBatch caps the writes in one group commit (default 4096).
	MaxBatch int
	// DirectCommits commits revisions straight to bbolt, two fsyncs and
	// several pages per document each, instead of to the revision log
	// (see wal.go): for comparison.
	DirectCommits bool

	// Log, if set, puts the Manager in cluster mode (see Log and
	// cluster): revisions and metadata are made durable in it, shared
	// with the cluster's other nodes, and the bbolt file at the path Open
	// is given is this node's replica. The revision log is not used.
	Log Log
	// Node names this node among the cluster's (its runs carry it), and
	// Forward, if set, hands an edit to the node named: an edit that keeps
	// losing the race for its document to another node's goes to that
	// node, which submits it as its own (see Manager.SubmitHere), so that
	// a node that lags behind a busy writer elsewhere is not starved. Its
	// error wraps ErrNotHandedOver unless the other node settled the edit.
	Node    string
	Forward func(node, doc string, e Edit) (Result, error)
	// LogBytes is how far the revision log grows before it starts over,
	// all of it checkpointed first (default 8 MiB).
	LogBytes int
	// CheckpointEvery is how often the revisions in the log are copied
	// into bbolt (default 1s). Reads never wait for a checkpoint: they add
	// the revisions still in the log to what they read from bbolt. While
	// the disk refuses writes, each checkpoint is also the retry that
	// notices it takes them again.
	CheckpointEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnCommit, if set, is called after each group commit with its size
	// and duration.
	OnCommit func(batch int, took time.Duration)
	// JournalKeep and JournalMax bound the journal (see journal.go): its
	// entries are forgotten after JournalKeep (default 72 hours), and the
	// oldest beyond JournalMax entries (default 1,000,000) sooner.
	JournalKeep time.Duration
	JournalMax  int
	// Logger receives what an operator must know: writes the disk refuses
	// and their end, a torn record dropped from the log at start (default
	// slog.Default()).
	Logger *slog.Logger
}

func (c *Config) fill() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBytes, 8<<20)
	def(&c.Window, 1024)
	def(&c.SnapshotEvery, 1000)
	def(&c.SnapshotBytes, 1<<20)
	def(&c.MaxBatch, 4096)
	def(&c.LogBytes, 8<<20)
	def(&c.JournalMax, 1_000_000)
	if c.JournalKeep <= 0 {
		c.JournalKeep = 72 * time.Hour
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Manager owns the store, the group commit and the live documents.
type Manager struct {
	store  *Store
	cfg    Config
	commit *committer

	mu   sync.Mutex // guards live, stopped and closed
	live map[string]*entry
	// stopped counts, per document, the deletions or purges under way
	// (see withoutEdits): such a document is not loaded.
	stopped map[string]int
	// closed is set by Close.
	closed bool

	// index takes documents whose blame checkpoints are due to the blame
	// indexer.
	index chan blameJob
	// sessionJobs takes sessions that just closed to the session indexer.
	sessionJobs chan sessionJob
	// indexed receives, without blocking the indexers, after each of
	// their jobs: tests wait on it for what they wrote (cap 1).
	indexed chan struct{}

	// watcher hears of durable revisions and journal entries (see
	// Watch).
	watcher atomic.Pointer[Watcher]

	// cl is set in cluster mode.
	cl *cluster

	stop chan struct{}
	wg   sync.WaitGroup
}

// entry is a live document, or one being loaded. refs and used are guarded
// by Manager.mu; d and err are written by the loader, before it closes
// ready, and read after (see doc).
type entry struct {
	d     *Document
	err   error
	ready chan struct{}
	refs  int
	used  time.Time
}

// doc is the entry's document once it is loaded, nil before (or if the
// load failed).
func (e *entry) doc() *Document {
	select {
	case <-e.ready:
		return e.d
	default:
		return nil
	}
}

// Open opens the database at path and starts the group commit, the
// idle-document sweeper and the revision log's checkpoints.
func Open(path string, cfg Config) (*Manager, error) {
	cfg.fill()
	st, err := OpenStore(path, cfg)
	if err != nil {
		return nil, err
	}
	var (
		revs   revisionLog = &walLog{max: int64(cfg.LogBytes), heads: map[string]uint64{}}
		cl     *cluster
		toMeta func(*write)
	)
	switch {
	case cfg.Log != nil:
		cl = newCluster(cfg.Log)
		revs, toMeta = &clusterLog{log: cfg.Log, node: cfg.Node}, cl.enqueue
		st.cluster = true
	case !cfg.DirectCommits:
		revs.(*walLog).file = st.wal
	}
	m := &Manager{
		store:   st,
		cfg:     cfg,
		cl:      cl,
		commit:  newCommitter(st, cfg.MaxBatch, cfg.OnCommit, revs, toMeta),
		live:    make(map[string]*entry),
		stopped: make(map[string]int),
		index:   make(chan blameJob, 256),
		stop:    make(chan struct{}),

		sessionJobs: make(chan sessionJob, 256),
		indexed:     make(chan struct{}, 1),
	}
	m.wg.Add(4)
	go m.every(min(cfg.IdleTimeout/2, 30*time.Second), func() { m.Sweep() })
	go m.every(time.Minute, func() {
		if _, err := m.TrimJournal(); err != nil {
			cfg.Logger.Warn("trimming the journal", "err", err)
		}
	})
	go m.indexer()
	go m.sessionIndexer()
	if cl != nil {
		if err := m.startCluster(); err != nil {
			m.Close()
			return nil, err
		}
	}
	if !cfg.DirectCommits {
		// Copies the log's pending revisions into bbolt, many per document
		// per commit, off the commit goroutine. A failure leaves them
		// pending (and durable in the log, and read from memory); it is
		// logged, and the next tick tries again.
		m.wg.Add(1)
		go m.every(cfg.CheckpointEvery, func() { _ = m.store.checkpoint() })
	}
	return m, nil
}

// Store gives read access to the durable state.
func (m *Manager) Store() *Store { return m.store }

// Storage says whether the disk takes the manager's writes (see
// StorageState): for metrics and health checks.
func (m *Manager) Storage() StorageState { return m.store.Storage() }

// Close unloads every document (their subscribers get a Closed event),
// commits what is queued, and closes the database.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	var live []*Document
	for _, e := range m.live {
		if d := e.doc(); d != nil {
			live = append(live, d)
		}
	}
	m.mu.Unlock()
	close(m.stop)
	if m.cl != nil {
		m.cl.close()
	}
	m.wg.Wait()
	m.commit.close()
	for _, d := range live {
		d.close(fmt.Errorf("%w: server shutting down", ErrClosed))
	}
	err := m.store.closeLog()
	if cerr := m.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// every calls fn every d until the manager closes.
func (m *Manager) every(d time.Duration, fn func()) {
	defer m.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			fn()
		}
	}
}

// Sweep unloads the documents that have been idle for IdleTimeout: no
// references, no subscribers, nothing on its way to disk. It returns how
// many it unloaded. The sweeper calls it periodically.
func (m *Manager) Sweep() int {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, e := range m.live {
		if d := e.doc(); d == nil || e.refs > 0 || now.Sub(e.used) < m.cfg.IdleTimeout || !d.idle() {
			continue
		}
		delete(m.live, id)
		n++
	}
	return n
}

// Loaded is the number of documents in memory.
func (m *Manager) Loaded() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// Open returns the live document id, loading it if needed. Call Release
// when done with it. In cluster mode the document has every revision the
// cluster acknowledged before the call (while the Log can be reached),
// and a document created on another node a moment ago is found.
func (m *Manager) Open(id string) (*Document, error) {
	if m.cl == nil {
		return m.open(id)
	}
	d, err := m.openMissed(id)
	if err != nil {
		return nil, err
	}
	if err := m.catchUp(d); err != nil {
		// The Log is out of reach: serve what this node has. An edit made
		// against it finds out, when the Log takes edits again.
		m.cfg.Logger.Warn("opening a document without the cluster's newest revisions", "doc", id, "err", err)
	}
	return d, nil
}

// openMissed is open that, in cluster mode, catches up with the cluster
// and looks again before it says a document is not there.
func (m *Manager) openMissed(id string) (d *Document, err error) {
	err = m.store.missed(func() (err error) {
		d, err = m.open(id)
		return err
	})
	return d, err
}

// open is Open without the cluster's catching up: the follower's.
func (m *Manager) open(id string) (*Document, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	e := m.live[id]
	load := e == nil
	if load && m.stopped[id] > 0 {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: document %q is being deleted", ErrNotFound, id)
	}
	if load {
		e = &entry{ready: make(chan struct{})}
		m.live[id] = e
	}
	e.refs++
	m.mu.Unlock()
	if load {
		e.d, e.err = m.load(id)
		close(e.ready)
	}
	<-e.ready
	if e.err != nil {
		m.mu.Lock()
		e.refs--
		if m.live[id] == e {
			delete(m.live, id)
		}
		m.mu.Unlock()
		return nil, e.err
	}
	return e.d, nil
}

func (m *Manager) load(id string) (*Document, error) {
	meta, text, recent, pending, err := m.store.load(id, m.cfg.Window)
	if err != nil {
		return nil, err
	}
	d := &Document{
		id: id, m: m, meta: meta,
		text: text, head: meta.Rev, durRev: meta.Rev, durTxt: text,
		hist:    recent,
		opids:   make(map[string]uint64),
		marks:   make(map[string]clientMark),
		subs:    make(map[int]subscriber),
		writes:  make(map[uint64]*write),
		snapRev: meta.SnapRev, snapLog: uint64(meta.SnapBytes), snapSize: uint64(meta.SnapSize),
	}
	for _, r := range recent {
		if _, _, ok := parseOpID(r.OpID); !ok && r.OpID != "" {
			d.opids[r.OpID] = r.Rev
		}
	}
	// Op ids of revisions still pending in the log, which bbolt does not
	// know yet, newest last.
	for _, w := range pending {
		if client, seq, ok := parseOpID(w.rev.OpID); ok {
			d.marks[client] = clientMark{seq: seq, rev: w.rev.Rev}
		} else if w.rev.OpID != "" {
			d.opids[w.rev.OpID] = w.rev.Rev
		}
	}
	return d, nil
}

func (m *Manager) release(d *Document) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.live[d.id]; e != nil && e.doc() == d {
		e.refs--
		e.used = m.cfg.Now()
	}
}

// drop forgets a document that was closed, so the next Open reloads it.
func (m *Manager) drop(d *Document) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.live[d.id]; e != nil && e.doc() == d {
		delete(m.live, d.id)
	}
}

// appendWrite queues revision r of d, encoded as rec (its operation's
// JSON from op on: see encodeRecord), for the group commit. Called with
// d.mu held, which keeps each document's revisions in order in the queue.
func (m *Manager) appendWrite(d *Document, r Revision, text rope.Rope, rec []byte, op int) *write {
	// Encoded on the submitter's goroutine, not on the one goroutine
	// every document shares. d follows the snapshot rule as the head
	// record does; should the two disagree, the commit encodes the
	// snapshot itself or drops this one.
	r.opJSON = rec[op:len(rec):len(rec)]
	p := prepared{rec: rec}
	before := [3]uint64{d.snapRev, d.snapLog, d.snapSize}
	d.snapLog += uint64(len(p.rec))
	if m.store.snapshotDue(r.Rev-d.snapRev, d.snapLog, d.snapSize) {
		p.snap = m.store.encodeSnapshot(text)
		d.snapRev, d.snapLog, d.snapSize = r.Rev, 0, uint64(text.ByteLen())
	}
	w := &write{fn: func(tx *kv.Tx) error { return m.store.appendPrepared(tx, d.id, r, text, p) }, doc: d, rev: r, text: text, prep: p}
	w.snapBefore = before
	// Whether r closes the edit session of the revision before it (see
	// sessions.go), as far as memory knows that one.
	closes := len(d.hist) >= 2 && r.Time.UnixMilli()-d.hist[len(d.hist)-2].Time.UnixMilli() > SessionGap.Milliseconds()
	w.durable = func(err error) {
		if err != nil && !m.refused(d, w, err) {
			return // abandoned by an earlier refusal
		}
		d.durable(r, text, w.pos, err)
		if err == nil && r.Rev%uint64(m.cfg.SnapshotEvery) == 0 {
			select {
			case m.index <- blameJob{d.id, r.Rev}:
			default: // the indexer is behind; the next job covers this one
			}
		}
		if err == nil && closes {
			m.sessionClosed(d.id, r.Rev-1)
		}
	}
	m.commit.enqueue(w)
	return w
}

// refused handles the failed commit of revision w of d. A refusal by the
// disk (ErrStorage), or in cluster mode any failed append to the Log, is
// not d's fault, and d stays open: d goes back to its newest durable
// revision (see Document.rollback), and subscribers, who only ever heard
// of durable revisions, hear nothing. It reports whether d.durable must
// still see the failure: for any other error (d's log moved under it),
// which closes and reloads d. Called on the commit goroutine, in revision
// order, like d.durable.
func (m *Manager) refused(d *Document, w *write, err error) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	// abandoned is set under d.mu (below), possibly while a write queued
	// after the committer closed hears of it on another goroutine.
	if w.abandoned != nil {
		w.err = w.abandoned
		return false
	}
	if !errors.Is(err, ErrStorage) && m.cl == nil {
		return true
	}
	if d.err != nil || d.writes[w.rev.Rev] != w {
		return false
	}
	d.rollback(w, err)
	return false
}

// rollback takes d back to its newest durable revision, from w, the first
// revision after it, which failed with err: the revisions after w fail
// with the same kind of error (their Submit returns it; they are not
// applied, and may be sent again). Called with d.mu held.
func (d *Document) rollback(w *write, err error) {
	kind := ErrStorage
	if errors.Is(err, ErrConflict) {
		kind = ErrConflict
	}
	for rev, later := range d.writes {
		if rev > w.rev.Rev {
			later.abandoned = fmt.Errorf("%w: revision %d of %q was not applied: it came after revision %d, which failed: %w", kind, rev, d.id, w.rev.Rev, err)
		}
		if rev >= w.rev.Rev {
			delete(d.writes, rev)
		}
	}
	d.head, d.text = d.durRev, d.durTxt
	keep := len(d.hist)
	for keep > 0 && d.hist[keep-1].Rev > d.durRev {
		keep--
	}
	dropped := d.hist[keep:]
	d.hist = d.hist[:keep]
	defer clear(dropped) // after the marks below; the slots are reused
	d.snapRev, d.snapLog, d.snapSize = w.snapBefore[0], w.snapBefore[1], w.snapBefore[2]
	// The dropped revisions' op ids were not applied: each of their
	// clients' marks goes back to the client's newest op that was, from
	// memory or from the log's pending revisions; failing both, bbolt has
	// it, and applied reads it when next asked.
	lost := map[string]bool{}
	for _, r := range dropped {
		if client, _, ok := parseOpID(r.OpID); ok {
			delete(d.marks, client)
			lost[client] = true
		} else if r.OpID != "" {
			delete(d.opids, r.OpID)
		}
	}
	remark := func(r Revision) {
		if client, seq, ok := parseOpID(r.OpID); ok && lost[client] {
			d.marks[client] = clientMark{seq: seq, rev: r.Rev}
			delete(lost, client)
		}
	}
	for i := len(d.hist) - 1; i >= 0 && len(lost) > 0; i-- {
		remark(d.hist[i])
	}
	if ws := d.m.store.pendingOf(d.id); len(lost) > 0 {
		for i := len(ws) - 1; i >= 0 && len(lost) > 0; i-- {
			if ws[i].rev.Rev <= d.durRev {
				remark(ws[i].rev)
			}
		}
	}
}

// CreateParams describes a new document.
type CreateParams struct {
	Name      string // a path such as src/main.go
	Text      string
	Language  string // from the name's extension when empty
	Workspace string // a new workspace when empty
	Author    string
}

// Create makes a document. Its text, if any, is revision 1, by Author.
func (m *Manager) Create(p CreateParams) (Meta, error) {
	name, err := CleanName(p.Name)
	if err != nil {
		return Meta{}, err
	}
	if err := checkLanguage(p.Language); err != nil {
		return Meta{}, err
	}
	if !utf8.ValidString(p.Text) {
		return Meta{}, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	}
	if len(p.Text) > m.cfg.MaxBytes {
		return Meta{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(p.Text), m.cfg.MaxBytes)
	}
	ws := p.Workspace
	if ws == "" {
		ws = uuid.NewString()
	} else if err := checkWorkspace(ws); err != nil {
		return Meta{}, err
	}
	lang := p.Language
	if lang == "" {
		lang = LanguageOf(name)
	}
	now := m.cfg.Now().UTC()
	id := uuid.NewString()
	meta := Meta{ID: id, Name: name, Language: lang, Workspace: ws, Created: now, Updated: now, EditLink: id, ViewLink: NewLinkKey()}
	if p.Text != "" {
		meta.Journaled = 1 // the created entry covers the text
	}
	first := Revision{Rev: 1, Op: *new(ot.Operation).Insert(p.Text), Author: p.Author, Time: now}
	if m.cl != nil && p.Text != "" {
		// The text's revision goes to the Log first, where the document's
		// next revisions will follow it; the change set that creates the
		// document has it too.
		rec, _ := encodeRecord(first)
		if err := m.fitsLog("the new document's text", len(rec)); err != nil {
			return Meta{}, err
		}
		if err := m.cl.log.Append([]Run{{Doc: id, First: 1, Count: 1, Body: appendRunRecord(nil, rec)}})[0]; err != nil {
			return Meta{}, notSaved("the new document", &refusal{what: theLog, err: err})
		}
	}
	var entry JournalEntry
	err = m.commit.do("the new document", func(tx *kv.Tx) error {
		if err := createDoc(tx, meta); err != nil {
			return err
		}
		entry = entryOf(JournalCreated, meta, now)
		entry.FromRev, entry.ToRev = meta.Journaled, meta.Journaled
		entry.Authors = journalAuthors(tx, meta, []string{p.Author})
		if p.Text != "" {
			if err := m.store.appendRevision(tx, meta.ID, first, rope.New(p.Text)); err != nil {
				return err
			}
		}
		return appendJournal(tx, &entry)
	})
	if err != nil {
		if m.cl != nil && p.Text != "" && !errors.Is(err, ErrStorage) {
			// Refused (a name taken meanwhile), so surely not stored:
			// the text's revision is not kept in the Log either.
			m.purgeLog(id)
		}
		return Meta{}, err
	}
	m.watchJournal([]JournalEntry{entry})
	return m.store.Meta(meta.ID)
}

// CleanName checks and normalises a document name: a relative slash-
// separated path without "." or ".." elements, at most 1024 bytes.
func CleanName(name string) (string, error) {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\\") {
		return "", fmt.Errorf("%w: name %q: want a relative path of at most 1024 bytes", ErrInvalid, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: name %q has a control character", ErrInvalid, name)
		}
	}
	clean := path.Clean(strings.TrimPrefix(name, "/"))
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: name %q leaves the workspace", ErrInvalid, name)
	}
	return clean, nil
}

func checkWorkspace(ws string) error {
	if len(ws) > 128 || !utf8.ValidString(ws) || strings.ContainsAny(ws, "\x00/") {
		return fmt.Errorf("%w: workspace %q", ErrInvalid, ws)
	}
	return nil
}

// checkLanguage checks a document's language as Create and Update take
// it: at most 64 bytes ("" asks for the one its name suggests).
func checkLanguage(language string) error {
	if len(language) > 64 {
		return fmt.Errorf("%w: a language is at most 64 bytes, not %d", ErrInvalid, len(language))
	}
	return nil
}

// Update renames a document and/or changes its language; empty fields stay.
// A rename is recorded among the document's names (see names.go), by by.
// Live subscribers get a Meta event.
func (m *Manager) Update(id, name, language string, by By) (Meta, error) {
	if name != "" {
		var err error
		if name, err = CleanName(name); err != nil {
			return Meta{}, err
		}
	}
	if err := checkLanguage(language); err != nil {
		return Meta{}, err
	}
	var entries []JournalEntry
	meta, err := m.updateMeta(id, "the new name or language", func(tx *kv.Tx, meta *Meta) error {
		entries = entries[:0]
		if name != "" && name != meta.Name {
			files := tx.Bucket(bucketFiles)
			if files.Get(fileKey(meta.Workspace, name)) != nil {
				return fmt.Errorf("%w: %q already exists in the workspace", ErrConflict, name)
			}
			// The edits before the rename are summarised under the old name.
			now := m.cfg.Now().UTC()
			if err := noteIn(tx, meta, now, &entries); err != nil {
				return err
			}
			if err := files.Delete(fileKey(meta.Workspace, meta.Name)); err != nil {
				return err
			}
			if err := files.Put(fileKey(meta.Workspace, name), []byte(id)); err != nil {
				return err
			}
			if err := appendName(tx, meta, name, now, by); err != nil {
				return err
			}
			e := entryOf(JournalRenamed, *meta, now)
			e.OldName, e.Name = meta.Name, name
			meta.Name = name
			if language == "" {
				meta.Language = LanguageOf(name)
			}
			if err := appendJournal(tx, &e); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		if language != "" {
			meta.Language = language
		}
		return nil
	})
	if err == nil {
		m.watchJournal(entries)
	}
	return meta, err
}

// updateMeta changes a document's metadata with change, inside one
// commit, made durable before it returns; a live document's subscribers
// get the new metadata (a Meta event). what names the change should the
// disk refuse it.
func (m *Manager) updateMeta(id, what string, change func(tx *kv.Tx, meta *Meta) error) (Meta, error) {
	var out Meta
	w := &write{fn: func(tx *kv.Tx) error {
		meta, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		if err := change(tx, &meta); err != nil {
			return err
		}
		out = meta
		return putMeta(tx, meta)
	}, what: what}
	w.then = func(err error) {
		if err == nil {
			if d := m.loaded(id); d != nil {
				d.setMeta(out)
			}
		}
	}
	err := m.commit.wait(w)
	return out, err
}

func (m *Manager) loaded(id string) *Document {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.live[id]; e != nil {
		return e.doc()
	}
	return nil
}

// Write runs fn in a write transaction of its own, beside the group commit
// rather than in it, and returns once it is durable: for writes that touch
// no document's revisions (the webhooks' own buckets, the journal's
// summaries). Edits keep going to the revision log meanwhile, at its pace;
// a write in the group commit would send the batch it joins to bbolt, and
// hold every edit behind that batch's two fsyncs. The transaction first
// copies the revisions pending in the log into bbolt, as a checkpoint
// does, so fn sees every durable revision. An error of fn's rolls it back
// and is returned as it is; a disk that refuses the transaction is an
// ErrStorage naming what (what fn saves, as in "the webhooks' state").
func (m *Manager) Write(what string, fn func(tx *kv.Tx) error) error {
	if m.cl != nil {
		return m.commit.do(what, fn) // replicated, through the Log
	}
	return notSaved(what, m.store.withPending(fn))
}

// View runs fn in a read transaction of the bbolt file, for the other
// packages' own buckets (written with Do). It sees every write whose Do
// returned.
func (m *Manager) View(fn func(tx *kv.Tx) error) error {
	return m.store.view("", func(v *view) error { return fn(v.tx) })
}

// MaxBytes is the configured cap on a document's size.
func (m *Manager) MaxBytes() int { return m.cfg.MaxBytes }
