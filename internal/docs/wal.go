package docs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"

	"github.com/collab-editor/collab/internal/fsync"
	"github.com/collab-editor/collab/internal/rope"
	bolt "go.etcd.io/bbolt"
)

// The revision log (write-ahead log) makes a group commit of revisions
// durable with one small write and one fdatasync, where a bbolt commit
// rewrites several pages of every document it touches and syncs twice.
// The revisions are copied into the bbolt file later, many per document
// per commit, by a checkpoint (see Store.checkpoint); until then they live
// in the log file and in memory, and every read of the store checkpoints
// first, so a reader always sees every durable revision.
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
// bbolt, the header is rewritten with the next generation and records
// start again after it; the old ones are not erased. Recovery reads the
// records of the header's generation from the start and stops at the
// first that is torn, corrupt or of another generation. A record that is
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

// openWAL opens (creating if needed) the log at path and returns the
// entries of its current generation, in order.
func openWAL(path string) (*walFile, []walEntry, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("docs: open %s: %w", path, err)
	}
	w := &walFile{f: f, zero: make([]byte, 64<<10)}
	entries, err := w.load()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("docs: read %s: %w", path, err)
	}
	return w, entries, nil
}

func (w *walFile) load() ([]walEntry, error) {
	st, err := w.f.Stat()
	if err != nil {
		return nil, err
	}
	w.size = st.Size()
	hdr := make([]byte, walHeaderLen)
	if _, err := w.f.ReadAt(hdr, 0); err != nil || !validHeader(hdr) {
		// New, or a header torn as it was rewritten, which happens only
		// once every record is in bbolt: start the file over.
		if err := w.f.Truncate(0); err != nil {
			return nil, err
		}
		w.size = 0
		if err := w.writeHeader(1); err != nil {
			return nil, err
		}
		// The new file's name must survive a crash too.
		return nil, syncDir(filepath.Dir(w.f.Name()))
	}
	w.gen = binary.BigEndian.Uint64(hdr[16:])
	w.off = walHeaderLen
	var out []walEntry
	rh := make([]byte, walRecordHdr)
	for {
		if _, err := w.f.ReadAt(rh, w.off); err != nil {
			break
		}
		n := int64(binary.BigEndian.Uint32(rh))
		if binary.BigEndian.Uint64(rh[8:]) != w.gen || n == 0 || w.off+walRecordHdr+n > w.size {
			break
		}
		body := make([]byte, 8+n)
		copy(body, rh[8:])
		if _, err := w.f.ReadAt(body[8:], w.off+walRecordHdr); err != nil {
			break
		}
		if crc32.Checksum(body, walCRC) != binary.BigEndian.Uint32(rh[4:]) {
			break
		}
		entries, err := decodeWALPayload(body[8:])
		if err != nil {
			// The checksum held, so this is not a torn write.
			return nil, fmt.Errorf("record at %d: %w", w.off, err)
		}
		out = append(out, entries...)
		w.off += walRecordHdr + n
	}
	return out, nil
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
// just made durable in the log, in order. The store keeps the batch.
func (s *Store) addPending(batch []*write) {
	s.pmu.Lock()
	s.pending = append(s.pending, batch)
	s.pmu.Unlock()
}

// checkpoint copies every revision pending in the log into bbolt.
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
// revisions are no longer pending.
func (s *Store) withPending(fn func(tx *bolt.Tx) error) error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.pmu.Lock()
	batches := s.pending[:len(s.pending):len(s.pending)]
	s.pmu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
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
			return fn(tx)
		}
		return nil
	})
	if err == nil && len(batches) > 0 {
		s.pmu.Lock()
		s.pending = append([][]*write(nil), s.pending[len(batches):]...)
		s.pmu.Unlock()
	}
	return err
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

// view is db.View after a checkpoint: fn sees every durable revision.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if err := s.checkpoint(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// recoverLog opens the revision log at path and copies into bbolt what of
// it bbolt does not have, then starts the log's next generation.
func (s *Store) recoverLog(path string) error {
	w, entries, err := openWAL(path)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			for _, e := range entries {
				if err := s.replay(tx, e); err != nil {
					return fmt.Errorf("docs: replaying revision %d of %q from %s: %w", e.rev, e.doc, path, err)
				}
			}
			return nil
		})
		if err == nil {
			err = w.writeHeader(w.gen + 1)
		}
		if err != nil {
			w.close()
			return err
		}
	}
	s.wal = w
	return nil
}

// replay appends a revision read back from the log unless bbolt has it.
func (s *Store) replay(tx *bolt.Tx, e walEntry) error {
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
// generation: its records are then all in bbolt.
func (s *Store) restartLog(w *walFile) error {
	if err := s.checkpoint(); err != nil {
		return err
	}
	return w.writeHeader(w.gen + 1)
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
