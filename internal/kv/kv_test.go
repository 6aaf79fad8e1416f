package kv_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/collab-editor/collab/internal/kv"
)

var seed = flag.Uint64("kv.seed", 0, "seed of TestReplay's random transactions (0: from the clock)")

func open(t testing.TB, name string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), name), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestReplay makes random transactions on file A, recording them, and
// replays each committed one, marshalled and unmarshalled, on file B: the
// two files must then hold the same buckets, keys, values and sequences.
func TestReplay(t *testing.T) {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -kv.seed=%d)", s, s)
	rng := rand.New(rand.NewPCG(s, s))
	a, b := open(t, "a.db"), open(t, "b.db")
	applied := 0
	for round := range 200 {
		var changes kv.Changes
		abort := rng.IntN(10) == 0
		err := a.Update(func(btx *bolt.Tx) error {
			tx := kv.Record(btx)
			for range 1 + rng.IntN(30) {
				randomWrite(t, rng, tx)
			}
			changes = tx.Changes()
			if abort {
				return errAbort
			}
			return nil
		})
		if abort {
			if !errors.Is(err, errAbort) {
				t.Fatalf("round %d: %v", round, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		data, err := changes.MarshalBinary()
		if err != nil {
			t.Fatalf("round %d: marshal: %v", round, err)
		}
		var back kv.Changes
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatalf("round %d: unmarshal: %v", round, err)
		}
		if err := b.Update(func(tx *bolt.Tx) error { return back.Apply(kv.Wrap(tx), nil) }); err != nil {
			t.Fatalf("round %d: apply: %v", round, err)
		}
		applied += len(back)
		if da, db := dump(t, a), dump(t, b); da != db {
			t.Fatalf("round %d: the files differ after %d changes\nA:\n%s\nB:\n%s", round, len(back), da, db)
		}
	}
	t.Logf("replayed %d changes; the files end as\n%s", applied, dump(t, b))
}

var errAbort = errors.New("abort")

// Names are few, so random writes meet existing buckets and keys often.
var names = [][]byte{[]byte("a"), []byte("b"), []byte("c")}

func pick(rng *rand.Rand) []byte { return names[rng.IntN(len(names))] }

// randomBucket walks down from the root along random names and returns
// the last bucket it reached, or nil if there was no top-level one.
func randomBucket(rng *rand.Rand, tx *kv.Tx) *kv.Bucket {
	b := tx.Bucket(pick(rng))
	for b != nil && rng.IntN(2) == 0 {
		c := b.Bucket(pick(rng))
		if c == nil {
			break
		}
		b = c
	}
	return b
}

// randomWrite makes one random write through tx. Writes bbolt refuses
// (a bucket where a key is, a key where a bucket is) are part of the test:
// they must leave no trace in the recording.
func randomWrite(t *testing.T, rng *rand.Rand, tx *kv.Tx) {
	b := randomBucket(rng, tx)
	if b == nil || rng.IntN(8) == 0 {
		switch rng.IntN(4) {
		case 0:
			tx.DeleteBucket(pick(rng))
		case 1:
			tx.CreateBucket(pick(rng))
		default:
			tx.CreateBucketIfNotExists(pick(rng))
		}
		return
	}
	switch rng.IntN(12) {
	case 0, 1, 2:
		value := make([]byte, rng.IntN(40))
		for i := range value {
			value[i] = byte(rng.IntN(256))
		}
		key := pick(rng)
		if err := b.Put(key, value); err == nil {
			// The write is visible to the rest of the transaction.
			if got := b.Get(key); !bytes.Equal(got, value) {
				t.Fatalf("Get after Put gives %q, want %q", got, value)
			}
		}
	case 3:
		b.Delete(pick(rng))
	case 4:
		c := b.Cursor()
		if k, _ := c.Seek(pick(rng)); k != nil {
			c.Delete()
		}
	case 5:
		// Delete every other key, walking forward.
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if rng.IntN(2) == 0 {
				c.Delete()
			}
		}
	case 6:
		c := b.Cursor()
		if k, _ := c.Last(); k != nil {
			c.Delete()
		}
	case 7:
		b.NextSequence()
	case 8:
		b.SetSequence(rng.Uint64N(1000))
	case 9:
		b.SetFillPercent(0.5 + rng.Float64()/2)
	case 10:
		b.DeleteBucket(pick(rng))
	default:
		if rng.IntN(2) == 0 {
			b.CreateBucket(pick(rng))
		} else {
			b.CreateBucketIfNotExists(pick(rng))
		}
	}
}

// dump writes out the whole file: every bucket's sequence, keys and
// values, sub-buckets indented under their names.
func dump(t *testing.T, db *bolt.DB) string {
	t.Helper()
	var sb strings.Builder
	var walk func(b *bolt.Bucket, depth int)
	walk = func(b *bolt.Bucket, depth int) {
		indent := strings.Repeat("  ", depth)
		fmt.Fprintf(&sb, "%ssequence %d\n", indent, b.Sequence())
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					fmt.Fprintf(&sb, "%s%q/\n", indent, k)
					walk(sub, depth+1)
					continue
				}
			}
			fmt.Fprintf(&sb, "%s%q = %x\n", indent, k, v)
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			fmt.Fprintf(&sb, "%q/\n", name)
			walk(b, 1)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestApplyTolerance: replaying onto a replica that already has a bucket,
// or lacks one being deleted, is fine; a write into a missing bucket is
// an error that names its path.
func TestApplyTolerance(t *testing.T) {
	db := open(t, "a.db")
	changes := kv.Changes{
		{Op: kv.OpCreateBucket, Key: []byte("top")},
		{Op: kv.OpCreateBucket, Key: []byte("top")},
		{Op: kv.OpCreateBucket, Path: [][]byte{[]byte("top")}, Key: []byte("sub")},
		{Op: kv.OpCreateBucket, Path: [][]byte{[]byte("top")}, Key: []byte("sub")},
		{Op: kv.OpDeleteBucket, Key: []byte("gone")},
		{Op: kv.OpDeleteBucket, Path: [][]byte{[]byte("top"), []byte("sub")}, Key: []byte("gone")},
		{Op: kv.OpDeleteBucket, Path: [][]byte{[]byte("nowhere")}, Key: []byte("gone")},
		{Op: kv.OpPut, Path: [][]byte{[]byte("top"), []byte("sub")}, Key: []byte("k"), Value: []byte("v")},
	}
	err := db.Update(func(tx *bolt.Tx) error { return changes.Apply(kv.Wrap(tx), nil) })
	if err != nil {
		t.Fatal(err)
	}
	missing := kv.Changes{{Op: kv.OpPut, Path: [][]byte{[]byte("top"), []byte("nowhere")}, Key: []byte("k"), Value: []byte("v")}}
	err = db.Update(func(tx *bolt.Tx) error { return missing.Apply(kv.Wrap(tx), nil) })
	if !errors.Is(err, kv.ErrBucketNotFound) || !strings.Contains(err.Error(), `"top"/"nowhere"`) {
		t.Fatalf("put into a missing bucket: %v", err)
	}
}

// TestApplyKeep: the changes keep refuses are skipped, and keep is asked
// with each change's path and key.
func TestApplyKeep(t *testing.T) {
	db := open(t, "a.db")
	var changes kv.Changes
	err := db.Update(func(btx *bolt.Tx) error {
		tx := kv.Record(btx)
		for _, name := range []string{"mine", "theirs"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("k"), []byte(name)); err != nil {
				return err
			}
		}
		changes = tx.Changes()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	other := open(t, "b.db")
	keep := func(path [][]byte, key []byte) bool {
		name := key
		if len(path) > 0 {
			name = path[0]
		}
		return string(name) != "theirs"
	}
	err = other.Update(func(tx *bolt.Tx) error { return changes.Apply(kv.Wrap(tx), keep) })
	if err != nil {
		t.Fatal(err)
	}
	other.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("theirs")) != nil {
			t.Error("the refused bucket was created")
		}
		if got := tx.Bucket([]byte("mine")).Get([]byte("k")); string(got) != "mine" {
			t.Errorf("the kept put gives %q", got)
		}
		return nil
	})
}

// TestWrapRecordsNothing: a wrapped transaction writes but records nothing.
func TestWrapRecordsNothing(t *testing.T) {
	db := open(t, "a.db")
	err := db.Update(func(btx *bolt.Tx) error {
		tx := kv.Wrap(btx)
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		if !tx.Changes().Empty() {
			t.Errorf("Wrap recorded %d changes", len(tx.Changes()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecordNextSequence: NextSequence is recorded as the number it set,
// so the replay does not depend on the replica's own counter.
func TestRecordNextSequence(t *testing.T) {
	db := open(t, "a.db")
	var changes kv.Changes
	err := db.Update(func(btx *bolt.Tx) error {
		tx := kv.Record(btx)
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		b.SetSequence(41)
		b.NextSequence()
		changes = tx.Changes()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := changes[len(changes)-1]
	if last.Op != kv.OpSetSequence || last.Seq != 42 {
		t.Fatalf("NextSequence recorded %+v", last)
	}
}

func ExampleRecord() {
	dir, err := os.MkdirTemp("", "kv-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	writer, _ := bolt.Open(filepath.Join(dir, "writer.db"), 0o600, nil)
	defer writer.Close()
	replica, _ := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, nil)
	defer replica.Close()

	// Record a transaction's writes without committing them.
	var data []byte
	writer.Update(func(btx *bolt.Tx) error {
		tx := kv.Record(btx)
		b, _ := tx.CreateBucketIfNotExists([]byte("docs"))
		b.Put([]byte("readme"), []byte("hello"))
		data, _ = tx.Changes().MarshalBinary()
		return errAbort
	})

	// Apply them where they were published, on every node.
	var changes kv.Changes
	if err := changes.UnmarshalBinary(data); err != nil {
		fmt.Println(err)
		return
	}
	replica.Update(func(tx *bolt.Tx) error { return changes.Apply(kv.Wrap(tx), nil) })
	replica.View(func(tx *bolt.Tx) error {
		fmt.Printf("%s\n", tx.Bucket([]byte("docs")).Get([]byte("readme")))
		return nil
	})
	// Output: hello
}
