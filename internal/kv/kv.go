package kv

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Tx is a bbolt transaction, recording its writes if it came from Record.
type Tx struct {
	tx *bolt.Tx
	// rec collects the writes when recording; nil otherwise.
	rec *Changes
}

// Wrap wraps tx without recording its writes.
func Wrap(tx *bolt.Tx) *Tx {
	return &Tx{tx: tx}
}

// Record wraps the writable transaction tx and records every write made
// through the result, in order, besides applying it to tx.
func Record(tx *bolt.Tx) *Tx {
	return &Tx{tx: tx, rec: new(Changes)}
}

// Changes returns the writes recorded so far; nil if tx does not record.
func (tx *Tx) Changes() Changes {
	if tx.rec == nil {
		return nil
	}
	return *tx.rec
}

// Writable reports whether the transaction can write.
func (tx *Tx) Writable() bool { return tx.tx.Writable() }

// Size is the size in bytes of the database as this transaction sees it.
func (tx *Tx) Size() int64 { return tx.tx.Size() }

// Bucket returns the top-level bucket name, or nil if there is none.
func (tx *Tx) Bucket(name []byte) *Bucket {
	b := tx.tx.Bucket(name)
	if b == nil {
		return nil
	}
	if tx.rec != nil {
		return tx.recorded(b, name)
	}
	return &Bucket{b: b}
}

// recorded wraps the top-level bucket b, named name, with its path.
func (tx *Tx) recorded(b *bolt.Bucket, name []byte) *Bucket {
	return &Bucket{b: b, rec: tx.rec, path: [][]byte{bytes.Clone(name)}}
}

// CreateBucket creates the top-level bucket name; it fails if one exists.
func (tx *Tx) CreateBucket(name []byte) (*Bucket, error) {
	b, err := tx.tx.CreateBucket(name)
	if err != nil {
		return nil, err
	}
	if tx.rec != nil {
		tx.rec.add(Change{Op: OpCreateBucket, Key: bytes.Clone(name)})
		return tx.recorded(b, name), nil
	}
	return &Bucket{b: b}, nil
}

// CreateBucketIfNotExists returns the top-level bucket name, creating it
// if there is none.
func (tx *Tx) CreateBucketIfNotExists(name []byte) (*Bucket, error) {
	if tx.rec != nil && tx.tx.Bucket(name) != nil {
		return tx.Bucket(name), nil
	}
	b, err := tx.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	if tx.rec != nil {
		tx.rec.add(Change{Op: OpCreateBucket, Key: bytes.Clone(name)})
		return tx.recorded(b, name), nil
	}
	return &Bucket{b: b}, nil
}

// DeleteBucket deletes the top-level bucket name and everything in it.
func (tx *Tx) DeleteBucket(name []byte) error {
	if err := tx.tx.DeleteBucket(name); err != nil {
		return err
	}
	if tx.rec != nil {
		tx.rec.add(Change{Op: OpDeleteBucket, Key: bytes.Clone(name)})
	}
	return nil
}

// ForEach calls fn for every top-level bucket, in key order.
func (tx *Tx) ForEach(fn func(name []byte, b *Bucket) error) error {
	return tx.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if tx.rec != nil {
			return fn(name, tx.recorded(b, name))
		}
		return fn(name, &Bucket{b: b})
	})
}

// Cursor returns a cursor over the top-level buckets' names.
func (tx *Tx) Cursor() *Cursor {
	c := tx.tx.Cursor()
	return &Cursor{c: c, b: &Bucket{b: c.Bucket(), rec: tx.rec}}
}

// Bucket is a bbolt bucket. When its transaction records, the bucket knows
// its path from the root.
type Bucket struct {
	b *bolt.Bucket
	// rec and path are set only when recording: where writes go, and the
	// names of the buckets from the root down to this one.
	rec  *Changes
	path [][]byte
}

// child wraps b, the sub-bucket name of this bucket.
func (b *Bucket) child(c *bolt.Bucket, name []byte) *Bucket {
	if b.rec == nil {
		return &Bucket{b: c}
	}
	return &Bucket{b: c, rec: b.rec, path: b.childPath(name)}
}

// childPath is the path of this bucket's sub-bucket name.
func (b *Bucket) childPath(name []byte) [][]byte {
	return append(b.path[:len(b.path):len(b.path)], bytes.Clone(name))
}

// Writable reports whether the bucket's transaction can write.
func (b *Bucket) Writable() bool { return b.b.Writable() }

// Get returns the value of key, or nil if there is none or it names a
// sub-bucket. The value is valid only while the transaction lasts.
func (b *Bucket) Get(key []byte) []byte { return b.b.Get(key) }

// Put sets key to value. Both must stay valid until the transaction ends.
func (b *Bucket) Put(key, value []byte) error {
	if err := b.b.Put(key, value); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpPut, Path: b.path, Key: bytes.Clone(key), Value: cloneValue(value)})
	}
	return nil
}

// Delete removes key; a key that is not there is no error.
func (b *Bucket) Delete(key []byte) error {
	if err := b.b.Delete(key); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpDelete, Path: b.path, Key: bytes.Clone(key)})
	}
	return nil
}

// Bucket returns the sub-bucket name, or nil if there is none.
func (b *Bucket) Bucket(name []byte) *Bucket {
	c := b.b.Bucket(name)
	if c == nil {
		return nil
	}
	return b.child(c, name)
}

// CreateBucket creates the sub-bucket name; it fails if one exists.
func (b *Bucket) CreateBucket(name []byte) (*Bucket, error) {
	c, err := b.b.CreateBucket(name)
	if err != nil {
		return nil, err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpCreateBucket, Path: b.path, Key: bytes.Clone(name)})
	}
	return b.child(c, name), nil
}

// CreateBucketIfNotExists returns the sub-bucket name, creating it if
// there is none.
func (b *Bucket) CreateBucketIfNotExists(name []byte) (*Bucket, error) {
	if b.rec != nil {
		if c := b.b.Bucket(name); c != nil {
			return b.child(c, name), nil
		}
	}
	c, err := b.b.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpCreateBucket, Path: b.path, Key: bytes.Clone(name)})
	}
	return b.child(c, name), nil
}

// DeleteBucket deletes the sub-bucket name and everything in it.
func (b *Bucket) DeleteBucket(name []byte) error {
	if err := b.b.DeleteBucket(name); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpDeleteBucket, Path: b.path, Key: bytes.Clone(name)})
	}
	return nil
}

// Cursor returns a cursor over the bucket's keys.
func (b *Bucket) Cursor() *Cursor {
	return &Cursor{c: b.b.Cursor(), b: b}
}

// ForEach calls fn for every key in order, with a nil value for a
// sub-bucket. fn must not change the bucket.
func (b *Bucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

// ForEachBucket calls fn for every sub-bucket's name, in order.
func (b *Bucket) ForEachBucket(fn func(k []byte) error) error { return b.b.ForEachBucket(fn) }

// Sequence is the bucket's sequence number.
func (b *Bucket) Sequence() uint64 { return b.b.Sequence() }

// SetSequence sets the bucket's sequence number.
func (b *Bucket) SetSequence(v uint64) error {
	if err := b.b.SetSequence(v); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpSetSequence, Path: b.path, Seq: v})
	}
	return nil
}

// NextSequence increments the bucket's sequence number and returns it. It
// is recorded as setting the number it returns.
func (b *Bucket) NextSequence() (uint64, error) {
	v, err := b.b.NextSequence()
	if err != nil {
		return 0, err
	}
	if b.rec != nil {
		b.rec.add(Change{Op: OpSetSequence, Path: b.path, Seq: v})
	}
	return v, nil
}

// SetFillPercent sets how full bbolt fills the bucket's pages when it
// splits them (bbolt's Bucket.FillPercent), for the rest of the
// transaction. It changes the file's layout, not its contents.
func (b *Bucket) SetFillPercent(f float64) {
	b.b.FillPercent = f
	if b.rec != nil {
		b.rec.add(Change{Op: OpFillPercent, Path: b.path, Fill: f})
	}
}

// Stats reports the bucket's keys, pages and sizes.
func (b *Bucket) Stats() bolt.BucketStats { return b.b.Stats() }

// Cursor is a bbolt cursor over a bucket's keys.
type Cursor struct {
	c *bolt.Cursor
	b *Bucket
	// key is the key the cursor is on, which Delete records.
	key []byte
}

// Bucket returns the bucket the cursor walks.
func (c *Cursor) Bucket() *Bucket { return c.b }

// First moves to the first key and returns it with its value.
func (c *Cursor) First() ([]byte, []byte) { return c.at(c.c.First()) }

// Last moves to the last key and returns it with its value.
func (c *Cursor) Last() ([]byte, []byte) { return c.at(c.c.Last()) }

// Next moves to the next key and returns it with its value.
func (c *Cursor) Next() ([]byte, []byte) { return c.at(c.c.Next()) }

// Prev moves to the previous key and returns it with its value.
func (c *Cursor) Prev() ([]byte, []byte) { return c.at(c.c.Prev()) }

// Seek moves to seek, or the key after it if there is none, and returns
// that key with its value.
func (c *Cursor) Seek(seek []byte) ([]byte, []byte) { return c.at(c.c.Seek(seek)) }

// at remembers k as the cursor's key and returns k and v.
func (c *Cursor) at(k, v []byte) ([]byte, []byte) {
	c.key = k
	return k, v
}

// Delete removes the key the cursor is on. It fails on a sub-bucket.
func (c *Cursor) Delete() error {
	var key []byte
	if c.b.rec != nil {
		key = bytes.Clone(c.key)
	}
	if err := c.c.Delete(); err != nil {
		return err
	}
	if c.b.rec != nil && key != nil {
		c.b.rec.add(Change{Op: OpDelete, Path: c.b.path, Key: key})
	}
	return nil
}

// cloneValue copies v, keeping an empty value non-nil.
func cloneValue(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return bytes.Clone(v)
}
