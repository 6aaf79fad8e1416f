package docs

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkCommit compares durable writes of 64 documents edited
// concurrently: one bbolt transaction (one fsync) per op, against the group
// commit of Document.Submit. fsync is on in both.
func BenchmarkCommit(b *testing.B) {
	const docs = 64
	setup := func(b *testing.B) (*Manager, []*Document) {
		m := openTest(b, Config{})
		ds := make([]*Document, docs)
		for i := range ds {
			meta, err := m.Create(CreateParams{Name: fmt.Sprintf("f%d.txt", i), Text: "x"})
			if err != nil {
				b.Fatal(err)
			}
			if ds[i], err = m.Open(meta.ID); err != nil {
				b.Fatal(err)
			}
		}
		return m, ds
	}
	b.Run("per-op", func(b *testing.B) {
		m, dd := setup(b)
		var mu [docs]sync.Mutex
		revs := make([]uint64, docs)
		for i := range revs {
			revs[i] = 1
		}
		text := rope.New("x")
		run(b, dd, func(i, k int) {
			mu[i].Lock()
			defer mu[i].Unlock()
			r := Revision{Rev: revs[i] + 1, Op: *new(ot.Operation).Retain(1), Author: "b", OpID: fmt.Sprintf("c%d:%d", i, k+1), Time: time.Now()}
			err := m.store.db.Update(func(tx *bolt.Tx) error { return m.store.appendRevision(tx, dd[i].id, r, text) })
			if err != nil {
				b.Fatal(err)
			}
			revs[i]++
		})
	})
	b.Run("grouped", func(b *testing.B) {
		_, dd := setup(b)
		run(b, dd, func(i, k int) {
			d := dd[i]
			_, rev, _ := d.Text()
			_, err := d.Submit(Edit{Base: rev, Op: *new(ot.Operation).Retain(1 + k).Insert("y"), OpID: fmt.Sprintf("c%d:%d", i, k+1)})
			if err != nil {
				b.Fatal(err)
			}
		})
	})
}

// run spreads b.N writes over one goroutine per document.
func run(b *testing.B, dd []*Document, write func(doc, k int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range dd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; next.Add(1) <= int64(b.N); k++ {
				write(i, k)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// history builds, once per process, a document with n revisions of
// typing-sized edits on about a thousand lines of code, written directly in
// large transactions (snapshots included, as the edit path writes them).
type history struct {
	m     *Manager
	id    string
	n     int
	texts map[uint64]string // a few revisions' texts, to check against
}

func bigHistory(b *testing.B) *history {
	var hist *history
	func() {
		m, err := Open(filepath.Join(b.TempDir(), "hist.db"), Config{})
		if err != nil {
			b.Fatal(err)
		}
		const n = 100_000
		var lines strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&lines, "\tx%d := compute(%d) // step %d\n", i, i*7, i)
		}
		meta, err := m.Create(CreateParams{Name: "big.go", Text: lines.String(), Author: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		text := rope.New(lines.String())
		rng := rand.New(rand.NewPCG(42, 7))
		authors := []string{"alice", "bob", "carol", "dave"}
		rev := uint64(1)
		h := &history{m: m, id: meta.ID, n: n, texts: map[uint64]string{}}
		for rev < n {
			err := m.store.db.Update(func(tx *bolt.Tx) error {
				for k := 0; k < 10_000 && rev < n; k++ {
					size := text.Len()
					var op ot.Operation
					p := rng.IntN(size)
					switch r := rng.IntN(10); {
					case r < 6:
						op.Retain(p).Insert("abcdefgh\n"[r : r+1]).Retain(size - p)
					case r < 9:
						op.Retain(p).Delete(1).Retain(size - p - 1)
					default:
						op.Retain(p).Insert("\tnewLine()\n").Retain(size - p)
					}
					var err error
					if text, err = op.ApplyRope(text); err != nil {
						return err
					}
					rev++
					r := Revision{Rev: rev, Op: op, Author: authors[rng.IntN(len(authors))], Time: time.Unix(1_800_000_000+int64(rev), 0)}
					if err := m.store.appendRevision(tx, meta.ID, r, text); err != nil {
						return err
					}
					if rev%25_000 == 0 {
						h.texts[rev] = text.String()
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		h.texts[rev] = text.String()
		hist = h
		b.Cleanup(func() { m.Close() })
	}()
	if hist == nil {
		b.Fatal("building the history failed")
	}
	return hist
}

func BenchmarkHistory100k(b *testing.B) {
	h := bigHistory(b)
	rng := rand.New(rand.NewPCG(1, 2))
	for rev, want := range h.texts {
		if got, err := h.m.TextAt(h.id, rev); err != nil || got.String() != want {
			b.Fatalf("TextAt(%d) is wrong (%v)", rev, err)
		}
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := h.m.store.load(h.id, h.m.cfg.Window); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("text-at-any-revision", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.m.TextAt(h.id, 1+uint64(rng.IntN(h.n))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-of-100-revisions", func(b *testing.B) {
		for b.Loop() {
			if revs, err := h.m.Revisions(h.id, uint64(rng.IntN(h.n-100)), 100); err != nil || len(revs) != 100 {
				b.Fatal(err, len(revs))
			}
		}
	})
	b.Run("diff-any-two-revisions", func(b *testing.B) {
		for b.Loop() {
			from, to := uint64(rng.IntN(h.n)), uint64(rng.IntN(h.n))
			if _, err := h.m.Changes(h.id, from, to); err != nil {
				b.Fatal(err)
			}
		}
	})
	start := time.Now()
	if _, err := h.m.Blame(h.id, uint64(h.n)); err != nil {
		b.Fatal(err)
	}
	b.Logf("first (cold) blame over %d revisions: %v; it saves checkpoints for later ones", h.n, time.Since(start))
	h.m.Do(func(*bolt.Tx) error { return nil }) // the checkpoints are written
	b.Run("blame-1000-lines", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.m.Blame(h.id, 1+uint64(rng.IntN(h.n))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOfflineClient submits an edit made 10,000 revisions ago: it is
// transformed over history read from disk (the in-memory window is 1,024).
func BenchmarkOfflineClient(b *testing.B) {
	m := openTest(b, Config{})
	meta, err := m.Create(CreateParams{Name: "o.txt", Text: "seed"})
	if err != nil {
		b.Fatal(err)
	}
	// Revisions 2..12001: one character typed at the start each time.
	text := rope.New("seed")
	rev := uint64(1)
	err = m.store.db.Update(func(tx *bolt.Tx) error {
		for range 12_000 {
			op := *new(ot.Operation).Insert("x").Retain(text.Len())
			text, _ = op.ApplyRope(text)
			rev++
			if err := m.store.appendRevision(tx, meta.ID, Revision{Rev: rev, Op: op, Time: time.Now()}, text); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Release()
	for i := 0; b.Loop(); i++ {
		_, head, _ := d.Text()
		base := head - 10_000
		// The text at base has 4+(base-1) code points.
		op := *new(ot.Operation).Retain(int(base + 3)).Insert("!")
		res, err := d.Submit(Edit{Base: base, Op: op, OpID: fmt.Sprintf("off:%d", i+1)})
		if err != nil || res.Depth != 10_000 {
			b.Fatal(err, res.Depth)
		}
	}
}
