package docs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"

	"github.com/collab-editor/collab/internal/kv"
)

// Blame checkpoints: doc/<id>/blame maps a revision to the blame of the
// text at it, so that blame replays the log from the newest one at or
// before the revision asked for, not from the start. The blame indexer
// (Manager.indexer) writes them, off the edit path and never from a
// read: every SnapshotEvery revisions after the one before, or, after a
// checkpoint of more than SnapshotEvery*blameRevBytes bytes, one revision
// per blameRevBytes of it, so that no document's checkpoints cost more
// than blameRevBytes per revision. A checkpoint is
//
//	format   1 byte, blameFormat
//	fp       8 bytes: revFingerprint of its revision
//	authors  uvarint count, then each: uvarint length, bytes
//	lines    uvarint count, then each: uvarint code points (with its
//	         '\n'), zigzag uvarint revision minus the line before's,
//	         uvarint author (an index into authors)
//	crc      4 bytes: the CRC-32C of all before it, big-endian
//
// A checkpoint is used only if it is sound: its CRC holds, it decodes,
// and it fits its revision as the log has it (the same fingerprint, and
// as many code points as that revision's text). Otherwise blame falls
// back to the checkpoint before it, or to a replay from the first
// revision: a missing or damaged checkpoint, or one left behind by
// revisions lost to a recovery and written again, costs time, never a
// wrong answer.

const (
	blameFormat = 1
	// blameRevBytes is the most bytes a document's blame checkpoints
	// cost per revision. A replayed revision costs about 2 µs whatever
	// the text's size, so blame of a 5 MB text of 176,000 lines, whose
	// checkpoints are 540 KB, one every 8,400 revisions, replays at most
	// some 17 ms of them (BenchmarkBlameBig).
	blameRevBytes = 64
)

// blameInterval is how many revisions after a checkpoint of size bytes
// (none: 0) the next is due.
func blameInterval(every, size int) uint64 { return uint64(max(every, size/blameRevBytes)) }

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// revFingerprint identifies a revision well enough to tell it from
// another revision written under the same number after a recovery.
func revFingerprint(r Revision) uint64 {
	b := make([]byte, 0, 4*binary.MaxVarintLen64+len(r.Author)+len(r.OpID))
	b = binary.AppendUvarint(b, uint64(r.Time.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(r.Op.BaseLen()))
	b = binary.AppendUvarint(b, uint64(r.Op.TargetLen()))
	b = binary.AppendUvarint(b, uint64(len(r.Author)))
	b = append(b, r.Author...)
	b = binary.AppendUvarint(b, uint64(len(r.OpID)))
	b = append(b, r.OpID...)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// encodeBlame encodes t, the blame at revision r, as a checkpoint. It
// keeps the authors t's lines name, in the order they first do.
func encodeBlame(t *blameText, r Revision) []byte {
	remap := make([]int32, len(t.authors))
	for i := range remap {
		remap[i] = -1
	}
	var used []uint32
	for _, c := range t.chunks {
		for _, l := range c {
			if remap[l.who] < 0 {
				remap[l.who] = int32(len(used))
				used = append(used, l.who)
			}
		}
	}
	lines := t.lines()
	buf := make([]byte, 0, 16+5*lines)
	buf = append(buf, blameFormat)
	buf = binary.BigEndian.AppendUint64(buf, revFingerprint(r))
	buf = binary.AppendUvarint(buf, uint64(len(used)))
	for _, who := range used {
		buf = binary.AppendUvarint(buf, uint64(len(t.authors[who])))
		buf = append(buf, t.authors[who]...)
	}
	buf = binary.AppendUvarint(buf, uint64(lines))
	prev := uint64(0)
	for _, c := range t.chunks {
		for _, l := range c {
			buf = binary.AppendUvarint(buf, uint64(l.n))
			buf = binary.AppendVarint(buf, int64(l.rev-prev))
			buf = binary.AppendUvarint(buf, uint64(remap[l.who]))
			prev = l.rev
		}
	}
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
}

// errBadCheckpoint is the error of a blame checkpoint that is not sound.
var errBadCheckpoint = errors.New("docs: damaged or stale blame checkpoint")

// checkpointFits reports whether data, a checkpoint stored under the
// revision r is, is intact and was taken at r: its CRC, format and
// fingerprint, without decoding its lines.
func checkpointFits(data []byte, r Revision) bool {
	if len(data) < 1+8+4 {
		return false
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	return crc32.Checksum(body, crcTable) == sum && body[0] == blameFormat &&
		binary.BigEndian.Uint64(body[1:9]) == revFingerprint(r)
}

// decodeBlame decodes a checkpoint stored under revision r, if sound.
func decodeBlame(data []byte, r Revision) (*blameText, error) {
	if !checkpointFits(data, r) {
		return nil, errBadCheckpoint
	}
	p := data[9 : len(data)-4]
	bad := false
	uvarint := func() uint64 {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			bad = true
			return 0
		}
		p = p[k:]
		return v
	}
	n := uvarint()
	if n == 0 || n > uint64(len(p)) {
		return nil, errBadCheckpoint
	}
	authors := make([]string, n)
	for i := range authors {
		l := uvarint()
		if bad || l > uint64(len(p)) {
			return nil, errBadCheckpoint
		}
		authors[i], p = string(p[:l]), p[l:]
	}
	n = uvarint()
	if bad || n == 0 || n > uint64(len(p))/3 {
		return nil, errBadCheckpoint
	}
	lines := make([]blameLine, n)
	rev, total := uint64(0), 0
	for i := range lines {
		cp := uvarint()
		d, k := binary.Varint(p)
		if bad || k <= 0 {
			return nil, errBadCheckpoint
		}
		p = p[k:]
		rev += uint64(d)
		who := uvarint()
		// Every line but the last ends in '\n'; none was written after r.
		if bad || who >= uint64(len(authors)) || rev > r.Rev || cp > uint64(r.Op.TargetLen()) || cp == 0 && i < len(lines)-1 {
			return nil, errBadCheckpoint
		}
		lines[i] = blameLine{n: int(cp), rev: rev, who: uint32(who)}
		total += int(cp)
	}
	if len(p) != 0 || total != r.Op.TargetLen() {
		return nil, errBadCheckpoint
	}
	return blameTextOf(lines, authors), nil
}

// blameState is a replay of a document's blame.
type blameState struct {
	t *blameText
	// at is the checkpoint the replay started from (0 for none), size its
	// bytes, and bad the checkpoints after it, up to the revision asked
	// for, found not sound.
	at   uint64
	size int
	bad  []uint64
	// For the indexer: the checkpoints due as it replays, their bytes,
	// and the newest checkpoint (at, then each saved one) and its size;
	// more is set when it stopped at its batch's bytes with more due.
	saves      []blameSave
	savedBytes int
	last       uint64
	lastBytes  int
	more       bool
}

type blameSave struct {
	rev  uint64
	data []byte
}

// startBlame returns the blame of document d at its newest sound
// checkpoint in bucket at or before rev, or at revision 0.
func startBlame(d docView, bucket *kv.Bucket, rev uint64) (*blameState, error) {
	st := &blameState{}
	c := bucket.Cursor()
	k, v := c.Seek(revKey(rev))
	if k == nil || binary.BigEndian.Uint64(k) > rev {
		k, v = c.Prev()
	}
	for ; k != nil; k, v = c.Prev() {
		at := binary.BigEndian.Uint64(k)
		r, ok, err := d.revision(at)
		if err != nil {
			return nil, err
		}
		if ok {
			if t, err := decodeBlame(v, r); err == nil {
				st.t, st.at, st.size = t, at, len(v)
				break
			}
		}
		st.bad = append(st.bad, at)
	}
	if st.t == nil {
		st.t = newBlameText()
	}
	st.last, st.lastBytes = st.at, st.size
	return st, nil
}

// replayBlame returns the blame of document d at revision rev, replayed
// from its newest sound checkpoint in bucket at or before rev. With batch
// set it is the indexer's replay instead: it encodes the checkpoints due
// up to rev as it goes, and stops at the last of them, or once they hold
// batch bytes (the blame it returns is at that revision, not rev).
func replayBlame(d docView, bucket *kv.Bucket, rev uint64, every, batch int) (*blameState, error) {
	st, err := startBlame(d, bucket, rev)
	if err != nil {
		return nil, err
	}
	return st, st.replay(d, rev, every, batch)
}

// replay replays d's revisions after st.at up to rev into st.t (see
// replayBlame).
func (st *blameState) replay(d docView, rev uint64, every, batch int) error {
	index := batch > 0
	due := func() uint64 { return st.last + blameInterval(every, st.lastBytes) }
	if index && due() > rev {
		return nil
	}
	var err error
	each := d.each(st.at, rev, func(r Revision) bool {
		if err = st.t.edit(r); err != nil {
			return false
		}
		if !index || r.Rev < due() {
			return true
		}
		data := encodeBlame(st.t, r)
		st.saves = append(st.saves, blameSave{r.Rev, data})
		st.savedBytes += len(data)
		st.last, st.lastBytes = r.Rev, len(data)
		st.more = due() <= rev && st.savedBytes >= batch
		return due() <= rev && !st.more
	})
	if err != nil {
		return fmt.Errorf("replaying the blame of %q: %w", d.id, err)
	}
	return each
}

// blameJob asks the indexer to bring document id's blame checkpoints up
// to revision rev.
type blameJob struct {
	id  string
	rev uint64
}

// blameSaveBytes is about the most checkpoint bytes the indexer writes
// in one transaction: a document indexed from its first revision (one
// written before every document had checkpoints) is written in several.
const blameSaveBytes = 4 << 20

// blameWrite is what the indexer writes of one document: the checkpoints
// due, and the revisions of those found not sound, to delete.
type blameWrite struct {
	id    string
	dels  []uint64
	saves []blameSave
	bytes int
}

// indexer writes blame checkpoints as documents grow, off the edit path
// and the commit goroutine: each time a log reaches a multiple of
// SnapshotEvery, and when a blame found a document's checkpoints missing
// or damaged, it brings them up to that revision. It is their only
// writer, and writes in transactions of its own, each with what the jobs
// queued at the time save (about blameSaveBytes at most): when many
// documents reach a checkpoint at once, one transaction and one fsync.
func (m *Manager) indexer() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case j := <-m.index:
			m.indexJobs(j)
			m.noteIndexed()
		}
	}
}

// indexJobs runs job j and those queued behind it (see indexer). An error
// means a document is gone, or the disk refuses the write: the next job
// of the document covers what this one would have written.
func (m *Manager) indexJobs(j blameJob) {
	var (
		ws    []blameWrite
		bytes int
	)
	flush := func() {
		if len(ws) > 0 {
			_ = m.store.saveBlame(ws)
		}
		ws, bytes = nil, 0
	}
	defer flush()
	for {
		w, more, err := m.planBlame(j.id, j.rev, blameSaveBytes)
		if err == nil && w != nil {
			ws, bytes = append(ws, *w), bytes+w.bytes
		}
		if more || bytes >= blameSaveBytes {
			flush()
		}
		if m.closing() {
			return
		}
		if more {
			continue // the rest of j, from what was just written
		}
		select {
		case j = <-m.index:
		default:
			return
		}
	}
}

// noteIndexed tells a test waiting on m.indexed that an indexer finished
// a job (see waitIndexed).
func (m *Manager) noteIndexed() {
	select {
	case m.indexed <- struct{}{}:
	default: // one is pending already: it wakes the waiter
	}
}

// closing reports whether Close has begun.
func (m *Manager) closing() bool {
	select {
	case <-m.stop:
		return true
	default:
		return false
	}
}

// indexBlame writes the blame checkpoints of document id due up to
// revision rev (at most its head), replaying from its newest sound
// checkpoint, and deletes, up to rev, those found not sound: the
// indexer's work for one document, done at once (for tests, and for
// benchmarks that write a log directly).
func (m *Manager) indexBlame(id string, rev uint64) error {
	for {
		w, more, err := m.planBlame(id, rev, blameSaveBytes)
		if err == nil && w != nil {
			err = m.store.saveBlame([]blameWrite{*w})
		}
		if err != nil || !more || m.closing() {
			return err
		}
	}
}

// planBlame returns what the indexer is to write of document id's blame
// checkpoints up to revision rev (nil for nothing), with about batch
// bytes of checkpoints at most, and whether more are due after those.
func (m *Manager) planBlame(id string, rev uint64, batch int) (w *blameWrite, more bool, err error) {
	every := m.cfg.SnapshotEvery
	var st *blameState
	err = m.store.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		rev = min(rev, d.head())
		b, err := docBucket(v.tx, id)
		if err != nil {
			return err
		}
		bucket := b.Bucket(subBlame)
		if blameCurrent(d, bucket, rev, every) {
			return nil
		}
		st, err = replayBlame(d, bucket, rev, every, batch)
		return err
	})
	if err != nil || st == nil || len(st.saves)+len(st.bad) == 0 {
		return nil, false, err
	}
	return &blameWrite{id: id, dels: st.bad, saves: st.saves, bytes: st.savedBytes}, st.more, nil
}

// blameCurrent reports whether document d's newest checkpoint in bucket
// at or before rev is intact and the next is not due by rev, which the
// indexer checks without decoding one.
func blameCurrent(d docView, bucket *kv.Bucket, rev uint64, every int) bool {
	c := bucket.Cursor()
	k, v := c.Seek(revKey(rev))
	if k == nil || binary.BigEndian.Uint64(k) > rev {
		k, v = c.Prev()
	}
	if k == nil {
		return rev < blameInterval(every, 0)
	}
	at := binary.BigEndian.Uint64(k)
	r, ok, err := d.revision(at)
	return err == nil && ok && checkpointFits(v, r) && at+blameInterval(every, len(v)) > rev
}

// saveBlame writes the indexer's blame checkpoints and deletes, in a
// transaction of its own; a document deleted meanwhile is left alone.
// While the database file refuses writes it does nothing: the indexer's
// next job tries again.
func (s *Store) saveBlame(ws []blameWrite) error {
	if s.health.isFailing(partDB) {
		return s.health.refusal(partDB)
	}
	// Every write to bbolt holds ckMu (see withPending).
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	return updateDB(s.db, func(tx *kv.Tx) error {
		for _, w := range ws {
			b, err := docBucket(tx, w.id)
			if err != nil {
				continue
			}
			bucket := b.Bucket(subBlame)
			bucket.SetFillPercent(appendFill)
			for _, rev := range w.dels {
				if err := bucket.Delete(revKey(rev)); err != nil {
					return err
				}
			}
			for _, sv := range w.saves {
				if err := bucket.Put(revKey(sv.rev), sv.data); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
