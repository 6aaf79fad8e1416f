package docs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/rope"
	bolt "go.etcd.io/bbolt"
)

// Edit sessions group a document's history the way people remember it:
// a session is a run of consecutive revisions each made within SessionGap
// of the one before it, whoever made them; people typing together make
// one session with several authors, and a pause longer than SessionGap
// starts the next session. Every revision is in exactly one session.
//
// The grouping is kept as an index, so that listing sessions never
// replays the history: one record per session in the document's log
// bucket (under sessPrefix, after the head record, the newest first), which
// appendRun updates in the same transaction as the revisions it appends.
// So the index is always bbolt's log grouped, whatever wrote it (a
// commit, a checkpoint, a replay of the revision log after a crash); a
// read extends bbolt's newest session over the revisions still pending in
// the revision log, as every read does (see view.go).
//
// A session's line counts (+/-) are those of the line diff of its texts
// before and after it (the unified diff from revision First-1 to Last).
// They need the texts, so the commit does not compute them: when a
// session closes (its document gets a revision after a pause), the
// session indexer (see Manager.sessionIndexer) diffs it and keeps the
// counts in doc/<id>/sesslines; a read computes whatever it does not find
// there (the open session, always), and writes nothing.

// SessionGap is the longest pause within an edit session: a revision made
// more than SessionGap after the one before it starts a new session.
const SessionGap = 5 * time.Minute

// maxSessionAuthors bounds the authors a session lists (its record is
// rewritten with each commit of its revisions).
const maxSessionAuthors = 64

// Session is one edit session of a document.
type Session struct {
	First, Last uint64    // its revisions, First to Last inclusive
	Start, End  time.Time // the times of its first and last revisions
	// Authors made its revisions, in the order of their first revision
	// in it (the first 64).
	Authors []string
	// Added and Removed count the lines of the line diff from revision
	// First-1 to Last: what GET /diff?from=First-1&to=Last shows.
	Added, Removed int
	// Labels are the document's labels at revisions of the session.
	Labels []Label
}

var (
	// sessPrefix starts the keys of session records in a log bucket:
	// after keyHead (code that walks back from the head record to the
	// revisions never meets them), before the client marks; then the
	// first revision, inverted, so that the newest session is first.
	sessPrefix = []byte("\xff\xff\xff\xff\xff\xff\xff\xffi")
	// subSessLines holds the line counts of sessions: first revision ->
	// last revision, added, removed (uvarints). An entry counts only
	// while its last revision is the session's.
	subSessLines = []byte("sesslines")
	// keySessionsIndexed is the setting that says every document's
	// sessions are indexed (see indexSessions).
	keySessionsIndexed = settingKey("edit-sessions")
)

func sessKey(first uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(sessPrefix)+8), sessPrefix...), ^first)
}

// sessionRec is a session as the index keeps it; first 0 is none.
type sessionRec struct {
	first, last uint64
	start, end  int64 // Unix milliseconds of the first and last revisions
	authors     []string
}

// next adds revision rev, made at ms (Unix milliseconds) by author, to the
// history whose newest session is s, and returns the newest session after
// it, and the session it closed (first 0: none).
func (s sessionRec) next(rev uint64, ms int64, author string) (cur, closed sessionRec) {
	if s.first == 0 || rev != s.last+1 || ms-s.end > SessionGap.Milliseconds() {
		return sessionRec{first: rev, last: rev, start: ms, end: ms, authors: []string{author}}, s
	}
	s.last, s.end = rev, ms
	if len(s.authors) < maxSessionAuthors && !slices.Contains(s.authors, author) {
		s.authors = append(slices.Clip(s.authors), author)
	}
	return s, sessionRec{}
}

func (s sessionRec) encode() []byte {
	b := make([]byte, 0, 24+len(s.authors)*24)
	b = binary.AppendUvarint(b, s.last-s.first)
	b = binary.AppendUvarint(b, uint64(s.start))
	b = binary.AppendVarint(b, s.end-s.start)
	b = binary.AppendUvarint(b, uint64(len(s.authors)))
	for _, a := range s.authors {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// decodeSession decodes the session record k -> v; ok is false for a key
// that is not one.
func decodeSession(k, v []byte) (s sessionRec, ok bool, err error) {
	if len(k) != len(sessPrefix)+8 || !bytes.HasPrefix(k, sessPrefix) {
		return s, false, nil
	}
	s.first = ^binary.BigEndian.Uint64(k[len(sessPrefix):])
	bad := fmt.Errorf("docs: corrupt session record %d", s.first)
	uv := func() uint64 {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			err = bad
			return 0
		}
		v = v[n:]
		return x
	}
	span := uv()
	start := uv()
	delta, n := binary.Varint(v)
	if n <= 0 || err != nil {
		return s, true, bad
	}
	v = v[n:]
	s.last, s.start, s.end = s.first+span, int64(start), int64(start)+delta
	count := uv()
	if err != nil || count > uint64(len(v)) {
		return s, true, bad
	}
	s.authors = make([]string, 0, count)
	for range count {
		l := uv()
		if err != nil || l > uint64(len(v)) {
			return s, true, bad
		}
		s.authors = append(s.authors, string(v[:l]))
		v = v[l:]
	}
	return s, true, nil
}

// newestSession returns the newest session record of a log bucket.
func newestSession(log *kv.Bucket) (sessionRec, bool, error) {
	k, v := log.Cursor().Seek(sessPrefix)
	return decodeSession(k, v)
}

// recordMeta reads the time and author of a log record (encodeRecord)
// without its operation.
func recordMeta(rev uint64, data []byte) (ms int64, author string, err error) {
	t, n := binary.Uvarint(data)
	if n <= 0 {
		return 0, "", corruptRecord(rev)
	}
	l, m := binary.Uvarint(data[n:])
	if m <= 0 || uint64(len(data)-n-m) < l {
		return 0, "", corruptRecord(rev)
	}
	return int64(t), string(data[n+m : n+m+int(l)]), nil
}

// scanSessions groups bbolt's log of a document, revisions 1 to head,
// calling keep with each session, the newest last.
func scanSessions(log *kv.Bucket, head uint64, keep func(sessionRec) error) error {
	var cur sessionRec
	c := log.Cursor()
	for k, v := c.Seek(revKey(1)); isRev(k); k, v = c.Next() {
		rev := binary.BigEndian.Uint64(k)
		if rev > head {
			break
		}
		ms, author, err := recordMeta(rev, v)
		if err != nil {
			return err
		}
		var closed sessionRec
		if cur, closed = cur.next(rev, ms, author); closed.first != 0 {
			if err := keep(closed); err != nil {
				return err
			}
		}
	}
	if cur.first != 0 {
		return keep(cur)
	}
	return nil
}

// sessionWriter keeps a document's session index up to date as appendRun
// appends revisions: it writes a session's record when the session
// closes, and the newest one once, at flush.
type sessionWriter struct {
	log *kv.Bucket
	cur sessionRec
}

// openSessions starts updating the session index of log, whose head is
// head. A log without one (a document older than the index, which
// indexSessions had not reached) is indexed first.
func openSessions(log *kv.Bucket, head uint64) (*sessionWriter, error) {
	sw := &sessionWriter{log: log}
	cur, ok, err := newestSession(log)
	switch {
	case err != nil:
		return nil, err
	case ok:
		sw.cur = cur
	case head > 0:
		err = scanSessions(log, head, func(s sessionRec) error {
			sw.cur = s
			return log.Put(sessKey(s.first), s.encode())
		})
	}
	return sw, err
}

// add groups revision r.
func (sw *sessionWriter) add(r Revision) error {
	var closed sessionRec
	sw.cur, closed = sw.cur.next(r.Rev, r.Time.UnixMilli(), r.Author)
	if closed.first != 0 {
		return sw.log.Put(sessKey(closed.first), closed.encode())
	}
	return nil
}

// flush writes the newest session's record.
func (sw *sessionWriter) flush() error {
	if sw.cur.first == 0 {
		return nil
	}
	return sw.log.Put(sessKey(sw.cur.first), sw.cur.encode())
}

// indexSessions indexes the sessions of every document of a file written
// before the index existed, one transaction per document (a crash part
// way is finished at the next open), then records that it is done.
func indexSessions(db *bolt.DB) error {
	var done bool
	if err := viewDB(db, func(tx *kv.Tx) error {
		done = tx.Bucket(bucketLinks).Get(keySessionsIndexed) != nil
		return nil
	}); err != nil || done {
		return err
	}
	var ids [][]byte
	err := viewDB(db, func(tx *kv.Tx) error {
		return tx.Bucket(bucketLog).ForEachBucket(func(k []byte) error {
			log := tx.Bucket(bucketLog).Bucket(k)
			h, _ := readHead(log)
			if _, ok, err := newestSession(log); err != nil || !ok && h.rev > 0 {
				ids = append(ids, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := updateDB(db, func(tx *kv.Tx) error {
			log := tx.Bucket(bucketLog).Bucket(id)
			h, _ := readHead(log)
			_, err := openSessions(log, h.rev)
			return err
		})
		if err != nil {
			return fmt.Errorf("indexing the edit sessions of %q: %w", id, err)
		}
	}
	return updateDB(db, func(tx *kv.Tx) error { return tx.Bucket(bucketLinks).Put(keySessionsIndexed, []byte{1}) })
}

// sessionTail returns the newest sessions of the document as d sees it,
// the newest first: bbolt's newest session, as the pending revisions
// extend it, and the sessions they start. Every older session is in
// bbolt, before the last one returned.
func (d docView) sessionTail() ([]sessionRec, error) {
	cur, ok, err := newestSession(d.log)
	if err != nil {
		return nil, err
	}
	var tail []sessionRec // oldest first
	if !ok && d.h.rev > 0 {
		// Not indexed yet (see openSessions): group bbolt's log here.
		err := scanSessions(d.log, d.h.rev, func(s sessionRec) error {
			tail = append(tail, s)
			return nil
		})
		if err != nil {
			return nil, err
		}
		cur, tail = tail[len(tail)-1], tail[:len(tail)-1]
	}
	for _, w := range d.ov {
		var closed sessionRec
		r := durableRev(w)
		if cur, closed = cur.next(r.Rev, r.Time.UnixMilli(), r.Author); closed.first != 0 {
			tail = append(tail, closed)
		}
	}
	if cur.first != 0 {
		tail = append(tail, cur)
	}
	slices.Reverse(tail)
	return tail, nil
}

// sessions returns up to limit sessions that start before revision before,
// the newest first.
func (d docView) sessions(before uint64, limit int) ([]sessionRec, error) {
	tail, err := d.sessionTail()
	if err != nil || len(tail) == 0 {
		return nil, err
	}
	var out []sessionRec
	for _, s := range tail {
		if len(out) == limit {
			return out, nil
		}
		if s.first < before {
			out = append(out, s)
		}
	}
	// Older sessions: bbolt's records of sessions before the oldest of
	// the tail (which may stand for one of them, extended).
	from := min(before, tail[len(tail)-1].first)
	if from <= 1 {
		return out, nil
	}
	c := d.log.Cursor()
	for k, v := c.Seek(sessKey(from - 1)); len(out) < limit; k, v = c.Next() {
		s, ok, err := decodeSession(k, v)
		if err != nil || !ok {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// sessionAt returns the session that holds revision rev, and whether a
// later session exists (it is closed).
func (d docView) sessionAt(rev uint64) (s sessionRec, closed bool, err error) {
	tail, err := d.sessionTail()
	if err != nil || len(tail) == 0 || rev == 0 || rev > d.head() {
		return s, false, err
	}
	for i, t := range tail {
		if t.first <= rev {
			return t, i > 0, nil
		}
	}
	k, v := d.log.Cursor().Seek(sessKey(rev))
	s, ok, err := decodeSession(k, v)
	if err == nil && !ok {
		err = fmt.Errorf("docs: no session holds revision %d of %q", rev, d.id)
	}
	return s, true, err
}

// lineCounts is a session's line counts, for its last revision.
type lineCounts struct {
	last           uint64
	added, removed int
}

func (c lineCounts) encode() []byte {
	b := binary.AppendUvarint(nil, c.last)
	b = binary.AppendUvarint(b, uint64(c.added))
	return binary.AppendUvarint(b, uint64(c.removed))
}

func decodeLineCounts(v []byte) (c lineCounts, ok bool) {
	var x [3]uint64
	for i := range x {
		n := 0
		if x[i], n = binary.Uvarint(v); n <= 0 {
			return c, false
		}
		v = v[n:]
	}
	return lineCounts{x[0], int(x[1]), int(x[2])}, true
}

// countLines returns the lines the line diff from a to b removes and
// adds: the '-' and '+' lines of its unified diff.
func countLines(a, b string) (added, removed int) {
	lines := func(s string) int {
		n := strings.Count(s, "\n")
		if s != "" && !strings.HasSuffix(s, "\n") {
			n++
		}
		return n
	}
	for _, e := range udiff.Lines(a, b) {
		removed += lines(a[e.Start:e.End])
		added += lines(e.New)
	}
	return added, removed
}

// textsAt reads the texts at revisions revs (ascending, at most the head):
// each from the nearest snapshot, or, when nearer, on from the one before.
func (d docView) textsAt(revs []uint64) (map[uint64]rope.Rope, error) {
	out := make(map[uint64]rope.Rope, len(revs))
	b, err := docBucket(d.v.tx, d.id)
	if err != nil {
		return nil, err
	}
	snaps := b.Bucket(subSnap).Cursor()
	var prev uint64
	var prevText rope.Rope
	have := false
	for _, rev := range revs {
		if _, ok := out[rev]; ok {
			continue
		}
		if _, pending := d.pendingAt(rev); !pending && have && rev > prev {
			k, _ := snaps.Seek(revKey(rev))
			if k == nil || binary.BigEndian.Uint64(k) > rev {
				k, _ = snaps.Prev()
			}
			if k != nil && binary.BigEndian.Uint64(k) <= prev {
				text := prevText
				var applyErr error
				err := d.each(prev, rev, func(r Revision) bool {
					text, applyErr = r.Op.ApplyRope(text)
					return applyErr == nil
				})
				if err == nil {
					err = applyErr
				}
				if err != nil {
					return nil, err
				}
				out[rev], prev, prevText = text, rev, text
				continue
			}
		}
		text, err := d.text(rev)
		if err != nil {
			return nil, err
		}
		out[rev], prev, prevText, have = text, rev, text, true
	}
	return out, nil
}

// Sessions returns up to limit edit sessions of a document that start
// before revision before (0: all), the newest first, with their line
// counts and labels.
func (m *Manager) Sessions(id string, before uint64, limit int) ([]Session, error) {
	if before == 0 {
		before = ^uint64(0)
	}
	var (
		recs   []sessionRec
		counts []lineCounts
		labels []Label
		texts  map[uint64]rope.Rope
	)
	err := m.store.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		if recs, err = d.sessions(before, limit); err != nil {
			return err
		}
		b, err := docBucket(v.tx, id)
		if err != nil {
			return err
		}
		if labels, err = readLabels(b); err != nil {
			return err
		}
		counts = make([]lineCounts, len(recs))
		cache := b.Bucket(subSessLines)
		var need []uint64
		for i, s := range recs {
			if cache != nil {
				if c, ok := decodeLineCounts(cache.Get(revKey(s.first))); ok && c.last == s.last {
					counts[i] = c
					continue
				}
			}
			need = append(need, s.first-1, s.last)
		}
		slices.Sort(need)
		texts, err = d.textsAt(need)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(recs))
	for i, s := range recs {
		c := counts[i]
		if c.last != s.last {
			c.added, c.removed = countLines(texts[s.first-1].String(), texts[s.last].String())
		}
		out[i] = Session{First: s.first, Last: s.last, Authors: s.authors, Added: c.added, Removed: c.removed,
			Start: time.UnixMilli(s.start).UTC(), End: time.UnixMilli(s.end).UTC(), Labels: []Label{}}
		for _, l := range labels {
			if l.Rev >= s.first && l.Rev <= s.last {
				out[i].Labels = append(out[i].Labels, l)
			}
		}
	}
	return out, nil
}

// sessionJob asks the session indexer for the line counts of the session
// that holds revision rev of document id, which has closed.
type sessionJob struct {
	id  string
	rev uint64
}

// testHoldSessionJobs, set by a test, drops the session indexer's jobs
// (its writes would checkpoint the revision log).
var testHoldSessionJobs atomic.Bool

// sessionClosed tells the session indexer that the session holding
// revision rev of document id closed.
func (m *Manager) sessionClosed(id string, rev uint64) {
	if testHoldSessionJobs.Load() {
		return
	}
	select {
	case m.sessionJobs <- sessionJob{id, rev}:
	default: // the indexer is behind: reads count that session themselves
	}
}

// sessionIndexer keeps the line counts of closed sessions, off the edit
// path: each time a revision closes its document's session (see
// Manager.appendWrite), it diffs that session and stores its counts.
func (m *Manager) sessionIndexer() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case j := <-m.sessionJobs:
			// An error means the document is gone, or the disk refuses
			// the write: the reads count the session themselves.
			_ = m.indexSessionLines(j.id, j.rev)
			m.noteIndexed()
		}
	}
}

// indexSessionLines stores the line counts of the closed session that
// holds revision rev.
func (m *Manager) indexSessionLines(id string, rev uint64) error {
	var (
		s     sessionRec
		texts map[uint64]rope.Rope
	)
	err := m.store.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		var closed bool
		if s, closed, err = d.sessionAt(rev); err != nil || !closed {
			s.first = 0
			return err
		}
		texts, err = d.textsAt([]uint64{s.first - 1, s.last})
		return err
	})
	if err != nil || s.first == 0 {
		return err
	}
	c := lineCounts{last: s.last}
	c.added, c.removed = countLines(texts[s.first-1].String(), texts[s.last].String())
	return m.commit.doLocal("the line counts of an edit session", func(tx *kv.Tx) error {
		b, err := docBucket(tx, id)
		if err != nil {
			return nil // deleted meanwhile
		}
		cache, err := b.CreateBucketIfNotExists(subSessLines)
		if err != nil {
			return err
		}
		return cache.Put(revKey(s.first), c.encode())
	})
}
