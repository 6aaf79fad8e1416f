package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Op is the kind of a Change.
type Op uint8

// The kinds of change. Their numbers are part of the marshalled form.
const (
	// OpPut sets Key to Value in the bucket at Path.
	OpPut Op = 1 + iota
	// OpDelete removes Key from the bucket at Path.
	OpDelete
	// OpCreateBucket creates the sub-bucket Key of the bucket at Path
	// (a top-level bucket when Path is empty).
	OpCreateBucket
	// OpDeleteBucket deletes the sub-bucket Key of the bucket at Path.
	OpDeleteBucket
	// OpSetSequence sets the sequence number of the bucket at Path to Seq.
	OpSetSequence
	// OpFillPercent sets the fill percent of the bucket at Path to Fill
	// for the rest of the transaction.
	OpFillPercent
)

var opNames = [...]string{OpPut: "put", OpDelete: "delete", OpCreateBucket: "create bucket",
	OpDeleteBucket: "delete bucket", OpSetSequence: "set sequence", OpFillPercent: "fill percent"}

func (o Op) String() string {
	if o >= OpPut && o <= OpFillPercent {
		return opNames[o]
	}
	return "op " + strconv.Itoa(int(o))
}

// Change is one recorded write.
type Change struct {
	Op Op
	// Path names the bucket the change is in: the names of the buckets
	// from the root down. It is empty for a top-level bucket's creation or
	// deletion.
	Path [][]byte
	// Key is the key put or deleted, or the name of the bucket created
	// or deleted.
	Key []byte
	// Value is the value put.
	Value []byte
	// Seq is the sequence number set.
	Seq uint64
	// Fill is the fill percent set.
	Fill float64
}

// Changes is an ordered list of writes, as Tx records them.
type Changes []Change

// add appends ch.
func (c *Changes) add(ch Change) { *c = append(*c, ch) }

// Empty reports whether there are no changes.
func (c Changes) Empty() bool { return len(c) == 0 }

// version is the first byte of the marshalled form.
const version = 1

// samePath, or'ed into a change's op byte, says its path is the previous
// change's and is not repeated.
const samePath = 0x80

// MarshalBinary encodes the changes: a version byte, the number of
// changes, then each change as its op byte, its path (unless it is the
// previous change's), and its operands, byte strings prefixed with their
// lengths and numbers as uvarints.
func (c Changes) MarshalBinary() ([]byte, error) {
	n := 1 + binary.MaxVarintLen64
	for _, ch := range c {
		n += 2 + len(ch.Key) + len(ch.Value) + 2*binary.MaxVarintLen64
		for _, p := range ch.Path {
			n += binary.MaxVarintLen64 + len(p)
		}
	}
	buf := make([]byte, 0, n)
	buf = append(buf, version)
	buf = binary.AppendUvarint(buf, uint64(len(c)))
	var prev [][]byte
	for i, ch := range c {
		if ch.Op < OpPut || ch.Op > OpFillPercent {
			return nil, fmt.Errorf("kv: change %d: unknown %s", i, ch.Op)
		}
		if i > 0 && equalPath(ch.Path, prev) {
			buf = append(buf, byte(ch.Op)|samePath)
		} else {
			buf = append(buf, byte(ch.Op))
			buf = binary.AppendUvarint(buf, uint64(len(ch.Path)))
			for _, p := range ch.Path {
				buf = appendBytes(buf, p)
			}
		}
		prev = ch.Path
		switch ch.Op {
		case OpPut:
			buf = appendBytes(buf, ch.Key)
			buf = appendBytes(buf, ch.Value)
		case OpDelete, OpCreateBucket, OpDeleteBucket:
			buf = appendBytes(buf, ch.Key)
		case OpSetSequence:
			buf = binary.AppendUvarint(buf, ch.Seq)
		case OpFillPercent:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(ch.Fill))
		}
	}
	return buf, nil
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// UnmarshalBinary decodes what MarshalBinary encoded into c. Any other
// input gives an error, never a panic. c keeps no reference to data.
func (c *Changes) UnmarshalBinary(data []byte) error {
	d := decoder{buf: bytes.Clone(data)}
	if v := d.byte(); d.err == nil && v != version {
		return fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	n := d.uvarint()
	// Every change takes at least two bytes, so a count beyond that is a
	// lie, and must not size an allocation.
	if d.err == nil && n > uint64(len(d.buf))/2 {
		return fmt.Errorf("%w: %d changes in %d bytes", ErrMalformed, n, len(d.buf))
	}
	out := make(Changes, 0, n)
	var prev [][]byte
	for i := uint64(0); i < n && d.err == nil; i++ {
		b := d.byte()
		ch := Change{Op: Op(b &^ samePath)}
		if ch.Op < OpPut || ch.Op > OpFillPercent {
			d.fail(fmt.Sprintf("change %d has an unknown %s", i, ch.Op))
			break
		}
		if b&samePath != 0 {
			if i == 0 {
				d.fail("the first change has no previous path")
				break
			}
			ch.Path = prev
		} else {
			depth := d.uvarint()
			if depth > uint64(len(d.buf)) {
				d.fail(fmt.Sprintf("change %d has a path %d deep", i, depth))
				break
			}
			if depth > 0 {
				ch.Path = make([][]byte, depth)
				for j := range ch.Path {
					ch.Path[j] = d.bytes()
				}
			}
		}
		prev = ch.Path
		switch ch.Op {
		case OpPut:
			ch.Key = d.bytes()
			ch.Value = d.bytes()
		case OpDelete, OpCreateBucket, OpDeleteBucket:
			ch.Key = d.bytes()
		case OpSetSequence:
			ch.Seq = d.uvarint()
		case OpFillPercent:
			ch.Fill = math.Float64frombits(d.uint64())
			if d.err == nil && !(ch.Fill >= 0 && ch.Fill <= 1) {
				d.fail(fmt.Sprintf("change %d has a fill percent of %v", i, ch.Fill))
			}
		}
		out = append(out, ch)
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail(fmt.Sprintf("%d bytes after the last change", len(d.buf)))
	}
	if d.err != nil {
		return d.err
	}
	*c = out
	return nil
}

// decoder reads the marshalled form; its first failure sticks in err.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, why)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("a bad number")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf)
	d.buf = d.buf[8:]
	return v
}

// bytes returns the next length-prefixed byte string, a slice of the
// decoder's own copy of the input, never nil.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return []byte{}
	}
	if n > uint64(len(d.buf)) {
		d.fail("truncated")
		return []byte{}
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// Apply replays the changes onto tx, in order. keep, if not nil, is asked
// about every change with its bucket path and key (nil for a sequence or a
// fill percent); a change it refuses is skipped. Creating a bucket that
// exists and deleting one that does not are no errors; a put, delete or
// sequence in a bucket that does not exist is one, naming the path.
func (c Changes) Apply(tx *Tx, keep func(path [][]byte, key []byte) bool) error {
	// The bucket of the last change's path, so a run of changes in one
	// bucket looks it up once. Creating or deleting a bucket forgets it.
	var (
		cached     *Bucket
		cachedPath [][]byte
		haveCache  bool
	)
	for i, ch := range c {
		var key []byte
		if ch.Op != OpSetSequence && ch.Op != OpFillPercent {
			key = ch.Key
		}
		if keep != nil && !keep(ch.Path, key) {
			continue
		}
		var err error
		switch ch.Op {
		case OpCreateBucket, OpDeleteBucket:
			haveCache = false
			err = applyBucket(tx, ch)
		default:
			if !haveCache || !equalPath(ch.Path, cachedPath) {
				cached, cachedPath, haveCache = lookup(tx, ch.Path), ch.Path, true
			}
			if cached == nil {
				err = fmt.Errorf("bucket %s: %w", formatPath(ch.Path), ErrBucketNotFound)
				break
			}
			err = applyIn(cached, ch)
		}
		if err != nil {
			return fmt.Errorf("kv: change %d, %s %s %q: %w", i, ch.Op, formatPath(ch.Path), key, err)
		}
	}
	return nil
}

// applyBucket creates or deletes the bucket ch names.
func applyBucket(tx *Tx, ch Change) error {
	if len(ch.Path) == 0 {
		if ch.Op == OpCreateBucket {
			_, err := tx.CreateBucketIfNotExists(ch.Key)
			return err
		}
		if err := tx.DeleteBucket(ch.Key); err != nil && !errors.Is(err, ErrBucketNotFound) {
			return err
		}
		return nil
	}
	parent := lookup(tx, ch.Path)
	if parent == nil {
		if ch.Op == OpDeleteBucket {
			return nil
		}
		return fmt.Errorf("bucket %s: %w", formatPath(ch.Path), ErrBucketNotFound)
	}
	if ch.Op == OpCreateBucket {
		_, err := parent.CreateBucketIfNotExists(ch.Key)
		return err
	}
	if err := parent.DeleteBucket(ch.Key); err != nil && !errors.Is(err, ErrBucketNotFound) {
		return err
	}
	return nil
}

// applyIn applies ch, a change to keys or the bucket itself, to b.
func applyIn(b *Bucket, ch Change) error {
	switch ch.Op {
	case OpPut:
		return b.Put(ch.Key, ch.Value)
	case OpDelete:
		return b.Delete(ch.Key)
	case OpSetSequence:
		return b.SetSequence(ch.Seq)
	case OpFillPercent:
		b.SetFillPercent(ch.Fill)
		return nil
	}
	return fmt.Errorf("unknown %s", ch.Op)
}

// lookup returns the bucket at path, or nil if there is none or the path
// is empty.
func lookup(tx *Tx, path [][]byte) *Bucket {
	if len(path) == 0 {
		return nil
	}
	b := tx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

func equalPath(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// formatPath writes a bucket path for messages: its names quoted and
// joined by slashes, or "the root" for an empty path.
func formatPath(path [][]byte) string {
	if len(path) == 0 {
		return "the root"
	}
	var sb strings.Builder
	for i, p := range path {
		if i > 0 {
			sb.WriteByte('/')
		}
		sb.WriteString(strconv.Quote(string(p)))
	}
	return sb.String()
}
