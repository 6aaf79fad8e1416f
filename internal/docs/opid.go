package docs

import (
	"encoding/binary"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Exactly-once needs, for each op id, whether it was applied and at which
// revision. Realtime clients name ops "<client>:<sequence>" with a decimal
// sequence that grows with each new op, and keep at most one op in flight:
// a resend is always of the client's newest op. So for those ids one record
// per client suffices — its newest sequence and that op's revision — kept
// in the document's log bucket after the revisions (see keyHead: usually
// in the leaf the revision's append rewrites anyway) and cached in memory. Any other op id (REST idempotency
// keys) is indexed whole in the opid bucket.

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
func readMark(log *bolt.Bucket, client string) (clientMark, bool) {
	v := log.Get(markKey(client))
	if len(v) != 16 {
		return clientMark{}, false
	}
	return clientMark{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, true
}

// writeMark writes a client's mark to a log bucket.
func writeMark(log *bolt.Bucket, client string, m clientMark) error {
	v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), m.seq), m.rev)
	return log.Put(markKey(client), v)
}

// indexOpID indexes an op id that is not of a client's "<client>:<seq>"
// form (those are marks) under the revision rev of document id. Called in
// the commit.
func indexOpID(tx *bolt.Tx, id, opID string, rev uint64) error {
	b, err := docBucket(tx, id)
	if err != nil {
		return err
	}
	return b.Bucket(subOpID).Put([]byte(opID), revKey(rev))
}

// clientMark returns a client's newest applied op from disk. It reads
// bbolt without a checkpoint: a live document asks only for clients it has
// no mark of, and every revision since it loaded (which checkpointed) is
// in its marks, so the revisions still pending in the log cannot hold one.
func (s *Store) clientMark(id, client string) (m clientMark, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		log, err := logBucket(tx, id)
		if err != nil {
			return err
		}
		m, ok = readMark(log, client)
		return nil
	})
	return m, ok, err
}

// LookupOpID returns the revision at which the op id was applied. For a
// client's older ops, whose revision is not indexed, it searches the log
// backwards (slow; for tools and tests).
func (s *Store) LookupOpID(id, opID string) (rev uint64, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b, log, err := buckets(tx, id)
		if err != nil {
			return err
		}
		client, seq, isClient := parseOpID(opID)
		if !isClient {
			if v := b.Bucket(subOpID).Get([]byte(opID)); len(v) == 8 {
				rev, ok = binary.BigEndian.Uint64(v), true
			}
			return nil
		}
		m, known := readMark(log, client)
		switch {
		case !known || seq > m.seq:
			return nil
		case seq == m.seq:
			rev, ok = m.rev, true
			return nil
		}
		c := log.Cursor()
		c.Seek(keyHead) // the first key after the revisions
		for k, v := c.Prev(); isRev(k); k, v = c.Prev() {
			r, err := decodeRecord(binary.BigEndian.Uint64(k), v)
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
