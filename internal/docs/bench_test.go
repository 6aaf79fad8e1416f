package docs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
)

// Run the benchmarks for a while each, not a fixed count: BenchmarkCommit
// reports throughput over b.N writes, which needs thousands of them.
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/docs/

// BenchmarkCommit compares durable writes to 64 documents edited at once,
// one writer per document waiting for each edit like a realtime client:
// "per-op" appends each revision in its own bbolt transaction (one fsync
// each), "grouped" goes through Document.Submit and the group commit.
// Both append the same revisions; fsync is on in both.
func BenchmarkCommit(b *testing.B) {
	const docs = 64
	setup := func(b *testing.B, cfg Config) (*Manager, []*Document) {
		m := openTest(b, cfg)
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
	// typed is writer i's k-th edit (from 0): a character typed at the end.
	typed := func(k int) ot.Operation { return *new(ot.Operation).Retain(1 + k).Insert("y") }
	b.Run("per-op", func(b *testing.B) {
		m, dd := setup(b, Config{})
		concurrently(b, docs, func(i int, next func() bool) {
			text := rope.New("x")
			for k := 0; next(); k++ {
				r := Revision{Rev: uint64(k + 2), Op: typed(k), Author: "b", OpID: fmt.Sprintf("c%d:%d", i, k+1), Time: time.Now()}
				text, _ = r.Op.ApplyRope(text)
				err := updateDB(m.store.db, func(tx *kv.Tx) error { return m.store.appendRevision(tx, dd[i].id, r, text) })
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// grouped submits through the edit path and the group commit: to the
	// revision log, or with direct straight to bbolt.
	grouped := func(b *testing.B, direct bool) {
		var batches, writes, took atomic.Int64
		_, dd := setup(b, Config{DirectCommits: direct, OnCommit: func(n int, d time.Duration) {
			batches.Add(1)
			writes.Add(int64(n))
			took.Add(int64(d))
		}})
		batches.Store(0)
		writes.Store(0)
		took.Store(0)
		// bbolt pages written per commit (by checkpoints, with the log).
		before := dd[0].m.store.db.Stats()
		defer func() {
			after := dd[0].m.store.db.Stats()
			if n := batches.Load(); n > 0 {
				b.ReportMetric(float64(after.TxStats.Write-before.TxStats.Write)/float64(n), "pages/commit")
			}
		}()
		concurrently(b, docs, func(i int, next func() bool) {
			for k := 0; next(); k++ {
				_, err := dd[i].Submit(Edit{Base: uint64(k + 1), Op: typed(k), Author: "b", OpID: fmt.Sprintf("c%d:%d", i, k+1)})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		if n := batches.Load(); n > 0 {
			b.ReportMetric(float64(writes.Load())/float64(n), "ops/commit")
			b.ReportMetric(float64(took.Load())/float64(n)/1e3, "µs/commit")
		}
	}
	b.Run("grouped", func(b *testing.B) { grouped(b, false) })
	b.Run("grouped-direct", func(b *testing.B) { grouped(b, true) })
}

// concurrently runs writers goroutines, each calling write(i, next) which
// writes while next() says so: b.N writes in all. It reports them as
// "ops/s".
func concurrently(b *testing.B, writers int, write func(i int, next func() bool)) {
	b.ReportAllocs()
	var count atomic.Int64
	next := func() bool { return count.Add(1) <= int64(b.N) }
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range writers {
		wg.Go(func() { write(i, next) })
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkOfflineClient submits edits made 10,000 revisions ago: each is
// transformed over history read from disk (the in-memory window is 1,024).
func BenchmarkOfflineClient(b *testing.B) {
	m := openTest(b, Config{})
	meta, err := m.Create(CreateParams{Name: "o.go", Text: "package o\n"})
	if err != nil {
		b.Fatal(err)
	}
	// Revisions 2..12001: typing all over the text, so the edit has
	// something to be transformed over.
	rng := rand.New(rand.NewPCG(3, 4))
	text := rope.New("package o\n")
	const revs = 12_000
	err = updateDB(m.store.db, func(tx *kv.Tx) error {
		for rev := uint64(2); rev <= revs+1; rev++ {
			p := rng.IntN(text.Len() + 1)
			op := *new(ot.Operation).Retain(p).Insert("abc\n"[rng.IntN(4):][:1]).Retain(text.Len() - p)
			text, _ = op.ApplyRope(text)
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
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, head, _ := d.Text()
		base := head - 10_000
		// Every revision adds one code point: the text at base has
		// 10+(base-1).
		op := *new(ot.Operation).Retain(int(base+9) / 2).Insert("!").Retain(int(base+9) - int(base+9)/2)
		res, err := d.Submit(Edit{Base: base, Op: op, OpID: fmt.Sprintf("off:%d", i+1)})
		if err != nil || res.Depth != 10_000 {
			b.Fatal(err, res.Depth)
		}
	}
	b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "revs-transformed/s")
}

// history is a document with a long history, built once per process and
// shared by the benchmarks below.
type history struct {
	m     *Manager
	id    string
	n     uint64            // its revisions
	clock atomic.Int64      // the manager's clock (unix nanoseconds), for Sweep
	texts map[uint64]string // some revisions' texts, to check against
	lines int               // lines at the end

	indexTook time.Duration // to write its blame checkpoints
}

var shared struct {
	once sync.Once
	dir  string
	h    *history
	err  error
}

// sharedHistory returns the 100,000-revision history, building it the
// first time.
func sharedHistory(b *testing.B) *history {
	shared.once.Do(func() {
		start := time.Now()
		shared.dir, shared.err = os.MkdirTemp("", "docs-bench-")
		if shared.err == nil {
			shared.h, shared.err = buildHistory(filepath.Join(shared.dir, "hist.db"), 100_000, 1000)
		}
		if shared.err == nil {
			b.Logf("built a document with %d revisions and %d lines in %v", shared.h.n, shared.h.lines, time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		b.Fatal(shared.err)
	}
	return shared.h
}

// closeSharedHistory closes and removes the shared histories, if built.
func closeSharedHistory() {
	if shared.h != nil {
		shared.h.m.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	if bigHistory.dir != "" {
		os.RemoveAll(bigHistory.dir)
	}
}

// codeLine returns a line of Go-like code.
func codeLine(rng *rand.Rand) string {
	k := rng.IntN(1000)
	switch rng.IntN(8) {
	case 0:
		return fmt.Sprintf("func step%d(ctx context.Context, x int) (int, error) {\n", k)
	case 1:
		return fmt.Sprintf("\tif err := check%d(ctx, x); err != nil {\n", k)
	case 2:
		return fmt.Sprintf("\t\treturn 0, fmt.Errorf(\"step %d: %%w\", err)\n", k)
	case 3:
		return "\t}\n"
	case 4:
		return "\n"
	case 5:
		return fmt.Sprintf("\t// Step %d keeps the invariant; see the package doc.\n", k)
	case 6:
		return fmt.Sprintf("\tx%d := compute(x, %d) * scale\n", k, k*7)
	}
	return "}\n"
}

// buildHistory writes a document of n revisions made the way people edit
// code: bursts of typing (one revision a character) and backspacing at
// random places, lines pasted and deleted, lines split and joined; about
// maxLines lines throughout, by four authors with realtime op ids. It
// appends to the log directly, in large transactions, writing snapshots
// as the edit path does, and then the blame checkpoints the indexer would
// have written as the log grew.
func buildHistory(path string, n uint64, maxLines int) (*history, error) {
	h := &history{n: n, texts: map[uint64]string{}}
	h.clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m, err := Open(path, Config{Now: func() time.Time { return time.Unix(0, h.clock.Load()) }})
	if err != nil {
		return nil, err
	}
	h.m = m
	rng := rand.New(rand.NewPCG(42, 7))
	var first []string // each ends in '\n'
	for len(first) < maxLines*95/100 {
		first = append(first, codeLine(rng))
	}
	meta, err := m.Create(CreateParams{Name: "big.go", Text: strings.Join(first, ""), Author: "alice"})
	if err != nil {
		m.Close()
		return nil, err
	}
	h.id = meta.ID
	lens := make([]int, len(first)) // code points per line, with its '\n'
	for i, l := range first {
		lens[i] = len([]rune(l))
	}
	text := rope.New(strings.Join(first, ""))
	authors := []string{"alice", "bob", "carol", "dave"}
	seqs := make([]int, len(authors))
	rev := uint64(1)
	lineStart := func(k int) int {
		p := 0
		for _, l := range lens[:k] {
			p += l
		}
		return p
	}
	// edits are the revisions of one session of one author.
	var edits []ot.Operation
	session := func() {
		size := text.Len()
		k := rng.IntN(len(lens))
		at := lineStart(k)
		edit := func(pos, del int, ins string) {
			edits = append(edits, *new(ot.Operation).Retain(pos).Insert(ins).Delete(del).Retain(size - pos - del))
			size += len([]rune(ins)) - del
		}
		switch r := rng.IntN(100); {
		case r < 80: // type a word inside line k, maybe fix a typo
			col := rng.IntN(lens[k])
			word := []string{"value", "err", "ctx", "x", " + 1", "(y)", "return", "nil", "count"}[rng.IntN(9)]
			for i, c := range word {
				edit(at+col+i, 0, string(c))
			}
			lens[k] += len(word)
			if rng.IntN(4) == 0 {
				back := 1 + rng.IntN(min(3, len(word)))
				for i := range back {
					edit(at+col+len(word)-1-i, 1, "")
				}
				lens[k] -= back
			}
		case r < 90 && len(lens) < maxLines || r < 86: // paste a line above line k
			l := codeLine(rng)
			edit(at, 0, l)
			lens = append(lens[:k], append([]int{len([]rune(l))}, lens[k:]...)...)
		case r < 98: // delete line k
			if len(lens) > 1 {
				edit(at, lens[k], "")
				lens = append(lens[:k], lens[k+1:]...)
			}
		case r < 99: // Enter inside line k
			col := rng.IntN(lens[k])
			edit(at+col, 0, "\n")
			lens = append(lens[:k], append([]int{col + 1, lens[k] - col}, lens[k+1:]...)...)
		default: // join line k and the next
			if k+1 < len(lens) {
				edit(at+lens[k]-1, 1, "")
				lens = append(lens[:k], append([]int{lens[k] + lens[k+1] - 1}, lens[k+2:]...)...)
			}
		}
	}
	for rev < n {
		err := updateDB(m.store.db, func(tx *kv.Tx) error {
			for range 10_000 {
				if rev == n {
					return nil
				}
				for len(edits) == 0 {
					session()
				}
				op := edits[0]
				edits = edits[1:]
				var err error
				if text, err = op.ApplyRope(text); err != nil {
					return err
				}
				a := rng.IntN(len(authors))
				seqs[a]++
				rev++
				h.clock.Add(int64(300 * time.Millisecond))
				r := Revision{Rev: rev, Op: op, Author: authors[a], OpID: fmt.Sprintf("%s-tab:%d", authors[a], seqs[a]), Time: time.Unix(0, h.clock.Load())}
				if err := m.store.appendRevision(tx, h.id, r, text); err != nil {
					return err
				}
				if rev%25_000 == 0 {
					h.texts[rev] = text.String()
				}
			}
			return nil
		})
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	h.texts[rev] = text.String()
	h.lines = strings.Count(h.texts[rev], "\n") + 1
	// The log was written directly, so the blame indexer did not see it
	// grow: write the checkpoints it would have written, as one pass.
	start := time.Now()
	if err := m.indexBlame(h.id, n); err != nil {
		m.Close()
		return nil, err
	}
	h.indexTook = time.Since(start)
	for rev, want := range h.texts {
		if got, err := m.TextAt(h.id, rev); err != nil || got.String() != want {
			m.Close()
			return nil, fmt.Errorf("TextAt(%d) of the built history is wrong (%v)", rev, err)
		}
	}
	return h, nil
}

// BenchmarkOpen loads the document cold, as the first user to open it
// after it was unloaded does: the newest snapshot, the log since, and the
// last 1,024 revisions.
func BenchmarkOpen(b *testing.B) {
	h := sharedHistory(b)
	b.ReportAllocs()
	for b.Loop() {
		d, err := h.m.Open(h.id)
		if err != nil {
			b.Fatal(err)
		}
		d.Release()
		h.clock.Add(int64(time.Hour))
		if n := h.m.Sweep(); n != 1 {
			b.Fatalf("swept %d documents", n)
		}
	}
}

// BenchmarkTextAt reads the text at a random revision.
func BenchmarkTextAt(b *testing.B) {
	h := sharedHistory(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.m.TextAt(h.id, 1+rng.Uint64N(h.n)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevisionsPage reads 100 revisions at a random offset.
func BenchmarkRevisionsPage(b *testing.B) {
	h := sharedHistory(b)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		if revs, err := h.m.Revisions(h.id, rng.Uint64N(h.n-100), 100); err != nil || len(revs) != 100 {
			b.Fatal(err, len(revs))
		}
	}
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "revs/s")
}

// BenchmarkBlame blames a random revision of the thousand-line file, with
// the checkpoints the indexer keeps (one every SnapshotEvery revisions),
// as any blame on a live server finds them.
func BenchmarkBlame(b *testing.B) {
	h := sharedHistory(b)
	b.Logf("indexing the blame of %d revisions took %v (%v a checkpoint)", h.n, h.indexTook.Round(time.Millisecond),
		(h.indexTook / time.Duration(h.n/uint64(h.m.cfg.SnapshotEvery))).Round(time.Microsecond))
	rng := rand.New(rand.NewPCG(5, 6))
	lines := 0
	b.ReportAllocs()
	for b.Loop() {
		bl, err := h.m.Blame(h.id, 1+rng.Uint64N(h.n))
		if err != nil {
			b.Fatal(err)
		}
		lines += len(bl)
	}
	b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
}

// BenchmarkChanges computes the change between two random revisions:
// composed from the log when they are close, a line diff of the two texts
// when not.
func BenchmarkChanges(b *testing.B) {
	h := sharedHistory(b)
	rng := rand.New(rand.NewPCG(7, 8))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.m.Changes(h.id, rng.Uint64N(h.n+1), rng.Uint64N(h.n+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// bigHistory is the 5 MB document of 100,000 revisions, built once per
// process into a file of its own, closed: the file as a server that wrote
// it left it when it stopped.
var bigHistory struct {
	once  sync.Once
	dir   string
	path  string
	id    string
	n     uint64
	lines int
	bytes int
	err   error
}

// sharedBigHistory returns the path of the 5 MB history, building it the
// first time.
func sharedBigHistory(b *testing.B) string {
	h := &bigHistory
	h.once.Do(func() {
		start := time.Now()
		if h.dir, h.err = os.MkdirTemp("", "docs-bench-big-"); h.err != nil {
			return
		}
		h.path = filepath.Join(h.dir, "big.db")
		// codeLine averages 28 bytes: 185,000 lines are 5 MB.
		built, err := buildHistory(h.path, 100_000, 185_000)
		if err != nil {
			h.err = err
			return
		}
		h.id, h.n, h.lines, h.bytes = built.id, built.n, built.lines, len(built.texts[built.n])
		var checkpoints, size int
		viewDB(built.m.store.db, func(tx *kv.Tx) error {
			return tx.Bucket(bucketDoc).Bucket([]byte(h.id)).Bucket(subBlame).ForEach(func(_, v []byte) error {
				checkpoints, size = checkpoints+1, size+len(v)
				return nil
			})
		})
		if h.err = built.m.Close(); h.err == nil {
			b.Logf("built a document of %d revisions, %d lines and %.1f MB in %v; the indexer took %v for %d blame checkpoints of %.1f MB",
				h.n, h.lines, float64(h.bytes)/(1<<20), time.Since(start).Round(time.Millisecond),
				built.indexTook.Round(time.Millisecond), checkpoints, float64(size)/(1<<20))
		}
	})
	if h.err != nil {
		b.Fatal(h.err)
	}
	return h.path
}

// copyBigHistory copies the 5 MB history's files to a new path under
// dir, for a benchmark to open as a server starting on them would.
func copyBigHistory(b *testing.B, dir string) string {
	src := sharedBigHistory(b)
	dst := filepath.Join(dir, fmt.Sprintf("copy%d.db", time.Now().UnixNano()))
	for _, suffix := range []string{"", ".wal"} {
		data, err := os.ReadFile(src + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err == nil {
			err = os.WriteFile(dst+suffix, data, 0o600)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return dst
}

// BenchmarkBlameCold blames the head of the 5 MB, 100,000-revision
// document right after a restart: each iteration opens a fresh copy of
// the file as the server left it, so that nothing of the document is in
// memory, and times its first blame. "indexed" has the checkpoints the
// indexer wrote as the log grew; "unindexed" none (a file from before
// the indexer kept big documents': its first blame replays every
// revision, and has the indexer write them).
func BenchmarkBlameCold(b *testing.B) {
	sharedBigHistory(b)
	for _, indexed := range []bool{true, false} {
		name := map[bool]string{true: "indexed", false: "unindexed"}[indexed]
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			lines := 0
			b.ReportAllocs()
			b.StopTimer()
			for range b.N {
				path := copyBigHistory(b, dir)
				m, err := Open(path, Config{})
				if err != nil {
					b.Fatal(err)
				}
				if !indexed {
					err := updateDB(m.store.db, func(tx *kv.Tx) error {
						doc := tx.Bucket(bucketDoc).Bucket([]byte(bigHistory.id))
						if err := doc.DeleteBucket(subBlame); err != nil {
							return err
						}
						_, err := doc.CreateBucket(subBlame)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				bl, err := m.Blame(bigHistory.id, bigHistory.n)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				lines += len(bl)
				m.Close()
				os.Remove(path)
				os.Remove(path + ".wal")
			}
			b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
		})
	}
}

// BenchmarkBlameBig blames a random revision of the 5 MB document on a
// running server.
func BenchmarkBlameBig(b *testing.B) {
	m, err := Open(copyBigHistory(b, b.TempDir()), Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	lines := 0
	b.ReportAllocs()
	for b.Loop() {
		bl, err := m.Blame(bigHistory.id, 1+rng.Uint64N(bigHistory.n))
		if err != nil {
			b.Fatal(err)
		}
		lines += len(bl)
	}
	b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
}
