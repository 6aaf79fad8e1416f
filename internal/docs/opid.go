package docs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// Exactly-once needs, for each op id, whether it was applied and at which
// revision. Realtime clients name ops "<client>:<sequence>" with a decimal
// sequence that grows with each new op, and keep at most one op in flight:
// a resend is always of the client's newest op. So for those ids one record
// per client suffices — its newest sequence and that op's revision — kept
// in the document's log bucket after the revisions (see keyHead: usually
// in the leaf the revision's append rewrites anyway) and cached in memory.
//
// A write under an idempotency key (a Key: the REST API's Idempotency-Key)
// has the op id "~<scope>/<name>#<fingerprint>", the fingerprint naming
// the request (see Manager.Put). Client ids are [A-Za-z0-9_-] and keys
// have no ':', so the two never meet. Keys are independent of each other:
// no order, no sequence. The op id is in the revision's own record, so the
// key, its request and its revision are durable in the same commit; the
// opid bucket indexes the key part ("~<scope>/<name>") to the newest
// revision written under it, and, under "\x00"+rev, each indexed revision
// to its key part, oldest first, so that keys are forgotten after KeyTTL.
// Any other op id is indexed whole in the opid bucket.

// KeyTTL is how long an idempotency key answers for its first request: a
// retry within KeyTTL of the write gets the write's revision; later, the
// key is forgotten (its index entries are removed by a later keyed write's
// commit) and a request under it is a new one. Stripe keeps keys as long.
const KeyTTL = 24 * time.Hour

// A Key names a write for idempotency: its caller's Name, unique within
// Scope, which says who may reuse it (for example the credential the
// caller showed). The zero Key names nothing.
type Key struct {
	Scope string // 1-64 of A-Z a-z 0-9 _ -
	Name  string // 1-255 of A-Z a-z 0-9 _ -
}

// check reports a key that is not of the accepted form (ErrInvalid).
func (k Key) check() error {
	if !ValidID(k.Name, 255) {
		return fmt.Errorf("%w: an idempotency key is 1-255 of A-Z a-z 0-9 _ -", ErrInvalid)
	}
	if !ValidID(k.Scope, 64) {
		return fmt.Errorf("%w: an idempotency key's scope is 1-64 of A-Z a-z 0-9 _ -", ErrInvalid)
	}
	return nil
}

// ValidID accepts ids that clients choose (client ids, idempotency keys):
// 1 to max of [A-Za-z0-9_-], so that they never hold the separators of the
// op ids made of them.
func ValidID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// opID is the op id of the request with fingerprint fp under k.
func (k Key) opID(fp string) string { return "~" + k.Scope + "/" + k.Name + "#" + fp }

// splitKeyed splits a keyed op id into its key part, "~<scope>/<name>",
// and the request's fingerprint.
func splitKeyed(opID string) (key, fp string, ok bool) {
	if !strings.HasPrefix(opID, "~") {
		return "", "", false
	}
	return strings.Cut(opID, "#")
}

// clientMark is a client's newest applied op.
type clientMark struct {
	seq, rev uint64
}

// subClients held the marks in the earlier layout (see moveLogs).
var subClients = []byte("clients")

// markKey is the key of a client's mark in the log bucket.
func markKey(client string) []byte {
	return append(append(make([]byte, 0, len(markPrefix)+len(client)), markPrefix...), client...)
}

// parseOpID splits "<client>:<sequence>" with a decimal sequence.
func parseOpID(id string) (client string, seq uint64, ok bool) {
	i := strings.LastIndexByte(id, ':')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || id[i+1] == '+' {
		return "", 0, false
	}
	return id[:i], seq, true
}

// readMark reads a client's mark from a log bucket.
func readMark(log *kv.Bucket, client string) (clientMark, bool) {
	v := log.Get(markKey(client))
	if len(v) != 16 {
		return clientMark{}, false
	}
	return clientMark{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, true
}

// writeMark writes a client's mark to a log bucket.
func writeMark(log *kv.Bucket, client string, m clientMark) error {
	v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), m.seq), m.rev)
	return log.Put(markKey(client), v)
}

// indexOpID indexes an op id that is not of a client's "<client>:<seq>"
// form (those are marks) under the revision rev of document id, whose
// record is in the log already. Called in the commit. A keyed op id is
// indexed by its key part, and the commit forgets the keys written more
// than KeyTTL before rev.
func indexOpID(tx *kv.Tx, id, opID string, rev uint64) error {
	b, log, err := buckets(tx, id)
	if err != nil {
		return err
	}
	index := b.Bucket(subOpID)
	key, _, keyed := splitKeyed(opID)
	if !keyed {
		return index.Put([]byte(opID), revKey(rev))
	}
	if err := index.Put([]byte(key), revKey(rev)); err != nil {
		return err
	}
	if err := index.Put(keyAgeKey(rev), []byte(key)); err != nil {
		return err
	}
	now, err := revisionTime(log, rev)
	if err != nil {
		return err
	}
	// The oldest keyed revisions come first: forget those past KeyTTL,
	// and their keys unless a newer revision took them over.
	var old [][2][]byte
	c := index.Cursor()
	for k, v := c.Seek(keyAgeKey(0)); len(k) == 9 && k[0] == 0; k, v = c.Next() {
		r := binary.BigEndian.Uint64(k[1:])
		t, err := revisionTime(log, r)
		if err != nil {
			return err
		}
		if now.Sub(t) < KeyTTL {
			break
		}
		old = append(old, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
	}
	for _, o := range old {
		if err := index.Delete(o[0]); err != nil {
			return err
		}
		if bytes.Equal(index.Get(o[1]), o[0][1:]) {
			if err := index.Delete(o[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyAgeKey is the key, in the opid bucket, of keyed revision rev's entry
// in the order of age.
func keyAgeKey(rev uint64) []byte { return append([]byte{0}, revKey(rev)...) }

// revisionTime reads the time of revision rev from a log bucket.
func revisionTime(log *kv.Bucket, rev uint64) (time.Time, error) {
	r, err := decodeRecord(rev, log.Get(revKey(rev)))
	return r.Time, err
}

// keyedRevision returns the newest revision written under a key part
// ("~<scope>/<name>"), if its key is still indexed or the revision is
// pending in the log.
func (s *Store) keyedRevision(id, key string) (r Revision, ok bool, err error) {
	err = s.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		r, ok, err = d.keyed(key)
		return err
	})
	return r, ok, err
}

// keyed is keyedRevision in a view: the newest revision pending in the log
// under the key, or else the one bbolt's opid bucket indexes.
func (d docView) keyed(key string) (Revision, bool, error) {
	for i := len(d.ov) - 1; i >= 0; i-- {
		if k, _, ok := splitKeyed(d.ov[i].rev.OpID); ok && k == key {
			return durableRev(d.ov[i]), true, nil
		}
	}
	b, err := docBucket(d.v.tx, d.id)
	if err != nil {
		return Revision{}, false, err
	}
	at := b.Bucket(subOpID).Get([]byte(key))
	if len(at) != 8 {
		return Revision{}, false, nil
	}
	r, err := decodeRecord(binary.BigEndian.Uint64(at), d.log.Get(at))
	return r, err == nil, err
}

// mark returns a client's newest applied op: the newest revision pending
// in the log from it, or else its mark in bbolt.
func (d docView) mark(client string) (clientMark, bool) {
	for i := len(d.ov) - 1; i >= 0; i-- {
		if c, seq, ok := parseOpID(d.ov[i].rev.OpID); ok && c == client {
			return clientMark{seq: seq, rev: d.ov[i].rev.Rev}, true
		}
	}
	return readMark(d.log, client)
}

// pendingOpID returns the revision pending in the log whose op id is opID.
func (d docView) pendingOpID(opID string) (uint64, bool) {
	for i := len(d.ov) - 1; i >= 0; i-- {
		if d.ov[i].rev.OpID == opID {
			return d.ov[i].rev.Rev, true
		}
	}
	return 0, false
}

// appliedKey is applied for a keyed op id: the newest revision written
// under its key within KeyTTL, if any, answers it when it is of the same
// request, and fails it with ErrKeyReused when of another. The newest
// revisions are in memory (d.opids holds the op ids of those in hist;
// there are few keyed ones), older ones in the revision log or the opid
// bucket (see keyedRevision). Called with mu held.
func (d *Document) appliedKey(opID string, rd *diskReads) (uint64, bool, error) {
	key, _, _ := splitKeyed(opID)
	var r Revision
	found := false
	start := d.histStart()
	for id, rev := range d.opids {
		if k, _, ok := splitKeyed(id); ok && k == key && rev >= start && rev-start < uint64(len(d.hist)) && (!found || rev > r.Rev) {
			r, found = d.hist[rev-start], true
		}
	}
	if !found {
		if !rd.keyRead {
			rd.need = func() (err error) {
				rd.key, rd.keyFound, err = d.m.store.keyedRevision(d.id, key)
				rd.keyRead = true
				return err
			}
			return 0, false, nil
		}
		r, found = rd.key, rd.keyFound
	}
	if !found || d.m.cfg.Now().Sub(r.Time) >= KeyTTL {
		return 0, false, nil
	}
	if r.OpID != opID {
		return 0, false, fmt.Errorf("%w: the key was used for revision %d, by a request with another text or If-Match, less than %.0f hours ago", ErrKeyReused, r.Rev, KeyTTL.Hours())
	}
	return r.Rev, true, nil
}

// clientMark returns a client's newest applied op from disk (the log's
// pending revisions, then bbolt).
func (s *Store) clientMark(id, client string) (m clientMark, ok bool, err error) {
	err = s.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		m, ok = d.mark(client)
		return nil
	})
	return m, ok, err
}

// LookupOpID returns the revision at which the op id was applied. For a
// client's older ops, whose revision is not indexed, it searches the log
// backwards (slow; for tools and tests). A keyed op id is found while its
// key is indexed (see KeyTTL). Revisions still pending in the revision
// log are found like the others.
func (s *Store) LookupOpID(id, opID string) (rev uint64, ok bool, err error) {
	err = s.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		if key, _, keyed := splitKeyed(opID); keyed {
			r, found, err := d.keyed(key)
			if found && r.OpID == opID {
				rev, ok = r.Rev, true
			}
			return err
		}
		if rev, ok = d.pendingOpID(opID); ok {
			return nil
		}
		client, seq, isClient := parseOpID(opID)
		if !isClient {
			b, err := docBucket(v.tx, id)
			if err != nil {
				return err
			}
			if val := b.Bucket(subOpID).Get([]byte(opID)); len(val) == 8 {
				rev, ok = binary.BigEndian.Uint64(val), true
			}
			return nil
		}
		m, known := d.mark(client)
		switch {
		case !known || seq > m.seq:
			return nil
		case seq == m.seq:
			rev, ok = m.rev, true
			return nil
		}
		// An older op of the client, and not pending: search bbolt's log.
		c := d.log.Cursor()
		c.Seek(keyHead) // the first key after the revisions
		for k, val := c.Prev(); isRev(k); k, val = c.Prev() {
			r, err := decodeRecord(binary.BigEndian.Uint64(k), val)
			if err != nil {
				return err
			}
			if r.OpID == opID {
				rev, ok = r.Rev, true
				return nil
			}
		}
		return nil
	})
	return rev, ok, err
}
