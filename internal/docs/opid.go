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
// in the document's clients bucket (few keys, written in place: cheap for
// the group commit) and cached in memory. Any other op id (REST idempotency
// keys) is indexed whole in the opid bucket.

// clientMark is a client's newest applied op.
type clientMark struct {
	seq, rev uint64
}

var subClients = []byte("clients")

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

func readMark(b *bolt.Bucket, client string) (clientMark, bool) {
	cb := b.Bucket(subClients)
	if cb == nil {
		return clientMark{}, false
	}
	v := cb.Get([]byte(client))
	if len(v) != 16 {
		return clientMark{}, false
	}
	return clientMark{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, true
}

// recordOpID indexes the op id of revision rev. Called in the commit.
func recordOpID(b *bolt.Bucket, opID string, rev uint64) error {
	if client, seq, ok := parseOpID(opID); ok {
		cb := b.Bucket(subClients)
		if cb == nil {
			var err error
			if cb, err = b.CreateBucket(subClients); err != nil {
				return err
			}
		}
		v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), seq), rev)
		return cb.Put([]byte(client), v)
	}
	return b.Bucket(subOpID).Put([]byte(opID), revKey(rev))
}

// clientMark returns a client's newest applied op from disk.
func (s *Store) clientMark(id, client string) (m clientMark, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		m, ok = readMark(b, client)
		return nil
	})
	return m, ok, err
}

// LookupOpID returns the revision at which the op id was applied. For a
// client's older ops, whose revision is not indexed, it searches the log
// backwards (slow; for tools and tests).
func (s *Store) LookupOpID(id, opID string) (rev uint64, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b, err := docBucket(tx, id)
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
		m, known := readMark(b, client)
		switch {
		case !known || seq > m.seq:
			return nil
		case seq == m.seq:
			rev, ok = m.rev, true
			return nil
		}
		c := b.Bucket(subLog).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
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
