package docs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// TestChangesAndRestore builds a random history and checks that Changes
// between any two revisions, near (composed from the log) or far (a line
// diff), turns the one text into the other, and that Restore and Put make
// the texts they promise.
func TestChangesAndRestore(t *testing.T) {
	rng := rand.New(rand.NewPCG(newSeed(t), 2))
	m := openTest(t, Config{SnapshotEvery: 5})
	meta, d := createOpen(t, m, CreateParams{Name: "h.go", Text: "package h\n"})
	texts := []string{"", "package h\n"} // by revision
	for rev := uint64(1); rev < 60; rev++ {
		op := randomEdit(rng, texts[rev])
		if rng.IntN(3) == 0 {
			op = randomLineEdit(rng, texts[rev])
		}
		if _, err := d.Submit(Edit{Base: rev, Op: op}); err != nil {
			t.Fatal(err)
		}
		next, err := op.Apply(texts[rev])
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, next)
	}
	for range 300 {
		from, to := rng.IntN(len(texts)), rng.IntN(len(texts))
		if rng.IntN(2) == 0 {
			to = min(len(texts)-1, from+rng.IntN(8))
		}
		op, err := m.Changes(meta.ID, uint64(from), uint64(to))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := op.Apply(texts[from]); err != nil || got != texts[to] {
			t.Fatalf("Changes(%d, %d) = %v: gives %q, %v; want %q", from, to, op, got, err, texts[to])
		}
	}

	head := uint64(len(texts) - 1)
	for _, rev := range []uint64{7, 0, head} {
		res, err := m.Restore(meta.ID, rev, "ann")
		if err != nil {
			t.Fatal(err)
		}
		text, now, _ := d.Text()
		if text.String() != texts[rev] || now != res.Rev {
			t.Fatalf("Restore(%d): %q at %d (%+v); want %q", rev, text.String(), now, res, texts[rev])
		}
		head = now
	}
	stale := head - 1
	if _, err := m.Put(meta.ID, "new text", "ann", Key{}, &stale); !errors.Is(err, ErrConflict) {
		t.Errorf("Put against a stale revision: %v", err)
	}
	if res, err := m.Put(meta.ID, texts[len(texts)-1], "ann", Key{}, &head); err != nil || res.Rev != head {
		t.Errorf("Put of the same text: %+v, %v", res, err)
	}
	if res, err := m.Put(meta.ID, "new text", "ann", Key{Scope: "test", Name: "1"}, &head); err != nil || res.Rev != head+1 {
		t.Errorf("Put: %+v, %v", res, err)
	}
	if text, _, _ := d.Text(); text.String() != "new text" {
		t.Errorf("after Put: %q", text.String())
	}
	checkLog(t, m, meta.ID)
}

// putOK is Put that must succeed.
func putOK(t *testing.T, m *Manager, id, text string, key Key, ifRev *uint64) Result {
	t.Helper()
	res, err := m.Put(id, text, "api", key, ifRev)
	if err != nil {
		t.Fatalf("Put(%q, %+v): %v", text, key, err)
	}
	return res
}

// headText returns a document's durable text.
func headText(t *testing.T, m *Manager, id string) string {
	t.Helper()
	_, text, err := m.Head(id)
	if err != nil {
		t.Fatal(err)
	}
	return text.String()
}

// TestPutKeyAnswersRetries: a keyed Put retried answers with its first
// revision and operation, also once the document moved on and with an
// If-Match that no longer holds (it used to fail with ErrConflict, and a
// client that then re-applied duplicated its change); the same key for
// another request fails with ErrKeyReused; keys are opaque and
// independent, of each other and of realtime clients' op ids.
func TestPutKeyAnswersRetries(t *testing.T) {
	m := openTest(t, Config{})
	meta, d := createOpen(t, m, CreateParams{Name: "k.txt", Text: "one\n"})
	id := meta.ID
	one := uint64(1)
	k := Key{Scope: "link", Name: "c0ffee-1"}
	first := putOK(t, m, id, "one\ntwo\n", k, &one)
	if first.Rev != 2 || first.Duplicate {
		t.Fatalf("first Put: %+v", first)
	}
	check := func(what string, res Result, err error) {
		t.Helper()
		if err != nil || res.Rev != first.Rev || !res.Duplicate || !res.Op.Equal(first.Op) {
			t.Fatalf("%s: %+v, %v; want revision %d, op %v, a duplicate", what, res, err, first.Rev, first.Op)
		}
	}
	res, err := m.Put(id, "one\ntwo\n", "api", k, &one)
	check("retry", res, err)
	if _, err := d.Submit(Edit{Base: 2, Op: insertAt(8, 0, "zero\n"), OpID: "ws:1"}); err != nil {
		t.Fatal(err)
	}
	res, err = m.Put(id, "one\ntwo\n", "api", k, &one)
	check("retry after another edit", res, err)
	if got := headText(t, m, id); got != "zero\none\ntwo\n" {
		t.Fatalf("after the retries: %q", got)
	}
	three := uint64(3)
	for _, c := range []struct {
		text  string
		ifRev *uint64
	}{{"other\n", &one}, {"one\ntwo\n", &three}, {"one\ntwo\n", nil}} {
		if _, err := m.Put(id, c.text, "api", k, c.ifRev); !errors.Is(err, ErrKeyReused) {
			t.Errorf("the key for another request (%q, If-Match %v): %v, want ErrKeyReused", c.text, c.ifRev, err)
		}
	}

	// Keys have no order and no sequence: "9" after "10", all digits,
	// both apply; so do the same names in another scope. A realtime client
	// named "rest" does not stand in their way.
	if _, err := d.Submit(Edit{Base: 3, Op: insertAt(13, 13, "!"), OpID: "rest:100"}); err != nil {
		t.Fatal(err)
	}
	text := headText(t, m, id)
	for _, k := range []Key{{"link", "10"}, {"link", "9"}, {"admin", "10"}, {"admin", "9"}, {"link", "100"}} {
		text += k.Scope + k.Name + "\n"
		if res := putOK(t, m, id, text, k, nil); res.Duplicate || res.Op.IsNoop() {
			t.Errorf("Put under %+v: %+v; want it applied", k, res)
		}
	}
	if got := headText(t, m, id); got != text {
		t.Errorf("text %q, want %q", got, text)
	}

	// A keyed Put that changes nothing is recorded too: its retry, after
	// the document moved on, answers with its revision.
	_, head, _ := d.Text()
	noop := putOK(t, m, id, text, Key{"link", "same"}, &head)
	if noop.Rev != head+1 || !noop.Op.IsNoop() {
		t.Fatalf("keyed Put of the same text: %+v", noop)
	}
	putOK(t, m, id, "changed\n", Key{}, nil)
	if res, err := m.Put(id, text, "api", Key{"link", "same"}, &head); err != nil || res.Rev != noop.Rev || !res.Duplicate {
		t.Errorf("retry of a keyed Put that changed nothing: %+v, %v; want revision %d", res, err, noop.Rev)
	}
	for _, bad := range []Key{{"link", strings.Repeat("k", 256)}, {"link", "a:1"}, {"link", "a#b"}, {"", "k"}, {"a/b", "k"}} {
		if _, err := m.Put(id, "x", "api", bad, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put under %+v: %v, want ErrInvalid", bad, err)
		}
	}
	putOK(t, m, id, "long key\n", Key{"link", strings.Repeat("k", 255)}, nil)
	checkLog(t, m, id)
}

// TestPutKeyConcurrentRetries: identical keyed Puts at once apply once;
// each one that finds the first on its way to disk waits for it and
// answers with its revision.
func TestPutKeyConcurrentRetries(t *testing.T) {
	m := openTest(t, Config{})
	meta, _ := createOpen(t, m, CreateParams{Name: "c.txt", Text: "a\n"})
	one := uint64(1)
	const n = 16
	results := make(chan Result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := m.Put(meta.ID, "a\nb\n", "api", Key{"link", "same"}, &one)
			if err != nil {
				t.Error(err)
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	dups := 0
	for res := range results {
		if res.Rev != 2 || res.Op.String() != `[2,"b\n"]` {
			t.Errorf("result %+v, want revision 2", res)
		}
		if res.Duplicate {
			dups++
		}
	}
	if dups != n-1 {
		t.Errorf("%d duplicates of %d", dups, n)
	}
	if log := checkLog(t, m, meta.ID); len(log) != 2 {
		t.Errorf("%d revisions, want 2", len(log))
	}
}

// TestPutKeySurvivesCrash: a key is durable with its revision: after a
// crash that left the revision in the revision log only, and once the
// revision is out of the in-memory window, the retry still gets its first
// answer and another request under the key ErrKeyReused.
func TestPutKeySurvivesCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	m := openAt(t, path, noCheckpoints)
	meta, _ := createOpen(t, m, CreateParams{Name: "c.txt", Text: "a\n"})
	putOK(t, m, meta.ID, "a\n\n", Key{}, nil) // a document's first commit goes to bbolt
	k := Key{"admin", "crash-1"}
	first := putOK(t, m, meta.ID, "a\nb\n", k, nil)
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}
	m2 := openAt(t, crashCopy(t, m, path), Config{Window: 1})
	for _, extra := range []string{"c\n", "d\n", "e\n"} {
		putOK(t, m2, meta.ID, headText(t, m2, meta.ID)+extra, Key{}, nil)
	}
	if res, err := m2.Put(meta.ID, "a\nb\n", "api", k, nil); err != nil || res.Rev != first.Rev || !res.Op.Equal(first.Op) || !res.Duplicate {
		t.Errorf("retry after the crash: %+v, %v; want %+v", res, err, first)
	}
	if _, err := m2.Put(meta.ID, "a\nB\n", "api", k, nil); !errors.Is(err, ErrKeyReused) {
		t.Errorf("another request after the crash: %v, want ErrKeyReused", err)
	}
	if rev, ok, err := m2.Store().LookupOpID(meta.ID, k.opID(putFingerprint("a\nb\n", nil))); err != nil || !ok || rev != first.Rev {
		t.Errorf("LookupOpID: %d, %v, %v", rev, ok, err)
	}
}

// TestPutKeysExpire: a key answers for KeyTTL; after that a request under
// it is a new one, and a later keyed write forgets the old key's index
// entries.
func TestPutKeysExpire(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	m := openTest(t, Config{Window: 1, Now: now})
	meta, _ := createOpen(t, m, CreateParams{Name: "e.txt", Text: "a\n"})
	k := Key{"link", "old"}
	first := putOK(t, m, meta.ID, "a\nb\n", k, nil)
	clock.Add(int64(KeyTTL - time.Second))
	if res := putOK(t, m, meta.ID, "a\nb\n", k, nil); res.Rev != first.Rev || !res.Duplicate {
		t.Fatalf("retry within KeyTTL: %+v", res)
	}
	clock.Add(int64(2 * time.Second))
	if res := putOK(t, m, meta.ID, "a\nB\n", k, nil); res.Duplicate || res.Rev != first.Rev+1 {
		t.Fatalf("the key for another request after KeyTTL: %+v", res)
	}
	clock.Add(int64(KeyTTL + time.Second))
	putOK(t, m, meta.ID, "a\nB\nc\n", Key{"link", "new"}, nil)
	var keys []string
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		return tx.Bucket(bucketDoc).Bucket([]byte(meta.ID)).Bucket(subOpID).ForEach(func(k, v []byte) error {
			keys = append(keys, fmt.Sprintf("%q", k))
			return nil
		})
	})
	if want := []string{`"\x00\x00\x00\x00\x00\x00\x00\x00\x04"`, `"~link/new"`}; !slices.Equal(keys, want) {
		t.Errorf("the opid bucket holds %v, want %v", keys, want)
	}
}
