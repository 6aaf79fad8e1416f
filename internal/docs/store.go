package docs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

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
//	                then the head and each client's mark (see keyHead)
//	doc/<id>/snap   rev -> the full text at rev
//	doc/<id>/opid   op id -> rev                     (exactly-once)
//	doc/<id>/blame  rev -> blame checkpoint          (see blame.go)
//	doc/<id>/chat   seq -> ChatMessage (JSON)
//	doc/<id>/pres   user id -> Presence (JSON)
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

// appendFill is the FillPercent of buckets whose keys only grow.
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

	// Snapshot bookkeeping, not part of the public view.
	SnapRev   uint64 `json:"snapRev"`
	SnapBytes int    `json:"snapBytes"` // bytes of log written since SnapRev
	SnapSize  int    `json:"snapSize"`  // bytes of text at SnapRev
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
	db *bolt.DB
	// snapshot policy: a snapshot every snapEvery revisions or snapBytes
	// bytes of log, whichever comes first.
	snapEvery int
	snapBytes int
	// zenc and zdec compress the file's snapshots with zstd; both are nil
	// for a file made before snapshots were compressed, which keeps its
	// snapshots as plain text.
	zenc *zstd.Encoder
	zdec *zstd.Decoder

	// The revision log (see wal.go): wal is written only by the commit
	// goroutine; pending holds, in order, the batches of revision writes
	// durable in it and not yet in bbolt (guarded by pmu); ckMu is held by
	// the one transaction at a time that empties pending.
	wal     *walFile
	ckMu    sync.Mutex
	pmu     sync.Mutex
	pending [][]*write
}

// OpenStore opens (creating if needed) the bbolt file at path.
func OpenStore(path string, snapEvery, snapBytes int) (*Store, error) {
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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistArrayType, NoFreelistSync: true, PageSize: 1 << 10})
	if err != nil {
		return nil, fmt.Errorf("docs: open %s: %w", path, err)
	}
	var compress bool
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketFiles, bucketDoc, bucketLog, bucketLinks, bucketWorkspaces} {
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
	st := &Store{db: db, snapEvery: snapEvery, snapBytes: snapBytes}
	if compress {
		// Both are safe for concurrent use; the fastest level compresses
		// code about 4x (S2: 2.7x, at the same throughput) at a few hundred MB/s.
		st.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))
		st.zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2))
	}
	if err := st.recoverLog(path + ".wal"); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
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
// after a checkpoint, so that it holds every durable revision.
func (s *Store) DB() *bolt.DB {
	s.checkpoint()
	return s.db
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

func readHead(b *bolt.Bucket) (head, bool) {
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

func writeHead(b *bolt.Bucket, h head) error {
	v := make([]byte, 0, 40)
	for _, x := range []uint64{h.rev, h.updatedMs, h.snapRev, h.snapBytes, h.snapSize} {
		v = binary.BigEndian.AppendUint64(v, x)
	}
	return b.Put(keyHead, v)
}

func getMeta(tx *bolt.Tx, id string) (Meta, error) {
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

func putMeta(tx *bolt.Tx, m Meta) error {
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

func docBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketDoc).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: document %q", ErrNotFound, id)
	}
	return b, nil
}

// logBucket returns the log bucket of document id.
func logBucket(tx *bolt.Tx, id string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketLog).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: document %q", ErrNotFound, id)
	}
	return b, nil
}

// buckets returns both buckets of document id.
func buckets(tx *bolt.Tx, id string) (doc, log *bolt.Bucket, err error) {
	if doc, err = docBucket(tx, id); err != nil {
		return nil, nil, err
	}
	log, err = logBucket(tx, id)
	return doc, log, err
}

// createDoc writes a new document at revision 0 (empty text).
func createDoc(tx *bolt.Tx, m Meta) error {
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
	if err := putLink(tx, m.EditLink, Link{Kind: "doc", Target: m.ID, Mode: ModeEdit}); err != nil {
		return err
	}
	if err := putLink(tx, m.ViewLink, Link{Kind: "doc", Target: m.ID, Mode: ModeView}); err != nil {
		return err
	}
	return putMeta(tx, m)
}

// appendRevision appends r to the log of document id only if the log's head
// is r.Rev-1: the compare-and-append a distributed log also offers. text is
// the document's text after r, written as a snapshot when one is due.
func (s *Store) appendRevision(tx *bolt.Tx, id string, r Revision, text rope.Rope) error {
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
func (s *Store) appendPrepared(tx *bolt.Tx, id string, r Revision, text rope.Rope, p prepared) error {
	return s.appendRun(tx, id, []*write{{rev: r, text: text, prep: p}})
}

// appendRun appends consecutive revisions of document id, each as
// appendRevision would, but reads and writes the head record once and each
// client's newest op id once: a checkpoint copies many revisions of a
// document at a time, and these records are rewritten by every revision.
func (s *Store) appendRun(tx *bolt.Tx, id string, run []*write) error {
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
	log.FillPercent = appendFill
	// Each client's newest op in the run: a client's ops come in sequence
	// order, so the last one seen.
	var marks map[string]clientMark
	for _, w := range run {
		r := w.rev
		if h.rev != r.Rev-1 {
			return fmt.Errorf("%w: appending %d to %q whose head is %d", ErrConflict, r.Rev, id, h.rev)
		}
		rec := w.prep.rec
		if err := log.Put(revKey(r.Rev), rec); err != nil {
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
		due := s.snapshotDueAfter(h, len(rec))
		h.rev, h.updatedMs = r.Rev, uint64(r.Time.UnixMilli())
		h.snapBytes += uint64(len(rec))
		if due {
			v := w.prep.snap
			if v == nil {
				v = s.encodeSnapshot(w.text)
			}
			b, err := docBucket(tx, id)
			if err != nil {
				return err
			}
			snap := b.Bucket(subSnap)
			snap.FillPercent = appendFill
			if err := snap.Put(revKey(r.Rev), v); err != nil {
				return err
			}
			h.snapRev, h.snapBytes, h.snapSize = r.Rev, 0, uint64(w.text.ByteLen())
		}
	}
	for client, m := range marks {
		if err := writeMark(log, client, m); err != nil {
			return err
		}
	}
	return writeHead(log, h)
}

// Meta returns a document's metadata.
func (s *Store) Meta(id string) (m Meta, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		m, err = getMeta(tx, id)
		return err
	})
	return m, err
}

// Revisions returns up to limit revisions after rev after, in order.
func (s *Store) Revisions(id string, after uint64, limit int) (out []Revision, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		log, err := logBucket(tx, id)
		if err != nil {
			return err
		}
		out, err = readLog(log, after, limit)
		return err
	})
	return out, err
}

// readLog reads up to limit revisions after after from a log bucket.
func readLog(log *bolt.Bucket, after uint64, limit int) ([]Revision, error) {
	out := make([]Revision, 0, min(limit, 64))
	c := log.Cursor()
	for k, v := c.Seek(revKey(after + 1)); isRev(k) && len(out) < limit; k, v = c.Next() {
		r, err := decodeRecord(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// textAt rebuilds the text at rev from the nearest snapshot at or before it
// and at most the snapshot interval of log records.
func (s *Store) textAt(tx *bolt.Tx, id string, rev uint64) (rope.Rope, error) {
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

// TextAt returns the document's text at revision rev.
func (s *Store) TextAt(id string, rev uint64) (text rope.Rope, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		m, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		if rev > m.Rev {
			return fmt.Errorf("%w: revision %d of %q (head is %d)", ErrNotFound, rev, id, m.Rev)
		}
		text, err = s.textAt(tx, id, rev)
		return err
	})
	return text, err
}

// load reads what a live document needs: metadata, the head text and the
// last window revisions.
func (s *Store) load(id string, window int) (m Meta, text rope.Rope, recent []Revision, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		if m, err = getMeta(tx, id); err != nil {
			return err
		}
		if text, err = s.textAt(tx, id, m.Rev); err != nil {
			return err
		}
		log, err := logBucket(tx, id)
		if err != nil {
			return err
		}
		after := uint64(0)
		if m.Rev > uint64(window) {
			after = m.Rev - uint64(window)
		}
		recent, err = readLog(log, after, window)
		return err
	})
	return m, text, recent, err
}

// deleteDoc removes every entry of a document.
func deleteDoc(tx *bolt.Tx, id string) error {
	m, err := getMeta(tx, id)
	if err != nil {
		return err
	}
	for _, parent := range [][]byte{bucketDoc, bucketLog} {
		if err := tx.Bucket(parent).DeleteBucket([]byte(id)); err != nil && err != bolt.ErrBucketNotFound {
			return err
		}
	}
	if err := tx.Bucket(bucketFiles).Delete(fileKey(m.Workspace, m.Name)); err != nil {
		return err
	}
	for _, l := range []string{m.EditLink, m.ViewLink} {
		if err := tx.Bucket(bucketLinks).Delete([]byte(l)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Delete([]byte(id))
}

// List returns documents of a workspace whose names start with prefix,
// ordered by name, starting after the name after.
func (s *Store) List(workspace, prefix, after string, limit int) (out []Meta, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFiles).Cursor()
		base := fileKey(workspace, prefix)
		start := base
		if after != "" && after >= prefix {
			start = append(fileKey(workspace, after), 0)
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, base) && len(out) < limit; k, v = c.Next() {
			m, err := getMeta(tx, string(v))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// ListAll returns every document's metadata ordered by id, after id after.
func (s *Store) ListAll(after string, limit int) (out []Meta, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		k, _ := c.First()
		if after != "" {
			k, _ = c.Seek(append([]byte(after), 0))
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			m, err := getMeta(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
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
		err := db.View(func(tx *bolt.Tx) error {
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
		if err := db.Update(func(tx *bolt.Tx) error { return moveLog(tx, id) }); err != nil {
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

func moveLog(tx *bolt.Tx, id []byte) error {
	doc := tx.Bucket(bucketDoc).Bucket(id)
	log, err := tx.Bucket(bucketLog).CreateBucket(id)
	if err != nil {
		return err
	}
	log.FillPercent = appendFill
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
