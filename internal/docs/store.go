package docs

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// Bucket layout (all hidden behind Store's methods):
//
//	meta            id -> Meta (JSON)
//	files           workspace \x00 name -> id        (list a workspace by path prefix)
//	log/<id>        rev (8 bytes big-endian) -> record (see encodeRecord),
//	                then the head, the edit sessions (see sessions.go)
//	                and each client's mark (see keyHead)
//	doc/<id>/snap   rev -> the full text at rev
//	doc/<id>/opid   op id -> rev                     (exactly-once)
//	doc/<id>/blame  rev -> blame checkpoint          (see blamecheckpoint.go)
//	doc/<id>/chat   seq -> ChatMessage (JSON)
//	doc/<id>/pres   user id -> Presence (JSON)
//	doc/<id>/labels rev, label id -> Label (JSON)    (see labels.go)
//	doc/<id>/sesslines first rev -> an edit session's line counts
//	doc/<id>/names  seq -> a change of the document's path (see names.go)
//	trash           workspace, seq -> id            (its deleted documents; see trash.go)
//	authors         scope, author id -> AuthorProfile (see authors.go)
//	author-names    scope, author id, time, seq -> name (see authors.go)
//	journal, journal-ws, journal-doc  what happened to documents (see journal.go)
var (
	bucketMeta  = []byte("meta")
	bucketFiles = []byte("files")
	bucketDoc   = []byte("doc")
	bucketLog   = []byte("log")
	subSnap     = []byte("snap")
	subOpID     = []byte("opid")
	subBlame    = []byte("blame")
	subChat     = []byte("chat")
	subPres     = []byte("pres")
)

// keySnapFormat is the setting that says how the file's snapshots are
// encoded: "zstd" or "raw".
var keySnapFormat = settingKey("snapshot-format")

// appendFill is the fill percent (Bucket.SetFillPercent) of buckets whose keys only grow.
const appendFill = 0.95

// Meta describes a document: one file of a workspace.
type Meta struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Language  string    `json:"language"`
	Workspace string    `json:"workspace"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Rev       uint64    `json:"rev"`

	// The capability links of the document (see links.go).
	EditLink string `json:"editLink"`
	ViewLink string `json:"viewLink"`

	Settings Settings `json:"settings,omitzero"` // see settings.go

	// Snapshot bookkeeping, not part of the public view.
	SnapRev   uint64 `json:"snapRev"`
	SnapBytes int    `json:"snapBytes"` // bytes of log written since SnapRev
	SnapSize  int    `json:"snapSize"`  // bytes of text at SnapRev

	// Journaled is the newest revision a journal entry covers (see
	// journal.go), not part of the public view.
	Journaled uint64 `json:"journaled,omitempty"`

	// Names is how many changes of its path the document has recorded
	// (see names.go); 0 for one that kept the name it was created with.
	Names uint64 `json:"names,omitempty"`

	// Deleted is when the document was deleted (see trash.go), zero for
	// a live one; DeletedBy who deleted it, and DeletedSeq its place in
	// its workspace's trash. A deleted document is not found by any read
	// but those of the trash and of the workspace's history.
	Deleted    time.Time `json:"deleted,omitzero"`
	DeletedBy  string    `json:"deletedBy,omitempty"`
	DeletedSeq uint64    `json:"deletedSeq,omitempty"`
}

// Revision is one entry of a document's log.
type Revision struct {
	Rev    uint64       `json:"rev"`
	Op     ot.Operation `json:"op"`
	Author string       `json:"author"`
	OpID   string       `json:"opId,omitempty"`
	Time   time.Time    `json:"time"`
	// opJSON, if set, is Op's JSON as the revision log's record holds it,
	// kept so that the broadcast of a revision does not encode it again.
	opJSON []byte
}

// OpJSON returns the JSON form of r.Op (as ot's AppendJSON writes it). For
// a revision just committed it is the encoding made for the log, which the
// caller must not modify.
func (r Revision) OpJSON() []byte {
	if r.opJSON != nil {
		return r.opJSON
	}
	return r.Op.AppendJSON(make([]byte, 0, r.Op.JSONLen()))
}

// Store keeps documents in one bbolt file. Its methods are safe for
// concurrent use; writes normally go through the Manager's group commit.
type Store struct {
	// cluster is set in cluster mode (see cluster); followed is then the
	// position in the Log of the newest entry the follower applied.
	cluster  bool
	followed atomic.Uint64
	sync     func() error // Manager.Sync, in cluster mode (see missed)

	db   *bolt.DB
	path string
	// file is the bbolt file as bbolt opened it (tests put it out of
	// space with it).
	file *os.File
	// snapshot policy: a snapshot every snapEvery revisions or snapBytes
	// bytes of log, whichever comes first.
	snapEvery int
	snapBytes int
	// zenc and zdec compress the file's snapshots with zstd; both are nil
	// for a file made before snapshots were compressed, which keeps its
	// snapshots as plain text.
	zenc *zstd.Encoder
	zdec *zstd.Decoder

	log    *slog.Logger
	health health

	// The revision log (see wal.go): wal is written only by the commit
	// goroutine; pending holds, in order, the batches of revision writes
	// durable in it and not yet in bbolt, and byDoc each document's of
	// them, in order (both guarded by pmu); ckMu is held by the one
	// transaction at a time that empties pending.
	wal     *walFile
	ckMu    sync.Mutex
	pmu     sync.Mutex
	pending [][]*write
	byDoc   map[string][]*write
}

// keyWALGen is the setting that pairs the bbolt file with its revision
// log: the log's generation once every record before it is in bbolt. It
// is written in the transaction that checkpoints a generation's last
// records, before the log's header moves on to it; so the log is at that
// generation, or, after a crash between the two, at the one before.
var keyWALGen = settingKey("wal-generation")

// OpenStore opens (creating if needed) the bbolt file at path and its
// revision log (path + ".wal"). Before bbolt touches the file it checks
// it (see checkBolt), and the log against it (see Store.recoverLog): a
// damaged or mismatched pair is an ErrCorrupt that names the recovery
// command.
func OpenStore(path string, cfg Config) (*Store, error) {
	cfg.fill()
	fi, err := os.Stat(path)
	fresh := errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0
	if err != nil && !fresh {
		return nil, fmt.Errorf("docs: open %s: %w", path, err)
	}
	if !fresh {
		if err := checkBolt(path); err != nil {
			return nil, err
		}
	}
	walPath := path + ".wal"
	sc, err := scanWAL(walPath)
	if err != nil {
		return nil, err
	}
	if fresh && len(sc.entries) > 0 {
		return nil, fmt.Errorf("%w: %s is empty or missing, but %s holds %d revisions of documents that were in it: restore %s from a copy if there is one; otherwise %s",
			ErrCorrupt, path, walPath, len(sc.entries), path, recoverHint(path))
	}
	// 1 KB pages for new files (an existing file keeps its own): every
	// commit rewrites the pages it changes, whole, and a revision changes
	// a few small records in a few pages, so smaller pages write and sync
	// less for the same edits (64 documents edited at once: 24,200 ->
	// 27,200 durable ops/s). Snapshots use overflow pages either way.
	//
	// The array freelist hands out the lowest free page first, so a
	// commit's pages land close together and the fsync writes fewer disk
	// blocks than with the hashmap freelist, which takes any free page:
	// 28,400 -> 31,400 durable ops/s on the same benchmark. The hashmap is
	// faster only for freelists of many thousands of runs, which a file
	// that mostly appends does not grow; the freelist is not synced, so
	// the choice can change on any open.
	var file *os.File
	openFile := func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		file = f
		return f, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistArrayType, NoFreelistSync: true, PageSize: 1 << 10, OpenFile: openFile})
	if err != nil {
		return nil, fmt.Errorf("docs: open %s: %w", path, err)
	}
	var compress bool
	var gen uint64
	err = updateDB(db, func(tx *kv.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketFiles, bucketDoc, bucketLog, bucketLinks, bucketWorkspaces, bucketAuthors, bucketTrash, bucketAuthorNames} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		// The snapshot format is the file's: a file without documents
		// takes zstd; one that has documents and no format predates it.
		links := tx.Bucket(bucketLinks)
		format := links.Get(keySnapFormat)
		if format == nil {
			format = []byte("raw")
			if k, _ := tx.Bucket(bucketDoc).Cursor().First(); k == nil {
				format = []byte("zstd")
			}
			if err := links.Put(keySnapFormat, format); err != nil {
				return err
			}
		}
		switch string(format) {
		case "zstd":
			compress = true
		case "raw":
		default:
			return fmt.Errorf("docs: unknown snapshot format %q", format)
		}
		if v := links.Get(keyWALGen); len(v) == 8 {
			gen = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("docs: init %s: %w", path, err)
	}
	if err := moveLogs(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("docs: upgrade %s: %w", path, err)
	}
	if err := indexSessions(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("docs: upgrade %s: %w", path, err)
	}
	if err := initJournal(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("docs: upgrade %s: %w", path, err)
	}
	st := &Store{db: db, path: path, file: file, snapEvery: cfg.SnapshotEvery, snapBytes: cfg.SnapshotBytes, log: cfg.Logger, byDoc: map[string][]*write{}}
	st.health = health{log: cfg.Logger, now: cfg.Now, path: path}
	if compress {
		// Both are safe for concurrent use; the fastest level compresses
		// code about 4x (S2: 2.7x, at the same throughput) at a few hundred MB/s.
		st.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))
		st.zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2))
	}
	if err := st.recoverLog(walPath, sc, gen); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// The parts of the storage whose writes health follows.
const (
	partLog = iota // the revision log
	partDB         // the bbolt file
)

var partNames = [...]string{partLog: "revision log", partDB: "database file"}

// health follows whether the disk takes the store's writes: a part turns
// failing with the first write the disk refuses and healthy again with
// the next one it takes. Each change is logged (Error, then Warn), and a
// part that keeps failing says so again at most once a minute. mu guards
// the fields below it; nothing is logged while it is held.
type health struct {
	log  *slog.Logger
	now  func() time.Time
	path string

	mu       sync.Mutex
	failing  [2]bool
	since    [2]time.Time // when the part turned failing
	cause    [2]error     // its latest failure, an ErrStorage
	count    [2]int       // its failures since it turned failing
	logged   [2]time.Time // when its failing was last logged
	failures uint64       // failed writes since the store opened
}

// refusal is an ErrStorage: the write the disk refused (what) and the
// disk's error (err), which it wraps.
type refusal struct {
	what string
	err  error
}

func (r *refusal) Error() string   { return ErrStorage.Error() + ": " + r.what + ": " + r.err.Error() }
func (r *refusal) Unwrap() []error { return []error{ErrStorage, r.err} }

// failed records that a write to part (what it was) failed with err, and
// returns err as an ErrStorage (a refusal, unless err is one already).
func (h *health) failed(part int, what string, err error) error {
	if !errors.Is(err, ErrStorage) {
		err = &refusal{what: what, err: err}
	}
	h.mu.Lock()
	now := h.now()
	first := !h.failing[part]
	again := !first && now.Sub(h.logged[part]) >= time.Minute
	if first {
		h.failing[part], h.since[part], h.count[part] = true, now, 0
	}
	if first || again {
		h.logged[part] = now
	}
	h.count[part]++
	h.cause[part] = err
	h.failures++
	count, since := h.count[part], h.since[part]
	h.mu.Unlock()
	switch {
	case first && part == partDB:
		h.log.Error("storage: the database file refuses writes: new documents and changes are refused; edits are kept in the revision log while it has room, and refused after; reads are served; retried every checkpoint",
			"file", h.path, "write", what, "err", err)
	case first:
		h.log.Error("storage: the revision log refuses writes: edits are committed to the database file instead, or refused if it fails too; retried with every edit",
			"file", h.path+".wal", "write", what, "err", err)
	case again:
		h.log.Warn("storage: still failing", "part", partNames[part], "since", since, "failures", count, "err", err)
	}
	return err
}

// ok records that a write to part succeeded.
func (h *health) ok(part int) {
	h.mu.Lock()
	if !h.failing[part] {
		h.mu.Unlock()
		return
	}
	h.failing[part], h.cause[part] = false, nil
	since, count := h.since[part], h.count[part]
	h.mu.Unlock()
	h.log.Warn("storage: writes succeed again", "part", partNames[part], "failing for", h.now().Sub(since).Round(time.Millisecond), "failures", count)
}

// isFailing reports whether part's last write failed.
func (h *health) isFailing(part int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing[part]
}

// refusal returns part's latest failure, nil if it is not failing.
func (h *health) refusal(part int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cause[part]
}

// StorageState says whether the disk takes the store's writes.
type StorageState struct {
	// Failing is set while the latest write to the revision log or to
	// the database file failed; Err is then that failure (an ErrStorage)
	// and Since when it began.
	Failing bool
	Err     error
	Since   time.Time
	// Failures counts the writes that failed since the store opened.
	Failures uint64
}

// Storage returns the storage's state, for metrics and health checks.
func (s *Store) Storage() StorageState {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	st := StorageState{Failures: h.failures}
	for part := range h.failing {
		if h.failing[part] && (!st.Failing || h.since[part].Before(st.Since)) {
			st.Failing, st.Err, st.Since = true, h.cause[part], h.since[part]
		}
	}
	return st
}

// Close closes the database file.
func (s *Store) Close() error {
	// The database first: it waits for the read transactions, the only
	// users of the decoder. The encoder keeps no goroutine or stream for
	// EncodeAll, so a document encoding a snapshot as the store closes
	// may still use it.
	err := s.db.Close()
	if s.wal != nil {
		s.wal.close()
	}
	if s.zdec != nil {
		s.zdec.Close()
	}
	return err
}

// DB exposes the bbolt handle for benchmarks and tests in this module,
// after a checkpoint, so that it holds every durable revision. It is no
// read of the store's: those never checkpoint (see view.go).
func (s *Store) DB() *bolt.DB {
	s.checkpoint()
	return s.db
}

// updateDB runs fn in a write transaction of db, through kv's wrappers,
// which record nothing.
func updateDB(db *bolt.DB, fn func(tx *kv.Tx) error) error {
	return db.Update(func(tx *bolt.Tx) error { return fn(kv.Wrap(tx)) })
}

// viewDB runs fn in a read transaction of db, through kv's wrappers.
func viewDB(db *bolt.DB, fn func(tx *kv.Tx) error) error {
	return db.View(func(tx *bolt.Tx) error { return fn(kv.Wrap(tx)) })
}

func revKey(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

func fileKey(workspace, name string) []byte {
	return append(append([]byte(workspace), 0), name...)
}

// encodeRecord: uvarint unix-millis, uvarint len + author, uvarint len +
// op id, then the operation's JSON.
// The operation's JSON, last, is rec[op:].
func encodeRecord(r Revision) (rec []byte, op int) {
	buf := make([]byte, 0, 3*binary.MaxVarintLen64+len(r.Author)+len(r.OpID)+r.Op.JSONLen())
	buf = binary.AppendUvarint(buf, uint64(r.Time.UnixMilli()))
	buf = binary.AppendUvarint(buf, uint64(len(r.Author)))
	buf = append(buf, r.Author...)
	buf = binary.AppendUvarint(buf, uint64(len(r.OpID)))
	buf = append(buf, r.OpID...)
	return r.Op.AppendJSON(buf), len(buf)
}

// corruptRecord is the error of a log record that does not decode.
type corruptRecord uint64

func (e corruptRecord) Error() string { return fmt.Sprintf("docs: corrupt log record %d", uint64(e)) }

func decodeRecord(rev uint64, data []byte) (Revision, error) {
	r := Revision{Rev: rev}
	bad := corruptRecord(rev)
	ms, n := binary.Uvarint(data)
	if n <= 0 {
		return r, bad
	}
	data = data[n:]
	r.Time = time.UnixMilli(int64(ms)).UTC()
	field := func() (string, bool) {
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return "", false
		}
		s := string(data[n : n+int(l)])
		data = data[n+int(l):]
		return s, true
	}
	var ok bool
	if r.Author, ok = field(); !ok {
		return r, bad
	}
	if r.OpID, ok = field(); !ok {
		return r, bad
	}
	op, err := ot.Parse(data)
	if err != nil {
		return r, fmt.Errorf("%w: %w", bad, err)
	}
	r.Op = op
	return r, nil
}

// Metadata is kept in two parts: the JSON record in the meta bucket holds
// what changes rarely (name, language, links), and a fixed 32-byte head
// record in the document's log bucket holds what every revision changes
// (revision, update time, snapshot bookkeeping), so appending a revision
// never decodes or encodes JSON.
//
// The log bucket keeps what every revision writes together: the records,
// then the head and the client marks (opid.go) under keys that begin with
// eight 0xff bytes, which no revision reaches, so they sort after the
// newest revision, usually in the leaf its append rewrites anyway. The
// rest of a document lives in doc/<id>, which a revision does not touch
// (but for a snapshot): a commit of revisions to 30 documents writes 104
// pages instead of 120 with the log inside doc/<id>, and the benchmark
// commits 35,700 durable ops/s instead of 31,100.
var (
	keyHead    = []byte("\xff\xff\xff\xff\xff\xff\xff\xffh")
	markPrefix = []byte("\xff\xff\xff\xff\xff\xff\xff\xffm")
)

// isRev says whether a key of a log bucket is a revision's.
func isRev(k []byte) bool { return len(k) == 8 }

// head is a document's head record: its revision and time, and the
// snapshot rule's bookkeeping (see snapshotDue). snapSize is the text's
// length in bytes at snapRev; a head written before it was kept has none,
// which reads as 0.
type head struct {
	rev, updatedMs, snapRev, snapBytes, snapSize uint64
}

func readHead(b *kv.Bucket) (head, bool) {
	v := b.Get(keyHead)
	if len(v) != 32 && len(v) != 40 {
		return head{}, false
	}
	be := binary.BigEndian
	h := head{be.Uint64(v), be.Uint64(v[8:]), be.Uint64(v[16:]), be.Uint64(v[24:]), 0}
	if len(v) == 40 {
		h.snapSize = be.Uint64(v[32:])
	}
	return h, true
}

func writeHead(b *kv.Bucket, h head) error { return b.Put(keyHead, h.encode()) }

// encode returns the head record's value.
func (h head) encode() []byte {
	v := make([]byte, 0, 40)
	for _, x := range []uint64{h.rev, h.updatedMs, h.snapRev, h.snapBytes, h.snapSize} {
		v = binary.BigEndian.AppendUint64(v, x)
	}
	return v
}

// getMeta reads a live document's metadata: a deleted one is not found.
func getMeta(tx *kv.Tx, id string) (Meta, error) {
	m, err := getMetaAny(tx, id)
	if err == nil && !m.Deleted.IsZero() {
		return Meta{}, fmt.Errorf("%w: document %q (deleted)", ErrNotFound, id)
	}
	return m, err
}

// getMetaAny reads a document's metadata, deleted or not.
func getMetaAny(tx *kv.Tx, id string) (Meta, error) {
	var m Meta
	v := tx.Bucket(bucketMeta).Get([]byte(id))
	if v == nil {
		return m, fmt.Errorf("%w: document %q", ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("docs: corrupt metadata of %q: %w", id, err)
	}
	if b := tx.Bucket(bucketLog).Bucket([]byte(id)); b != nil {
		if h, ok := readHead(b); ok {
			m.Rev, m.Updated = h.rev, time.UnixMilli(int64(h.updatedMs)).UTC()
			m.SnapRev, m.SnapBytes, m.SnapSize = h.snapRev, int(h.snapBytes), int(h.snapSize)
		}
	}
	return m, nil
}

func putMeta(tx *kv.Tx, m Meta) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMeta).Put([]byte(m.ID), v); err != nil {
		return err
	}
	b := tx.Bucket(bucketLog).Bucket([]byte(m.ID))
	if b == nil {
		return fmt.Errorf("%w: document %q", ErrNotFound, m.ID)
	}
	return writeHead(b, head{rev: m.Rev, updatedMs: uint64(m.Updated.UnixMilli()), snapRev: m.SnapRev, snapBytes: uint64(m.SnapBytes), snapSize: uint64(m.SnapSize)})
}

func docBucket(tx *kv.Tx, id string) (*kv.Bucket, error) {
	b := tx.Bucket(bucketDoc).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: document %q", ErrNotFound, id)
	}
	return b, nil
}

// logBucket returns the log bucket of document id.
func logBucket(tx *kv.Tx, id string) (*kv.Bucket, error) {
	b := tx.Bucket(bucketLog).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: document %q", ErrNotFound, id)
	}
	return b, nil
}

// buckets returns both buckets of document id.
func buckets(tx *kv.Tx, id string) (doc, log *kv.Bucket, err error) {
	if doc, err = docBucket(tx, id); err != nil {
		return nil, nil, err
	}
	log, err = logBucket(tx, id)
	return doc, log, err
}

// createDoc writes a new document at revision 0 (empty text).
func createDoc(tx *kv.Tx, m Meta) error {
	if tx.Bucket(bucketMeta).Get([]byte(m.ID)) != nil {
		return fmt.Errorf("%w: document %q exists", ErrConflict, m.ID)
	}
	files := tx.Bucket(bucketFiles)
	if files.Get(fileKey(m.Workspace, m.Name)) != nil {
		return fmt.Errorf("%w: %q already exists in workspace %q", ErrConflict, m.Name, m.Workspace)
	}
	if _, err := tx.Bucket(bucketLog).CreateBucket([]byte(m.ID)); err != nil {
		return err
	}
	b, err := tx.Bucket(bucketDoc).CreateBucket([]byte(m.ID))
	if err != nil {
		return err
	}
	for _, sub := range [][]byte{subSnap, subOpID, subBlame, subChat, subPres} {
		if _, err := b.CreateBucket(sub); err != nil {
			return err
		}
	}
	if err := b.Bucket(subSnap).Put(revKey(0), nil); err != nil {
		return err
	}
	if err := files.Put(fileKey(m.Workspace, m.Name), []byte(m.ID)); err != nil {
		return err
	}
	if err := ensureWorkspace(tx, m.Workspace, m.Created); err != nil {
		return err
	}
	if err := putDocLinks(tx, m); err != nil {
		return err
	}
	return putMeta(tx, m)
}

// appendRevision appends r to the log of document id only if the log's head
// is r.Rev-1: the compare-and-append a distributed log also offers. text is
// the document's text after r, written as a snapshot when one is due.
func (s *Store) appendRevision(tx *kv.Tx, id string, r Revision, text rope.Rope) error {
	rec, _ := encodeRecord(r)
	return s.appendPrepared(tx, id, r, text, prepared{rec: rec})
}

// prepared is a revision encoded before its commit, so that the commit
// goroutine, which every document's writes go through, does only the
// writing: rec is encodeRecord of the revision, and snap, if the writer
// expected a snapshot to be due, encodeSnapshot of its text.
type prepared struct {
	rec  []byte
	snap []byte
}

// encodeSnapshot encodes a text as the file's snapshots are stored.
func (s *Store) encodeSnapshot(text rope.Rope) []byte {
	var buf bytes.Buffer
	buf.Grow(text.ByteLen())
	text.WriteTo(&buf)
	if s.zenc == nil {
		return buf.Bytes()
	}
	// A snapshot's bytes are what its commit waits for the disk to take.
	return s.zenc.EncodeAll(buf.Bytes(), nil)
}

// snapshotDue is the snapshot rule: a snapshot every snapEvery revisions
// or snapBytes bytes of log, whichever comes first, where a text longer
// than snapEvery*snapshotRevBytes bytes (256 KB by default) at the last
// snapshot waits for one revision per snapshotRevBytes of it instead. A
// snapshot is the whole text, so under a fixed interval a big document
// pays per edit in proportion to its size; this way no document's
// snapshots cost more than snapshotRevBytes of text per revision, and
// reading one of its revisions replays at most that many more records,
// each far cheaper than encoding its text.
func (s *Store) snapshotDue(revsSince, logBytesSince, snapSize uint64) bool {
	return revsSince >= max(uint64(s.snapEvery), snapSize/snapshotRevBytes) || logBytesSince >= uint64(s.snapBytes)
}

const snapshotRevBytes = 256

// snapshotDueAfter is the snapshot rule for appending a record of n bytes
// to a log whose head is h.
func (s *Store) snapshotDueAfter(h head, n int) bool {
	return s.snapshotDue(h.rev+1-h.snapRev, h.snapBytes+uint64(n), h.snapSize)
}

// appendPrepared is appendRevision with the encoding done.
func (s *Store) appendPrepared(tx *kv.Tx, id string, r Revision, text rope.Rope, p prepared) error {
	return s.appendRun(tx, id, []*write{{rev: r, text: text, prep: p}})
}

// appendRun appends consecutive revisions of document id, each as
// appendRevision would, but reads and writes the head record once and each
// client's newest op id once: a checkpoint copies many revisions of a
// document at a time, and these records are rewritten by every revision.
func (s *Store) appendRun(tx *kv.Tx, id string, run []*write) error {
	log, err := logBucket(tx, id)
	if err != nil {
		return err
	}
	h, ok := readHead(log)
	if !ok {
		return fmt.Errorf("docs: document %q has no head record", id)
	}
	// Revisions are only ever appended: fill pages (bbolt's default splits
	// them half full), which halves the log's pages and keeps the page
	// each commit rewrites small.
	log.SetFillPercent(appendFill)
	// Each client's newest op in the run: a client's ops come in sequence
	// order, so the last one seen.
	var marks map[string]clientMark
	sessions, err := openSessions(log, h.rev)
	if err != nil {
		return err
	}
	for _, w := range run {
		r := w.rev
		if h.rev != r.Rev-1 {
			return fmt.Errorf("%w: appending %d to %q whose head is %d", ErrConflict, r.Rev, id, h.rev)
		}
		rec := w.prep.rec
		if err := log.Put(revKey(r.Rev), rec); err != nil {
			return err
		}
		if err := sessions.add(r); err != nil {
			return err
		}
		if client, seq, ok := parseOpID(r.OpID); ok {
			if marks == nil {
				marks = make(map[string]clientMark)
			}
			marks[client] = clientMark{seq: seq, rev: r.Rev}
		} else if r.OpID != "" {
			if err := indexOpID(tx, id, r.OpID, r.Rev); err != nil {
				return err
			}
		}
		if s.advance(&h, w) {
			v := w.prep.snap
			if v == nil {
				v = s.encodeSnapshot(w.text)
			}
			b, err := docBucket(tx, id)
			if err != nil {
				return err
			}
			snap := b.Bucket(subSnap)
			snap.SetFillPercent(appendFill)
			if err := snap.Put(revKey(r.Rev), v); err != nil {
				return err
			}
		}
	}
	for client, m := range marks {
		if err := writeMark(log, client, m); err != nil {
			return err
		}
	}
	if err := sessions.flush(); err != nil {
		return err
	}
	return writeHead(log, h)
}

// advance moves a head record over revision w as appendRun writes it, and
// reports whether a snapshot is due at it.
func (s *Store) advance(h *head, w *write) bool {
	n := len(w.prep.rec)
	due := s.snapshotDueAfter(*h, n)
	h.rev, h.updatedMs = w.rev.Rev, uint64(w.rev.Time.UnixMilli())
	h.snapBytes += uint64(n)
	if due {
		h.snapRev, h.snapBytes, h.snapSize = w.rev.Rev, 0, uint64(w.text.ByteLen())
	}
	return due
}

// textAt rebuilds the text at rev from the nearest snapshot at or before it
// and at most the snapshot interval of log records, from bbolt alone: for
// recovery, and for what bbolt has of a view's document (see docView.text).
func (s *Store) textAt(tx *kv.Tx, id string, rev uint64) (rope.Rope, error) {
	b, log, err := buckets(tx, id)
	if err != nil {
		return rope.Rope{}, err
	}
	c := b.Bucket(subSnap).Cursor()
	k, v := c.Seek(revKey(rev))
	if k == nil || binary.BigEndian.Uint64(k) > rev {
		k, v = c.Prev()
	}
	if k == nil {
		return rope.Rope{}, fmt.Errorf("docs: no snapshot at or before %d", rev)
	}
	if s.zdec != nil && len(v) > 0 {
		var err error
		if v, err = s.zdec.DecodeAll(v, nil); err != nil {
			return rope.Rope{}, fmt.Errorf("docs: corrupt snapshot %d: %w", binary.BigEndian.Uint64(k), err)
		}
	}
	text := rope.New(string(v))
	from := binary.BigEndian.Uint64(k)
	lc := log.Cursor()
	for k, v := lc.Seek(revKey(from + 1)); isRev(k) && binary.BigEndian.Uint64(k) <= rev; k, v = lc.Next() {
		r, err := decodeRecord(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return rope.Rope{}, err
		}
		if text, err = r.Op.ApplyRope(text); err != nil {
			return rope.Rope{}, fmt.Errorf("docs: replaying revision %d: %w", r.Rev, err)
		}
	}
	return text, nil
}

// deleteDoc removes every entry of a document, deleted or not.
func deleteDoc(tx *kv.Tx, id string) error {
	m, err := getMetaAny(tx, id)
	if err != nil {
		return err
	}
	for _, parent := range [][]byte{bucketDoc, bucketLog} {
		if err := tx.Bucket(parent).DeleteBucket([]byte(id)); err != nil && err != kv.ErrBucketNotFound {
			return err
		}
	}
	if m.Deleted.IsZero() {
		if err := tx.Bucket(bucketFiles).Delete(fileKey(m.Workspace, m.Name)); err != nil {
			return err
		}
	} else if err := tx.Bucket(bucketTrash).Delete(trashKey(m.Workspace, m.DeletedSeq)); err != nil {
		return err
	}
	for _, l := range []string{m.EditLink, m.ViewLink} {
		if err := tx.Bucket(bucketLinks).Delete([]byte(l)); err != nil {
			return err
		}
	}
	if err := deleteAuthors(tx, m); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Delete([]byte(id))
}

// moveLogs brings a file written before documents had log buckets up to
// date: it moves each document's log, head record and client marks out of
// doc/<id> into log/<id>. One transaction per document, so a crash part
// way leaves every document whole in one layout or the other, and the next
// open carries on.
func moveLogs(db *bolt.DB) error {
	var after []byte
	for {
		var id []byte
		err := viewDB(db, func(tx *kv.Tx) error {
			c := tx.Bucket(bucketDoc).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(append(after, 0))
			}
			for ; k != nil; k, v = c.Next() {
				if v == nil && tx.Bucket(bucketDoc).Bucket(k).Bucket(oldSubLog) != nil {
					id = bytes.Clone(k)
					return nil
				}
			}
			return nil
		})
		if err != nil || id == nil {
			return err
		}
		if err := updateDB(db, func(tx *kv.Tx) error { return moveLog(tx, id) }); err != nil {
			return fmt.Errorf("document %q: %w", id, err)
		}
		after = id
	}
}

// The names of the earlier layout, inside doc/<id>.
var (
	oldSubLog  = []byte("log")
	oldKeyHead = []byte("head")
)

func moveLog(tx *kv.Tx, id []byte) error {
	doc := tx.Bucket(bucketDoc).Bucket(id)
	log, err := tx.Bucket(bucketLog).CreateBucket(id)
	if err != nil {
		return err
	}
	log.SetFillPercent(appendFill)
	put := func(k, v []byte) error { return log.Put(k, bytes.Clone(v)) }
	if err := doc.Bucket(oldSubLog).ForEach(put); err != nil {
		return err
	}
	if v := doc.Get(oldKeyHead); v != nil {
		if err := put(keyHead, v); err != nil {
			return err
		}
		if err := doc.Delete(oldKeyHead); err != nil {
			return err
		}
	}
	if cb := doc.Bucket(subClients); cb != nil {
		err := cb.ForEach(func(client, v []byte) error { return put(markKey(string(client)), v) })
		if err != nil {
			return err
		}
		if err := doc.DeleteBucket(subClients); err != nil {
			return err
		}
	}
	return doc.DeleteBucket(oldSubLog)
}

// checkBolt checks the bbolt file at path before bbolt maps it: bbolt
// trusts its pages, and on a damaged file panics (in a goroutine of its
// own, where nothing can recover) or faults on a page past the end of a
// truncated file. It reads the file with plain reads and walks every page
// reachable from the newest valid meta page, as bbolt's Tx.Check does
// (which this cannot use: it rebuilds the freelist first, by the same
// unguarded walk): every page must lie inside the file and below the
// meta's high-water mark, be a branch or leaf page that says its own id,
// be reached once, and hold elements inside it with keys in order. A
// problem is an ErrCorrupt that says which page, where, and in which
// bucket, and names the recovery command.
func checkBolt(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("docs: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("docs: %s: %w", path, err)
	}
	c := &boltCheck{f: f, size: fi.Size(), seen: map[uint64]bool{}}
	if err := c.check(); err != nil {
		return fmt.Errorf("%w: %s: %w: %s", ErrCorrupt, path, err, recoverHint(path))
	}
	return nil
}

// The layout of bbolt's pages (bbolt 1.x, internal/common), in the
// machine's byte order.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltPageHeader  = 16 // id 8, flags 2, count 2, overflow 4
	boltElement     = 16 // branch: pos 4, ksize 4, pgid 8; leaf: flags 4, pos 4, ksize 4, vsize 4
	boltBranchPage  = 0x01
	boltLeafPage    = 0x02
	boltMetaPage    = 0x04
	boltBucketValue = 0x01
	boltMaxDepth    = 64
)

var boltOrder = binary.NativeEndian

// boltCheck is one walk of checkBolt.
type boltCheck struct {
	f        *os.File
	size     int64
	pageSize int64
	hwm      uint64 // the meta's page count: no page id reaches it
	seen     map[uint64]bool
}

func (c *boltCheck) check() error {
	// The meta pages: the first at 0, the second one page further, for a
	// page size the first says, or found by trying each as bbolt does.
	var best []byte
	var bestTx uint64
	first := make([]byte, 4096)
	n, _ := c.f.ReadAt(first, 0)
	first = first[:n]
	if m, ok := boltMeta(first); ok {
		best, bestTx = m, boltOrder.Uint64(m[48:])
		c.pageSize = int64(boltOrder.Uint32(m[8:]))
	}
	for ps := int64(1024); ps <= 1<<16; ps *= 2 {
		if c.pageSize != 0 && ps != c.pageSize {
			continue
		}
		buf := make([]byte, 4096)
		n, _ := c.f.ReadAt(buf, ps)
		if m, ok := boltMeta(buf[:n]); ok && int64(boltOrder.Uint32(m[8:])) == ps && (best == nil || boltOrder.Uint64(m[48:]) > bestTx) {
			best, c.pageSize = m, ps
			break
		}
	}
	if best == nil {
		return fmt.Errorf("neither meta page (the first two pages) is valid: not a bbolt file, or both overwritten")
	}
	c.hwm = boltOrder.Uint64(best[40:])
	if need := int64(c.hwm) * c.pageSize; need > c.size {
		return fmt.Errorf("the file is truncated: its meta page counts %d pages of %d bytes (%d bytes), the file has %d bytes", c.hwm, c.pageSize, need, c.size)
	}
	c.seen[0], c.seen[1] = true, true
	return c.bucket(best[16:32], "the root bucket", 0)
}

// boltMeta returns the meta of a meta page at the start of b, if it is a
// valid one.
func boltMeta(b []byte) ([]byte, bool) {
	if len(b) < boltPageHeader+64 || boltOrder.Uint16(b[8:]) != boltMetaPage {
		return nil, false
	}
	m := b[boltPageHeader : boltPageHeader+64]
	if boltOrder.Uint32(m) != boltMagic || boltOrder.Uint32(m[4:]) != boltVersion {
		return nil, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	return m, h.Sum64() == boltOrder.Uint64(m[56:])
}

// bucket checks a bucket from its 16-byte header (root page, sequence),
// and an inline bucket's page after it.
func (c *boltCheck) bucket(v []byte, where string, depth int) error {
	if len(v) < 16 {
		return fmt.Errorf("%s: a bucket value of %d bytes", where, len(v))
	}
	root := boltOrder.Uint64(v)
	if root == 0 {
		return c.elements(v[16:], 0, where, depth)
	}
	return c.page(root, where, depth)
}

// page checks page id and what it leads to.
func (c *boltCheck) page(id uint64, where string, depth int) error {
	at := func(format string, args ...any) error {
		return fmt.Errorf("page %d (byte offset %d) in %s: %s", id, int64(id)*c.pageSize, where, fmt.Sprintf(format, args...))
	}
	if depth > boltMaxDepth {
		return at("the tree is deeper than %d pages (a loop?)", boltMaxDepth)
	}
	if id < 2 || id >= c.hwm {
		return at("out of bounds: the file's pages end at %d", c.hwm)
	}
	hdr := make([]byte, boltPageHeader)
	if _, err := c.f.ReadAt(hdr, int64(id)*c.pageSize); err != nil {
		return at("unreadable: %v", err)
	}
	overflow := uint64(boltOrder.Uint32(hdr[12:]))
	if got := boltOrder.Uint64(hdr); got != id {
		return at("it says it is page %d", got)
	}
	if id+overflow >= c.hwm {
		return at("%d overflow pages run past the file's pages, which end at %d", overflow, c.hwm)
	}
	for i := id; i <= id+overflow; i++ {
		if c.seen[i] {
			return at("page %d is reached twice", i)
		}
		c.seen[i] = true
	}
	buf := make([]byte, int64(overflow+1)*c.pageSize)
	if _, err := c.f.ReadAt(buf, int64(id)*c.pageSize); err != nil {
		return at("unreadable: %v", err)
	}
	if err := c.elements(buf, id, where, depth); err != nil {
		return at("%v", err)
	}
	return nil
}

// elements checks the branch or leaf page in p (page id, 0 for an inline
// bucket's) and follows its children and buckets.
func (c *boltCheck) elements(p []byte, id uint64, where string, depth int) error {
	if len(p) < boltPageHeader {
		return fmt.Errorf("%d bytes, less than a page header", len(p))
	}
	flags, count := boltOrder.Uint16(p[8:]), int(boltOrder.Uint16(p[10:]))
	if flags != boltBranchPage && flags != boltLeafPage {
		return fmt.Errorf("not a branch or leaf page (flags %#x)", flags)
	}
	if boltPageHeader+count*boltElement > len(p) {
		return fmt.Errorf("%d elements do not fit in %d bytes", count, len(p))
	}
	var prev []byte
	for i := range count {
		e := p[boltPageHeader+i*boltElement:]
		base := boltPageHeader + i*boltElement
		var kpos, ksize, vsize int
		var leafFlags uint32
		var child uint64
		if flags == boltBranchPage {
			kpos, ksize, child = base+int(boltOrder.Uint32(e)), int(boltOrder.Uint32(e[4:])), boltOrder.Uint64(e[8:])
		} else {
			leafFlags = boltOrder.Uint32(e)
			kpos, ksize, vsize = base+int(boltOrder.Uint32(e[4:])), int(boltOrder.Uint32(e[8:])), int(boltOrder.Uint32(e[12:]))
		}
		if kpos < base || ksize < 0 || vsize < 0 || kpos+ksize+vsize > len(p) || kpos+ksize+vsize < kpos {
			return fmt.Errorf("element %d of %d points outside the page", i, count)
		}
		key := p[kpos : kpos+ksize]
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("element %d's key is not after the one before it", i)
		}
		prev = key
		if flags == boltBranchPage {
			if err := c.page(child, where, depth+1); err != nil {
				return err
			}
		} else if leafFlags&boltBucketValue != 0 {
			name := fmt.Sprintf("bucket %q", key)
			if where != "the root bucket" {
				name = where + " / " + fmt.Sprintf("%q", key)
			}
			if err := c.bucket(p[kpos+ksize:kpos+ksize+vsize], name, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Recover repairs the data files of the database at path for the
// "collab recover" command (see docs/OPERATIONS.md), printing what it does
// to out. The server must be stopped. A bbolt file that fails checkBolt is
// read, each document on its own, guarded against bbolt's panics and
// faults, into a new file that takes its place; the old one stays beside
// it as path.damaged-<now>. A revision log that does not open with it
// (damaged, or from another moment) is put aside the same way, and every
// whole record in it is replayed, in order, where it follows a document's
// head: each byte range skipped is reported, and so is each revision that
// does not fit.
func Recover(path string, out io.Writer, now time.Time) error {
	stamp := now.UTC().Format("20060102T150405Z")
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0:
		fmt.Fprintf(out, "%s: empty or missing: a new one is made; no document can be salvaged from it\n", path)
	case err != nil:
		return fmt.Errorf("docs: %w", err)
	default:
		if cerr := checkBolt(path); cerr == nil {
			fmt.Fprintf(out, "%s: checked every page: no damage\n", path)
		} else {
			fmt.Fprintf(out, "%s: %v\n", path, cerr)
			if err := salvageBolt(path, path+".damaged-"+stamp, out); err != nil {
				return err
			}
		}
	}
	cfg := Config{Logger: slog.New(slog.NewTextHandler(out, nil))}
	st, err := OpenStore(path, cfg)
	if err == nil {
		fmt.Fprintf(out, "%s.wal: whole; its revisions are in %s\n", path, path)
		return st.Close()
	}
	if !errors.Is(err, ErrCorrupt) {
		return err
	}
	fmt.Fprintf(out, "%s.wal: %v\n", path, err)
	walPath, aside := path+".wal", path+".wal.damaged-"+stamp
	b, err := os.ReadFile(walPath)
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	if err := os.Rename(walPath, aside); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	fmt.Fprintf(out, "%s: kept as %s\n", walPath, aside)
	if st, err = OpenStore(path, cfg); err != nil {
		return err
	}
	defer st.Close()
	return st.replayAll(b, walPath, out)
}

// replayAll replays every whole record of a log file's bytes b (of any
// generation, older ones first), reporting what it skips.
func (s *Store) replayAll(b []byte, name string, out io.Writer) error {
	recs := recordsFrom(b, 0, 0)
	at := int64(0)
	skip := func(to int64) {
		if to > at && !allZero(b[at:to]) && !(at == 0 && to == walHeaderLen && validHeader(b[:walHeaderLen])) {
			fmt.Fprintf(out, "%s: skipped bytes %d to %d (%d bytes): no whole record\n", name, at, to, to-at)
		}
	}
	for _, r := range recs {
		skip(r.off)
		at = r.off + r.n
	}
	skip(int64(len(b)))
	slices.SortStableFunc(recs, func(a, b walRecord) int { return cmp.Compare(a.gen, b.gen) })
	var replayed, had, gone, misfit int
	err := updateDB(s.db, func(tx *kv.Tx) error {
		for _, r := range recs {
			if r.err != nil {
				fmt.Fprintf(out, "%s: skipped the record at byte offset %d: %v\n", name, r.off, r.err)
				continue
			}
			for _, e := range r.entries {
				log := tx.Bucket(bucketLog).Bucket([]byte(e.doc))
				if log == nil {
					gone++
					continue
				}
				h, _ := readHead(log)
				switch {
				case h.rev >= e.rev:
					had++
					continue
				case h.rev+1 != e.rev:
					misfit++
					fmt.Fprintf(out, "%s: skipped revision %d of %s (record at byte offset %d): the document is at revision %d\n", name, e.rev, e.doc, r.off, h.rev)
					continue
				}
				if err := s.replay(tx, e); err != nil {
					misfit++
					fmt.Fprintf(out, "%s: skipped revision %d of %s (record at byte offset %d): %v\n", name, e.rev, e.doc, r.off, err)
					continue
				}
				replayed++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("docs: replaying %s: %w", name, err)
	}
	fmt.Fprintf(out, "%s: %d whole records: %d revisions replayed, %d already in the database, %d of deleted or lost documents, %d that did not fit\n",
		name, len(recs), replayed, had, gone, misfit)
	return nil
}

// guarded runs fn, turning bbolt's panics, and faults on pages past the
// end of a truncated file, into errors.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable: %v", r)
		}
	}()
	return fn()
}

// boltTree is a bucket's contents, read into memory.
type boltTree struct {
	entries []boltEntry
}

type boltEntry struct {
	k, v []byte
	sub  *boltTree // for a nested bucket
}

// readTree reads a bucket; with partial, it keeps what it read before a
// failure.
func readTree(b *kv.Bucket, t *boltTree) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e := boltEntry{k: bytes.Clone(k), v: bytes.Clone(v)}
		if v == nil {
			sb := b.Bucket(k)
			if sb == nil {
				return fmt.Errorf("nested bucket %q is missing", k)
			}
			e.sub = &boltTree{}
			if err := readTree(sb, e.sub); err != nil {
				return err
			}
		}
		t.entries = append(t.entries, e)
	}
	return nil
}

func writeTree(b *kv.Bucket, t *boltTree) error {
	for _, e := range t.entries {
		if e.sub == nil {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
			continue
		}
		sb, err := b.CreateBucketIfNotExists(e.k)
		if err != nil {
			return err
		}
		if err := writeTree(sb, e.sub); err != nil {
			return err
		}
	}
	return nil
}

// salvageBolt copies what can be read of the damaged bbolt file at path
// into a new file, which then takes its place; the old one is renamed to
// aside. A document is kept whole or not at all.
func salvageBolt(path, aside string, out io.Writer) error {
	var src *bolt.DB
	err := guarded(func() error {
		var err error
		src, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		return err
	})
	if err != nil {
		return fmt.Errorf("docs: %s cannot be opened to salvage it (is the server still running?): %w", path, err)
	}
	defer src.Close()
	tmp := path + ".salvage"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistArrayType, NoFreelistSync: true, PageSize: 1 << 10})
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	defer func() {
		if dst != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	// Settings and links, then workspaces: as much of each as reads.
	tops := map[string]*boltTree{}
	ids := map[string]bool{}
	var idOrder []string
	viewDB(src, func(tx *kv.Tx) error {
		for _, name := range [][]byte{bucketLinks, bucketWorkspaces, bucketAuthors} {
			t := &boltTree{}
			err := guarded(func() error {
				b := tx.Bucket(name)
				if b == nil && bytes.Equal(name, bucketAuthors) {
					return nil // a file older than author profiles
				}
				if b == nil {
					return fmt.Errorf("missing")
				}
				return readTree(b, t)
			})
			if err != nil {
				fmt.Fprintf(out, "bucket %s: %d entries read, the rest lost: %v\n", name, len(t.entries), err)
			}
			tops[string(name)] = t
		}
		// The other buckets (the journal's, and other packages' such as
		// the webhooks'): as much of each as reads.
		var others [][]byte
		guarded(func() error {
			return tx.ForEach(func(name []byte, _ *kv.Bucket) error {
				switch string(name) {
				case string(bucketMeta), string(bucketFiles), string(bucketDoc), string(bucketLog), string(bucketLinks), string(bucketWorkspaces), string(bucketAuthors):
				default:
					others = append(others, bytes.Clone(name))
				}
				return nil
			})
		})
		for _, name := range others {
			t := &boltTree{}
			if err := guarded(func() error { return readTree(tx.Bucket(name), t) }); err != nil {
				fmt.Fprintf(out, "bucket %s: %d entries read, the rest lost: %v\n", name, len(t.entries), err)
			}
			tops[string(name)] = t
		}
		for _, name := range [][]byte{bucketMeta, bucketLog, bucketDoc} {
			err := guarded(func() error {
				b := tx.Bucket(name)
				if b == nil {
					return fmt.Errorf("missing")
				}
				c := b.Cursor()
				for k, _ := c.First(); k != nil; k, _ = c.Next() {
					if !ids[string(k)] {
						ids[string(k)] = true
						idOrder = append(idOrder, string(k))
					}
				}
				return nil
			})
			if err != nil {
				fmt.Fprintf(out, "bucket %s: listing its documents stopped: %v\n", name, err)
			}
		}
		return nil
	})
	kept, lost := 0, 0
	var zstdSnaps bool
	for _, id := range idOrder {
		var m Meta
		var metaJSON []byte
		logT, docT := &boltTree{}, &boltTree{}
		err := viewDB(src, func(tx *kv.Tx) error {
			return guarded(func() error {
				metaJSON = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte(id)))
				if metaJSON == nil {
					return fmt.Errorf("no metadata")
				}
				if err := json.Unmarshal(metaJSON, &m); err != nil {
					return fmt.Errorf("metadata: %w", err)
				}
				lb, db := tx.Bucket(bucketLog).Bucket([]byte(id)), tx.Bucket(bucketDoc).Bucket([]byte(id))
				if lb == nil || db == nil {
					return fmt.Errorf("its buckets are missing")
				}
				if err := readTree(lb, logT); err != nil {
					return fmt.Errorf("log: %w", err)
				}
				if _, ok := readHead(lb); !ok {
					return fmt.Errorf("no head record")
				}
				return readTree(db, docT)
			})
		})
		if err != nil {
			lost++
			fmt.Fprintf(out, "document %s (%q): lost: %v\n", id, m.Name, err)
			continue
		}
		for _, e := range docT.entries {
			if string(e.k) == string(subSnap) && e.sub != nil {
				for _, s := range e.sub.entries {
					zstdSnaps = zstdSnaps || bytes.HasPrefix(s.v, []byte{0x28, 0xb5, 0x2f, 0xfd})
				}
			}
		}
		err = updateDB(dst, func(tx *kv.Tx) error {
			for _, b := range [][]byte{bucketMeta, bucketFiles, bucketDoc, bucketLog, bucketLinks, bucketWorkspaces, bucketAuthors, bucketTrash, bucketAuthorNames} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketMeta).Put([]byte(id), metaJSON); err != nil {
				return err
			}
			if m.Deleted.IsZero() {
				if err := tx.Bucket(bucketFiles).Put(fileKey(m.Workspace, m.Name), []byte(id)); err != nil {
					return err
				}
			}
			for _, parent := range []struct {
				name []byte
				t    *boltTree
			}{{bucketLog, logT}, {bucketDoc, docT}} {
				b, err := tx.Bucket(parent.name).CreateBucket([]byte(id))
				if err != nil {
					return err
				}
				if err := writeTree(b, parent.t); err != nil {
					return err
				}
			}
			if err := putDocLinks(tx, m); err != nil {
				return err
			}
			return ensureWorkspace(tx, m.Workspace, m.Created)
		})
		if err != nil {
			return fmt.Errorf("docs: writing document %s to %s: %w", id, tmp, err)
		}
		kept++
		rev := uint64(0)
		for _, e := range logT.entries {
			if bytes.Equal(e.k, keyHead) && len(e.v) >= 8 {
				rev = binary.BigEndian.Uint64(e.v)
			}
		}
		fmt.Fprintf(out, "document %s (%q, workspace %s): salvaged at revision %d\n", id, m.Name, m.Workspace, rev)
	}
	err = updateDB(dst, func(tx *kv.Tx) error {
		for name, t := range tops {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := writeTree(b, t); err != nil {
				return err
			}
		}
		links := tx.Bucket(bucketLinks)
		if links.Get(keySnapFormat) == nil {
			format := "raw"
			if zstdSnaps || kept == 0 {
				format = "zstd"
			}
			return links.Put(keySnapFormat, []byte(format))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	dst = nil
	// A document whose text does not rebuild is lost too.
	st, err := OpenStore(tmp, Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	for _, id := range idOrder {
		var m Meta
		if err := viewDB(st.db, func(tx *kv.Tx) (err error) { m, err = getMetaAny(tx, id); return err }); err != nil {
			continue
		}
		if _, err := st.TextAt(id, m.Rev); err != nil {
			kept--
			lost++
			fmt.Fprintf(out, "document %s (%q): lost: its text does not rebuild: %v\n", id, m.Name, err)
			if err := updateDB(st.db, func(tx *kv.Tx) error { return deleteDoc(tx, id) }); err != nil {
				st.Close()
				return err
			}
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	os.Remove(tmp + ".wal")
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	fmt.Fprintf(out, "%s: %d documents salvaged, %d lost; the damaged file is kept as %s\n", path, kept, lost, aside)
	return nil
}
