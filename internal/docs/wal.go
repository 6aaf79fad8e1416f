package docs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/collab-editor/collab/internal/fsync"
	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/rope"
)

// The revision log (write-ahead log) makes a group commit of revisions
// durable with one small write and one fdatasync, where a bbolt commit
// rewrites several pages of every document it touches and syncs twice.
// The revisions are copied into the bbolt file later, many per document
// per commit, by a checkpoint (see Store.checkpoint); until then they live
// in the log file and in memory, and every read of the store adds them to
// what it reads from bbolt (see view.go), so a reader sees every durable
// revision without waiting for a checkpoint, or failing with one.
//
// The file (the bbolt file's path + ".wal") is a header and a sequence of
// records written one after the other:
//
//	header: "collabwal1" (10 bytes), 6 zero bytes, generation (8 bytes),
//	        CRC-32C of the 24 bytes before it (4 bytes), 4 zero bytes
//	record: payload length (4 bytes), CRC-32C of generation and payload
//	        (4 bytes), generation (8 bytes), payload
//	payload: revisions (uvarint), then for each: document id length
//	        (uvarint), id, revision (uvarint), record length (uvarint), the
//	        record as the log bucket keeps it (encodeRecord)
//
// Integers are big-endian. Once a checkpoint has copied every record into
// bbolt, the header is rewritten with the next generation (which the same
// bbolt transaction records, see keyWALGen) and records start again after
// it; the old ones are not erased. A failed write to the log suspends it
// until then: the file's state after a failed write or fsync is unknown.
//
// Opening reads the records of the header's generation from the start up
// to the first that is not whole. Each record is synced before the next is
// written, so a crash can leave only the last one torn: one whose bytes
// are neither zeros nor an older generation's record is dropped, cut off
// the file and logged. A whole record of the generation anywhere after it
// means damage, not a crash; so does a damaged header in front of records
// bbolt may lack, or a generation that does not pair with bbolt's: those
// refuse to open (ErrCorrupt) and name "collab recover". A record that is
// already in bbolt (its document is gone, or its head is at or past the
// revision) is skipped, so replaying one twice is harmless.
const (
	walMagic     = "collabwal1"
	walHeaderLen = 32
	walRecordHdr = 16
	// walChunk is how much the file grows at a time, written as zeros and
	// synced with the record that needed it, so that the records after
	// it overwrite allocated blocks and their fdatasync has no file size
	// to commit.
	walChunk = 1 << 20
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// walFile is the open log file. Only the commit goroutine writes it.
type walFile struct {
	f    *os.File
	gen  uint64
	off  int64 // where the next record goes
	size int64 // bytes allocated
	zero []byte
}

// walEntry is one revision in the log.
type walEntry struct {
	doc string
	rev uint64
	rec []byte // encodeRecord of the revision
}

// walScan is what reading a log file found (see scanWAL).
type walScan struct {
	size int64
	// header is set when the header is whole; gen is then its generation.
	header bool
	gen    uint64
	// The records of gen, in order, whole and checksummed, from the
	// header on: records of them, their revisions in entries, ending at
	// end, where the next record goes.
	records int
	entries []walEntry
	end     int64
	// torn, when set, says what lies at end that is neither zeros nor a
	// record of an older generation: the record a crash interrupted.
	torn string
	// later lists the whole records of generation gen (of any generation
	// when the header is damaged) found after end: they say the file is
	// damaged, not torn.
	later []walRecord
}

// walRecord is a whole, checksummed record found in a log file.
type walRecord struct {
	off     int64
	gen     uint64
	n       int64 // bytes, header included
	entries []walEntry
	err     error // its payload does not decode
}

// recordAt reports the whole, checksummed record at off in b, of
// generation gen (of any generation if gen is 0).
func recordAt(b []byte, off int64, gen uint64) (walRecord, bool) {
	if off+walRecordHdr > int64(len(b)) {
		return walRecord{}, false
	}
	h := b[off : off+walRecordHdr]
	n := int64(binary.BigEndian.Uint32(h))
	g := binary.BigEndian.Uint64(h[8:])
	if n == 0 || off+walRecordHdr+n > int64(len(b)) || g == 0 || (gen != 0 && g != gen) || (gen == 0 && g >= 1<<40) {
		return walRecord{}, false
	}
	if crc32.Checksum(b[off+8:off+walRecordHdr+n], walCRC) != binary.BigEndian.Uint32(h[4:]) {
		return walRecord{}, false
	}
	r := walRecord{off: off, gen: g, n: walRecordHdr + n}
	r.entries, r.err = decodeWALPayload(bytes.Clone(b[off+walRecordHdr : off+walRecordHdr+n]))
	return r, true
}

// recordsFrom returns every whole record of generation gen (any if 0) at
// or after off, looking at every byte offset: the records a damaged
// stretch of the file hides.
func recordsFrom(b []byte, off int64, gen uint64) []walRecord {
	var out []walRecord
	for off+walRecordHdr <= int64(len(b)) {
		if r, ok := recordAt(b, off, gen); ok {
			out = append(out, r)
			off += r.n
			continue
		}
		off++
	}
	return out
}

// scanWAL reads the log at path without changing it. A missing file reads
// as an empty one.
func scanWAL(path string) (walScan, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return walScan{}, nil
	}
	if err != nil {
		return walScan{}, fmt.Errorf("docs: read %s: %w", path, err)
	}
	sc := walScan{size: int64(len(b))}
	if len(b) < walHeaderLen || !validHeader(b[:walHeaderLen]) {
		if !allZero(b) {
			sc.later = recordsFrom(b, 0, 0)
		}
		return sc, nil
	}
	sc.header = true
	sc.gen = binary.BigEndian.Uint64(b[16:])
	sc.end = walHeaderLen
	for {
		r, ok := recordAt(b, sc.end, sc.gen)
		if !ok {
			break
		}
		if r.err != nil {
			// The checksum held, so this is not a torn write.
			return sc, fmt.Errorf("%w: %s: record %d at byte offset %d has a good checksum but does not decode: %w: %s",
				ErrCorrupt, path, sc.records+1, r.off, r.err, recoverHint(strings.TrimSuffix(path, ".wal")))
		}
		sc.records++
		sc.entries = append(sc.entries, r.entries...)
		sc.end += r.n
	}
	rest := b[sc.end:]
	if _, old := recordAt(b, sc.end, 0); !old && !allZero(rest[:min(len(rest), walRecordHdr)]) {
		n := int64(0)
		if len(rest) >= 4 {
			n = int64(binary.BigEndian.Uint32(rest))
		}
		switch {
		case len(rest) < walRecordHdr || sc.end+walRecordHdr+n > sc.size:
			sc.torn = fmt.Sprintf("a record cut short (%d of its %d bytes)", len(rest), walRecordHdr+n)
		default:
			sc.torn = fmt.Sprintf("a record of %d bytes whose checksum does not match", walRecordHdr+n)
		}
	}
	sc.later = recordsFrom(b, sc.end+1, sc.gen)
	return sc, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// openWAL opens (creating if needed) the log at path and returns the
// entries of its current generation, in order. A torn tail is left for
// the caller to drop (see Store.recoverLog); damage is an ErrCorrupt.
func openWAL(path string) (*walFile, []walEntry, error) {
	sc, err := scanWAL(path)
	if err == nil {
		err = sc.damage(path, 0)
	}
	if err != nil {
		return nil, nil, err
	}
	w, err := openWALAt(path, sc)
	if err != nil {
		return nil, nil, err
	}
	return w, sc.entries, nil
}

// openWALAt opens the log at path, which scanned as sc, for appending
// after sc's records: a torn tail is cut off, and a file without a whole
// header starts over at generation 1.
func openWALAt(path string, sc walScan) (*walFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("docs: open %s: %w", path, err)
	}
	w := &walFile{f: f, zero: make([]byte, 64<<10), size: sc.size}
	err = func() error {
		if !sc.header {
			if err := f.Truncate(0); err != nil {
				return err
			}
			w.size = 0
			if err := w.writeHeader(1); err != nil {
				return err
			}
			// The new file's name must survive a crash too.
			return syncDir(filepath.Dir(path))
		}
		w.gen, w.off = sc.gen, sc.end
		if sc.torn != "" {
			if err := f.Truncate(sc.end); err != nil {
				return err
			}
			w.size = sc.end
			return f.Sync()
		}
		return nil
	}()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("docs: %s: %w", path, err)
	}
	return w, nil
}

// recoverHint is how an ErrCorrupt tells the operator what to do.
func recoverHint(dbPath string) string {
	return fmt.Sprintf("stop the server, copy %s and %s.wal somewhere safe, then run \"collab recover -data %s\" (see docs/OPERATIONS.md)", dbPath, dbPath, dbPath)
}

// damage reports, as an ErrCorrupt, what in sc says the log is damaged
// rather than torn: whole records of its generation after a bad one, or
// a damaged header in front of records that may not be in bbolt yet (of
// generation minGen or later; minGen 0 counts every record). dbPath
// names the bbolt file in the hint.
func (sc walScan) damage(path string, minGen uint64) error {
	dbPath := strings.TrimSuffix(path, ".wal")
	if sc.header && len(sc.later) > 0 {
		r := sc.later[0]
		return fmt.Errorf("%w: %s: record %d of generation %d, at byte offset %d, is damaged, and a whole record follows at byte offset %d (%d whole records after the damage): %s",
			ErrCorrupt, path, sc.records+1, sc.gen, sc.end, r.off, len(sc.later), recoverHint(dbPath))
	}
	if !sc.header {
		n := 0
		for _, r := range sc.later {
			if r.gen >= minGen {
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%w: %s: the header (bytes 0 to %d) is damaged, and %d whole records follow it that may not be in %s: %s",
				ErrCorrupt, path, walHeaderLen, n, dbPath, recoverHint(dbPath))
		}
	}
	return nil
}

func validHeader(h []byte) bool {
	return string(h[:len(walMagic)]) == walMagic &&
		crc32.Checksum(h[:24], walCRC) == binary.BigEndian.Uint32(h[24:])
}

// writeHeader starts generation gen: records go after the header again.
func (w *walFile) writeHeader(gen uint64) error {
	h := make([]byte, walHeaderLen)
	copy(h, walMagic)
	binary.BigEndian.PutUint64(h[16:], gen)
	binary.BigEndian.PutUint32(h[24:], crc32.Checksum(h[:24], walCRC))
	if err := w.ensure(walHeaderLen); err != nil {
		return err
	}
	if _, err := w.f.WriteAt(h, 0); err != nil {
		return err
	}
	if err := fsync.Data(w.f); err != nil {
		return err
	}
	w.gen, w.off = gen, walHeaderLen
	return nil
}

// ensure allocates the file up to at least end bytes, in chunks of zeros.
func (w *walFile) ensure(end int64) error {
	for w.size < end {
		n := min(int64(len(w.zero)), walChunk-w.size%walChunk)
		if _, err := w.f.WriteAt(w.zero[:n], w.size); err != nil {
			return err
		}
		w.size += n
	}
	return nil
}

// newWALRecord starts a record of count revisions, size bytes of entries
// (appendWALEntry adds each): room for the header, which append fills in,
// then the count.
func newWALRecord(count, size int) []byte {
	rec := make([]byte, walRecordHdr, walRecordHdr+binary.MaxVarintLen64+size)
	return binary.AppendUvarint(rec, uint64(count))
}

// append fills in the header of rec (from newWALRecord), writes it and
// syncs it: when it returns nil the record survives a crash.
func (w *walFile) append(rec []byte) error {
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-walRecordHdr))
	binary.BigEndian.PutUint64(rec[8:], w.gen)
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], walCRC))
	end := w.off + int64(len(rec))
	if err := w.ensure(end); err != nil {
		return err
	}
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		return err
	}
	if err := fsync.Data(w.f); err != nil {
		return err
	}
	w.off = end
	return nil
}

func (w *walFile) close() error { return w.f.Close() }

// appendWALEntry adds one revision to a payload being built.
func appendWALEntry(buf []byte, doc string, rev uint64, rec []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(doc)))
	buf = append(buf, doc...)
	buf = binary.AppendUvarint(buf, rev)
	buf = binary.AppendUvarint(buf, uint64(len(rec)))
	return append(buf, rec...)
}

var errWALPayload = errors.New("malformed revision log payload")

func decodeWALPayload(p []byte) ([]walEntry, error) {
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	bytesOf := func() ([]byte, bool) {
		n, ok := next()
		if !ok || n > uint64(len(p)) {
			return nil, false
		}
		b := p[:n:n]
		p = p[n:]
		return b, true
	}
	count, ok := next()
	if !ok || count > uint64(len(p)) {
		return nil, errWALPayload
	}
	out := make([]walEntry, 0, count)
	for range count {
		doc, ok1 := bytesOf()
		rev, ok2 := next()
		rec, ok3 := bytesOf()
		if !ok1 || !ok2 || !ok3 {
			return nil, errWALPayload
		}
		out = append(out, walEntry{doc: string(doc), rev: rev, rec: rec})
	}
	if len(p) != 0 {
		return nil, errWALPayload
	}
	return out, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// addPending records a batch of revision writes the commit goroutine has
// just made durable in the log, in order. The store keeps the batch, and
// each document's share of it for reads (see pendingOf).
func (s *Store) addPending(batch []*write) {
	s.pmu.Lock()
	s.pending = append(s.pending, batch)
	for _, w := range batch {
		s.byDoc[w.doc.id] = append(s.byDoc[w.doc.id], w)
	}
	s.pmu.Unlock()
}

// pendingOf returns document id's revisions pending in the log, in order.
// Take it before the bbolt transaction it completes (see Store.view).
func (s *Store) pendingOf(id string) []*write {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	ws := s.byDoc[id]
	return ws[:len(ws):len(ws)]
}

// hasPending reports whether any revision is pending in the log.
func (s *Store) hasPending() bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return len(s.pending) > 0
}

// pendingDocs is pendingOf for every document with pending revisions.
func (s *Store) pendingDocs() map[string][]*write {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if len(s.byDoc) == 0 {
		return nil
	}
	out := make(map[string][]*write, len(s.byDoc))
	for id, ws := range s.byDoc {
		out[id] = ws[:len(ws):len(ws)]
	}
	return out
}

// checkpoint copies every revision pending in the log into bbolt. A
// failure leaves them pending (and durable in the log), and is logged.
func (s *Store) checkpoint() error {
	s.pmu.Lock()
	n := len(s.pending)
	s.pmu.Unlock()
	if n == 0 {
		return nil
	}
	return s.withPending(nil)
}

// withPending runs one bbolt write transaction that first appends the
// revisions pending in the log and then runs fn (if not nil), so that fn
// sees, and comes after, every durable revision. Once it commits, those
// revisions are no longer pending. An error of fn's rolls it all back and
// is returned as it is; any other failure is an ErrStorage: the disk did
// not take the transaction (or a pending revision does not follow bbolt's
// head, which the error says).
func (s *Store) withPending(fn func(tx *kv.Tx) error) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	// In cluster mode, every entry of the Log up to followed is pending
	// or in bbolt already, so bbolt has them all once this commits.
	followed := s.followed.Load()
	s.pmu.Lock()
	batches := s.pending[:len(s.pending):len(s.pending)]
	s.pmu.Unlock()
	var fnErr error
	err := updateDB(s.db, func(tx *kv.Tx) error {
		if s.cluster && followed > 0 {
			if err := tx.Bucket(bucketLinks).Put(keyFollowed, binary.BigEndian.AppendUint64(nil, followed)); err != nil {
				return err
			}
		}
		ids, runs := pendingRuns(batches)
		for _, id := range ids {
			run := runs[id]
			if err := s.appendRun(tx, id, run); err != nil {
				return fmt.Errorf("docs: checkpoint of revisions %d to %d of %q: %w", run[0].rev.Rev, run[len(run)-1].rev.Rev, id, err)
			}
			// A second of revisions of many documents is milliseconds of
			// work: let the goroutines queued behind this one (fan-out
			// waiting to write to sockets) run between documents rather
			// than wait for the scheduler to preempt it.
			runtime.Gosched()
		}
		if fn != nil {
			fnErr = fn(tx)
			return fnErr
		}
		return nil
	})
	if err != nil && fnErr != nil {
		return fnErr // fn's own refusal, rolled back: nothing is wrong with the disk
	}
	if err != nil {
		what := "commit to the database file"
		if len(batches) > 0 {
			what = "checkpoint into the database file"
		}
		return s.health.failed(partDB, what, err)
	}
	s.health.ok(partDB)
	if len(batches) > 0 {
		s.pmu.Lock()
		for _, batch := range batches {
			for _, w := range batch {
				if ws := s.byDoc[w.doc.id][1:]; len(ws) > 0 {
					s.byDoc[w.doc.id] = ws
				} else {
					delete(s.byDoc, w.doc.id)
				}
			}
		}
		s.pending = append([][]*write(nil), s.pending[len(batches):]...)
		s.pmu.Unlock()
	}
	return nil
}

// pendingRuns groups pending batches by document, each document's
// revisions in order, the documents in the order they first appear.
func pendingRuns(batches [][]*write) (ids []string, runs map[string][]*write) {
	runs = make(map[string][]*write)
	for _, batch := range batches {
		for _, w := range batch {
			id := w.doc.id
			if _, ok := runs[id]; !ok {
				ids = append(ids, id)
			}
			runs[id] = append(runs[id], w)
		}
	}
	return ids, runs
}

// recoverLog opens the revision log at path, which scanned as sc, after
// checking that it belongs with bbolt, whose recorded generation is gen
// (0: none yet): it copies into bbolt what of it bbolt does not have, then
// starts the log's next generation. A torn tail is cut off and logged;
// damage, or a log from another moment than bbolt, is an ErrCorrupt.
func (s *Store) recoverLog(path string, sc walScan, gen uint64) error {
	if err := sc.damage(path, gen); err != nil {
		return err
	}
	if sc.header && gen != 0 && sc.gen != gen && sc.gen+1 != gen {
		return fmt.Errorf("%w: %s is at generation %d, but %s was last checkpointed at generation %d: the two files are not from the same moment (was one of them restored from a copy?): %s",
			ErrCorrupt, path, sc.gen, s.path, gen, recoverHint(s.path))
	}
	if !sc.header && len(sc.later) > 0 {
		s.log.Warn("revision log: the header is damaged, but every record in the file is already in the database file: starting the log over",
			"file", path, "records", len(sc.later))
	}
	if sc.torn != "" {
		s.log.Warn("revision log: dropped a torn record at its end, as a crash leaves it (it was never acknowledged)",
			"file", path, "offset", sc.end, "record", sc.records+1, "dropped", sc.torn, "kept", sc.records)
	}
	w, err := openWALAt(path, sc)
	if err != nil {
		return err
	}
	next := max(w.gen, gen) + 1
	err = updateDB(s.db, func(tx *kv.Tx) error {
		for _, e := range sc.entries {
			if err := s.replay(tx, e); err != nil {
				return fmt.Errorf("docs: replaying revision %d of %q from %s: %w", e.rev, e.doc, path, err)
			}
		}
		return putWALGen(tx, next)
	})
	if errors.Is(err, ErrConflict) {
		err = fmt.Errorf("%w: %w: %s", ErrCorrupt, err, recoverHint(s.path))
	}
	if err == nil {
		err = w.writeHeader(next)
	}
	if err != nil {
		w.close()
		return err
	}
	s.wal = w
	return nil
}

func putWALGen(tx *kv.Tx, gen uint64) error {
	return tx.Bucket(bucketLinks).Put(keyWALGen, binary.BigEndian.AppendUint64(nil, gen))
}

// replay appends a revision read back from the log unless bbolt has it.
func (s *Store) replay(tx *kv.Tx, e walEntry) error {
	log := tx.Bucket(bucketLog).Bucket([]byte(e.doc))
	if log == nil {
		return nil // deleted after it was written
	}
	h, ok := readHead(log)
	if ok && h.rev >= e.rev {
		return nil // checkpointed before the crash
	}
	r, err := decodeRecord(e.rev, e.rec)
	if err != nil {
		return err
	}
	p := prepared{rec: e.rec}
	var text rope.Rope
	if ok && h.rev+1 == e.rev && s.snapshotDueAfter(h, len(e.rec)) {
		// The only case that needs the text: rebuild it from bbolt.
		before, err := s.textAt(tx, e.doc, h.rev)
		if err != nil {
			return err
		}
		if text, err = r.Op.ApplyRope(before); err != nil {
			return err
		}
		p.snap = s.encodeSnapshot(text)
	}
	// It reports a missing head record, or a gap (ErrConflict).
	return s.appendPrepared(tx, e.doc, r, text, p)
}

// restartLog checkpoints everything pending and starts w's next
// generation, recorded in bbolt by the same transaction: its records are
// then all in bbolt.
func (s *Store) restartLog(w *walFile) error {
	next := w.gen + 1
	if err := s.withPending(func(tx *kv.Tx) error { return putWALGen(tx, next) }); err != nil {
		return err
	}
	if err := w.writeHeader(next); err != nil {
		return s.health.failed(partLog, "start of the revision log's next generation", err)
	}
	return nil
}

// closeLog checkpoints what is pending, so that the next open has nothing
// to replay, and closes the log.
func (s *Store) closeLog() error {
	if s.wal == nil {
		return nil
	}
	err := s.restartLog(s.wal)
	if cerr := s.wal.close(); err == nil {
		err = cerr
	}
	s.wal = nil
	return err
}

// walLog is the local mode's revisionLog: a batch of revisions only goes
// to the revision log (the file, and then pending until a checkpoint
// copies it into bbolt); anything else, or with no file (DirectCommits),
// commits to bbolt.
type walLog struct {
	file  *walFile
	max   int64             // the file starts over once records pass this offset
	heads map[string]uint64 // each document's log head, as last committed
	// broken is set when a write to the file failed: its state is then
	// unknown, and the log is used again only from its next generation,
	// which starts once everything is in bbolt.
	broken bool
}

func (l *walLog) commit(c *committer, batch []*write) ([]*write, error) {
	if rec := l.record(batch); rec != nil {
		return batch, l.append(c, batch, rec)
	}
	return batch, l.bolt(c, batch)
}

// record returns the revision log record of batch, or nil if the
// batch must commit to bbolt: it holds something other than revisions, a
// revision of a document whose head the committer does not know (the
// first since start, or since a write that may have changed its log), or
// is too big for the log.
func (l *walLog) record(batch []*write) []byte {
	if l.file == nil {
		return nil
	}
	next := make(map[string]uint64, len(batch))
	size := 0
	for _, w := range batch {
		if w.doc == nil {
			return nil
		}
		id := w.doc.id
		head, ok := next[id]
		if !ok {
			if head, ok = l.heads[id]; !ok {
				return nil
			}
		}
		if w.rev.Rev != head+1 {
			return nil
		}
		next[id] = w.rev.Rev
		size += len(id) + len(w.prep.rec) + 24
	}
	if int64(size) > l.max/4 {
		return nil
	}
	rec := newWALRecord(len(batch), size)
	for _, w := range batch {
		rec = appendWALEntry(rec, w.doc.id, w.rev.Rev, w.prep.rec)
	}
	return rec
}

// append makes a batch of revisions durable in the revision log. Should
// the log fail, the batch goes to bbolt, and so does every later one until
// the log starts its next generation, which needs everything in it
// checkpointed first: the first batch after a checkpoint tries. Past
// logMax the log starts over the same way; while bbolt refuses the
// checkpoint, records go on past logMax, and the file grows.
func (l *walLog) append(c *committer, batch []*write, rec []byte) error {
	if l.broken || l.file.off+int64(len(rec)) > l.max {
		// While a checkpoint has failed, its retry is the Manager's, not
		// one per batch.
		if !c.store.health.isFailing(partDB) || !c.store.hasPending() {
			if c.store.restartLog(l.file) == nil {
				l.broken = false
			}
		}
		if l.broken {
			return l.bolt(c, batch)
		}
	}
	if err := l.file.append(rec); err != nil {
		// After a failed write or fsync the file's state is unknown:
		// nothing more goes after this record. Replaying it, should it
		// have reached the disk, is harmless.
		l.broken = true
		c.store.health.failed(partLog, "append to the revision log", err)
		return l.bolt(c, batch)
	}
	c.store.health.ok(partLog)
	for _, w := range batch {
		l.heads[w.doc.id] = w.rev.Rev
	}
	c.store.addPending(batch)
	return nil
}

// bolt commits a batch to bbolt (see committer.commitBatch) and keeps the
// heads: a document's, once bbolt has its revision; none, for a write
// that may change its log.
func (l *walLog) bolt(c *committer, batch []*write) error {
	if err := c.commitBatch(batch); err != nil {
		return err // nothing committed: the heads stand
	}
	for _, w := range batch {
		switch {
		case w.doc != nil && w.err == nil:
			l.heads[w.doc.id] = w.rev.Rev
		case w.doc != nil:
			delete(l.heads, w.doc.id)
		case w.foreign:
			clear(l.heads)
		case w.drops != "":
			delete(l.heads, w.drops)
		}
	}
	return nil
}
