package docs

import (
	"errors"
	"math/rand/v2"
	"testing"
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
		res, err := m.Restore(meta.ID, rev, "ann", "")
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
	if _, err := m.Put(meta.ID, "new text", "ann", "", &stale); !errors.Is(err, ErrConflict) {
		t.Errorf("Put against a stale revision: %v", err)
	}
	if res, err := m.Put(meta.ID, texts[len(texts)-1], "ann", "", &head); err != nil || res.Rev != head {
		t.Errorf("Put of the same text: %+v, %v", res, err)
	}
	if res, err := m.Put(meta.ID, "new text", "ann", "put:1", &head); err != nil || res.Rev != head+1 {
		t.Errorf("Put: %+v, %v", res, err)
	}
	if text, _, _ := d.Text(); text.String() != "new text" {
		t.Errorf("after Put: %q", text.String())
	}
	checkLog(t, m, meta.ID)
}
