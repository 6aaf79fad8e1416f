package docs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/ot"
	bolt "go.etcd.io/bbolt"
)

// blameCase edits the text at one revision: op made by author, and the
// revision each line should be blamed on afterwards, top to bottom
// (strings.Split lines: a text ending in "\n" has an empty last line,
// which nothing wrote and which is blamed on revision 0).
type blameCase struct {
	name   string
	author string
	op     func(text string) ot.Operation
	want   []uint64
}

// at returns an edit that deletes del code points at the first occurrence
// of anchor (plus skip code points) and inserts ins there.
func at(anchor string, skip, del int, ins string) func(string) ot.Operation {
	return func(text string) ot.Operation {
		i := strings.Index(text, anchor)
		if i < 0 {
			panic(fmt.Sprintf("%q not in %q", anchor, text))
		}
		pos := utf8.RuneCountInString(text[:i]) + skip
		return *new(ot.Operation).Retain(pos).Insert(ins).Delete(del).Retain(utf8.RuneCountInString(text) - pos - del)
	}
}

// TestBlameHandMade follows one document through edits whose blame is
// known: each revision's blame is checked right after it, and again at
// the end, read from the history.
func TestBlameHandMade(t *testing.T) {
	m := openTest(t, Config{SnapshotEvery: 3})
	meta, d := createOpen(t, m, CreateParams{Name: "b.go", Text: "one\ntwo\nthree\n", Author: "ann"})
	authors := map[uint64]string{0: "", 1: "ann"}
	wants := map[uint64][]uint64{1: {1, 1, 1, 0}}
	check := func(rev uint64) {
		t.Helper()
		got, err := m.Blame(meta.ID, rev)
		if err != nil {
			t.Fatal(err)
		}
		text, err := m.TextAt(meta.ID, rev)
		if err != nil {
			t.Fatal(err)
		}
		revs := make([]uint64, len(got))
		for i, l := range got {
			revs[i] = l.Rev
			if l.Line != i+1 || l.Author != authors[l.Rev] {
				t.Errorf("revision %d, line %d: %+v; revision %d is by %q", rev, i+1, l, l.Rev, authors[l.Rev])
			}
		}
		if !slices.Equal(revs, wants[rev]) {
			t.Errorf("blame at revision %d of\n%s\n= %v, want %v", rev, text.String(), revs, wants[rev])
		}
	}
	check(1)
	for i, c := range []blameCase{
		{"a line inserted at the top", "bob", at("one", 0, 0, "zero\n"), []uint64{2, 1, 1, 1, 0}},
		{"one line edited", "cat", at("two", 1, 2, "WO!"), []uint64{2, 1, 3, 1, 0}},
		{"a whole line deleted", "dan", at("one", 0, 4, ""), []uint64{2, 3, 1, 0}},
		{"a multi-line paste at a line start", "eve", at("three", 0, 0, "a\nb\nc\n"), []uint64{2, 3, 5, 5, 5, 1, 0}},
		{"a multi-line paste inside a line", "fay", at("tWO!", 2, 0, "<\n>"), []uint64{2, 6, 6, 5, 5, 5, 1, 0}},
		{"lines joined", "gus", at("zero", 4, 1, ""), []uint64{7, 6, 5, 5, 5, 1, 0}},
		{"Enter at the end of a line", "hal", at("tW<", 3, 0, "\n"), []uint64{7, 8, 6, 5, 5, 5, 1, 0}},
		{"typing on the new line", "ida", at("tW<\n", 4, 0, "new"), []uint64{7, 9, 6, 5, 5, 5, 1, 0}},
		{"from the end of a line to the end of the next deleted", "joe", at("tW<\n", 3, 4, ""), []uint64{7, 6, 5, 5, 5, 1, 0}},
		{"the last line deleted", "jon", at("three", 0, 6, ""), []uint64{7, 6, 5, 5, 5, 0}},
		// What is left is the empty last line, which nothing wrote.
		{"everything deleted", "kim", func(text string) ot.Operation {
			return *new(ot.Operation).Delete(utf8.RuneCountInString(text))
		}, []uint64{0}},
	} {
		text, rev, _ := d.Text()
		res, err := d.Submit(Edit{Base: rev, Op: c.op(text.String()), Author: c.author})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Rev != uint64(i+2) {
			t.Fatalf("%s became revision %d", c.name, res.Rev)
		}
		authors[res.Rev], wants[res.Rev] = c.author, c.want
		t.Run(c.name, func(t *testing.T) { check(res.Rev) })
	}
	m.Do(func(*bolt.Tx) error { return nil }) // checkpoints are written
	for rev := range wants {
		check(rev)
	}
}

// randomLineEdit returns an edit of text of up to five changes that start
// and end at line boundaries as often as anywhere: whole lines deleted,
// lines pasted, lines joined and split.
func randomLineEdit(rng *rand.Rand, text string) ot.Operation {
	runes := []rune(text)
	bounds := []int{0, len(runes)}
	for i, r := range runes {
		if r == '\n' {
			bounds = append(bounds, i, i+1)
		}
	}
	cuts := []int{0, len(runes)}
	for range rng.IntN(10) {
		if rng.IntN(2) == 0 {
			cuts = append(cuts, bounds[rng.IntN(len(bounds))])
		} else {
			cuts = append(cuts, rng.IntN(len(runes)+1))
		}
	}
	slices.Sort(cuts)
	var op ot.Operation
	for i := range len(cuts) - 1 {
		if rng.IntN(3) == 0 {
			op.Insert(randomText(rng))
		}
		if n := cuts[i+1] - cuts[i]; rng.IntN(3) == 0 {
			op.Delete(n)
		} else {
			op.Retain(n)
		}
	}
	if rng.IntN(3) == 0 {
		op.Insert(randomText(rng))
	}
	return op
}

// checkBlameApply blames each line of text on its line number, applies op
// as revision 1<<20, and checks the result against the new text: one
// entry per strings.Split line, of that line's length; a line not blamed
// on the new revision is, unchanged, the old line it is blamed on, and
// such lines keep their order.
func checkBlameApply(t *testing.T, text string, op ot.Operation) {
	t.Helper()
	const newRev = 1 << 20
	old := strings.Split(text, "\n")
	lines := make([]blameLine, len(old))
	for i, l := range old {
		lines[i] = blameLine{n: utf8.RuneCountInString(l) + 1, rev: uint64(i + 1)}
	}
	lines[len(lines)-1].n--
	after, err := op.Apply(text)
	if err != nil {
		t.Fatal(err)
	}
	got := blameApply(lines, slices.Collect(op.Components()), newRev, 1)
	want := strings.Split(after, "\n")
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q, edited by %v, gives %q; blame %v: %s", text, op, after, got, fmt.Sprintf(format, args...))
	}
	// blameText.edit gives the same, in chunks of any size.
	for _, chunk := range []int{1, 4, 7, blameChunk} {
		bt := chunkedBlame(slices.Clone(lines), []string{""}, chunk)
		if err := bt.edit(Revision{Rev: newRev, Op: op, Author: "new"}); err != nil {
			fail("edit: %v", err)
		}
		if windowed := flatBlame(t, bt); !slices.Equal(windowed, got) {
			fail("blameText.edit in chunks of %d lines gives %v", chunk, windowed)
		}
	}
	if len(got) != len(want) {
		fail("%d lines, want %d", len(got), len(want))
	}
	prev := uint64(0)
	for i, l := range got {
		n := utf8.RuneCountInString(want[i])
		if i < len(want)-1 {
			n++
		}
		if l.n != n {
			fail("line %d is %d code points long, want %d", i+1, l.n, n)
		}
		if l.rev == newRev {
			if l.who != 1 {
				fail("line %d is blamed on the new revision but author %d", i+1, l.who)
			}
			continue
		}
		if l.rev <= prev || l.rev > uint64(len(old)) {
			fail("line %d is blamed on old line %d after old line %d", i+1, l.rev, prev)
		}
		prev = l.rev
		if want[i] != old[l.rev-1] || (i == len(want)-1) != (l.rev == uint64(len(old))) {
			fail("line %d, %q, is blamed on old line %d, %q, but was changed", i+1, want[i], l.rev, old[l.rev-1])
		}
	}
}

// flatBlame returns bt's lines, after checking that its chunks are as
// blameText keeps them: none empty, each of at most 2*bt.chunk lines and,
// when there are several, at least bt.chunk/4; their sizes and total
// right.
func flatBlame(t *testing.T, bt *blameText) []blameLine {
	t.Helper()
	var lines []blameLine
	total := 0
	if len(bt.chunks) == 0 || len(bt.chunks) != len(bt.sizes) {
		t.Fatalf("%d chunks, %d sizes", len(bt.chunks), len(bt.sizes))
	}
	for i, c := range bt.chunks {
		if len(c) == 0 || len(c) > 2*bt.chunk || len(bt.chunks) > 1 && len(c) < bt.chunk/4 {
			t.Fatalf("chunk %d of %d has %d lines (chunks of %d)", i, len(bt.chunks), len(c), bt.chunk)
		}
		if n := sumLines(c); n != bt.sizes[i] {
			t.Fatalf("chunk %d has %d code points, its size says %d", i, n, bt.sizes[i])
		}
		total += bt.sizes[i]
		lines = append(lines, c...)
	}
	if total != bt.total {
		t.Fatalf("%d code points, the total says %d", total, bt.total)
	}
	return lines
}

// checkRandomBlames runs checkBlameApply on n random edits (character or
// line-wise, half each) of texts of pieces() random texts, each followed
// by a newline when newline() says so.
func checkRandomBlames(t *testing.T, rng *rand.Rand, n int, pieces func() int, newline func() bool) {
	t.Helper()
	for range n {
		var b strings.Builder
		for range pieces() {
			b.WriteString(randomText(rng))
			if newline() {
				b.WriteString("\n")
			}
		}
		text := b.String()
		if rng.IntN(2) == 0 {
			checkBlameApply(t, text, randomEdit(rng, text))
		} else {
			checkBlameApply(t, text, randomLineEdit(rng, text))
		}
	}
}

// TestBlameApplyLines runs checkBlameApply on random edits of random
// texts.
func TestBlameApplyLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(newSeed(t), 0))
	checkRandomBlames(t, rng, 30_000, func() int { return rng.IntN(12) }, func() bool { return false })
}

// TestBlameEditLongTexts runs checkBlameApply (which also checks that
// blameEdit agrees with blameApply) on texts of many lines, where
// blameEdit's window is a small part of the text.
func TestBlameEditLongTexts(t *testing.T) {
	rng := rand.New(rand.NewPCG(newSeed(t), 1))
	checkRandomBlames(t, rng, 3_000, func() int { return 20 + rng.IntN(80) }, func() bool { return rng.IntN(3) != 0 })
}

// FuzzBlameApply runs checkBlameApply on a text and an edit of it spelled
// by prog: each byte retains, deletes (up to 8 code points, by its high
// bits) or inserts "\n" or "x"; what prog leaves of the text is retained.
func FuzzBlameApply(f *testing.F) {
	f.Add("one\ntwo\nthree\n", []byte{4 * 3, 2, 0, 4*3 + 1, 3})
	f.Add("a\n\nb", []byte{2, 5, 1})
	f.Add("", []byte{2, 3, 2})
	f.Add("x\ny\n", []byte{4*0 + 0, 2, 4*1 + 1})
	f.Fuzz(func(t *testing.T, text string, prog []byte) {
		if !utf8.ValidString(text) {
			return
		}
		n := utf8.RuneCountInString(text)
		var op ot.Operation
		pos := 0
		for _, b := range prog {
			k := min(int(b>>2)%8+1, n-pos)
			switch b & 3 {
			case 0:
				op.Retain(k)
				pos += k
			case 1:
				op.Delete(k)
				pos += k
			case 2:
				op.Insert("\n")
			case 3:
				op.Insert("x")
			}
		}
		op.Retain(n - pos)
		checkBlameApply(t, text, op)
	})
}

// TestBlameCheckpoints builds one random history in two databases, one
// that keeps blame checkpoints every 7 revisions and one that never does,
// and checks that blame agrees at every revision, asked in random order
// while the checkpoints are being made and again once they all are.
func TestBlameCheckpoints(t *testing.T) {
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	with := openTest(t, Config{SnapshotEvery: 7})
	without := openTest(t, Config{SnapshotEvery: 1 << 30})
	const revs = 300
	var ids [2]string
	for i, m := range []*Manager{with, without} {
		meta, err := m.Create(CreateParams{Name: "c.go", Text: "package c\n\nfunc f() {\n}\n", Author: "a0"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = meta.ID
	}
	text := "package c\n\nfunc f() {\n}\n"
	for rev := uint64(1); rev < revs; rev++ { // revision 1 is the creation
		op := randomEdit(rng, text)
		if rng.IntN(3) == 0 {
			op = randomLineEdit(rng, text)
		}
		var err error
		if text, err = op.Apply(text); err != nil {
			t.Fatal(err)
		}
		author := fmt.Sprintf("a%d", rng.IntN(4))
		for i, m := range []*Manager{with, without} {
			d, err := m.Open(ids[i])
			if err != nil {
				t.Fatal(err)
			}
			res, err := d.Submit(Edit{Base: rev, Op: op, Author: author})
			d.Release()
			if err != nil || res.Rev != rev+1 {
				t.Fatalf("Submit: %+v, %v", res, err)
			}
		}
	}
	compare := func() {
		t.Helper()
		for _, rev := range rng.Perm(revs + 1) { // 0 to revs
			a, err := with.Blame(ids[0], uint64(rev))
			if err != nil {
				t.Fatal(err)
			}
			b, err := without.Blame(ids[1], uint64(rev))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a, b) {
				t.Fatalf("blame at revision %d: with checkpoints %v, without %v", rev, a, b)
			}
		}
	}
	compare()
	with.Do(func(*bolt.Tx) error { return nil })
	without.Do(func(*bolt.Tx) error { return nil })
	if n, want := blameCheckpoints(with, ids[0]), revs/7; n != want {
		t.Errorf("%d blame checkpoints, want %d", n, want)
	}
	if n := blameCheckpoints(without, ids[1]); n != 0 {
		t.Errorf("%d blame checkpoints without checkpoints", n)
	}
	compare()
}

// blameCheckpoints counts the blame checkpoints stored for a document.
func blameCheckpoints(m *Manager, id string) (n int) {
	m.Store().DB().View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketDoc).Bucket([]byte(id)).Bucket(subBlame).Stats().KeyN
		return nil
	})
	return n
}

// TestBlameIndexer: as a log grows through the edit path, a checkpoint is
// written at every multiple of SnapshotEvery without anyone asking for a
// blame, so no blame ever replays more than SnapshotEvery revisions.
func TestBlameIndexer(t *testing.T) {
	m := openTest(t, Config{SnapshotEvery: 5})
	meta, d := createOpen(t, m, CreateParams{Name: "i.go", Text: "a\n", Author: "a"})
	for rev := uint64(1); rev < 23; rev++ {
		op := *new(ot.Operation).Insert("x\n").Retain(int(rev) * 2)
		if _, err := d.Submit(Edit{Base: rev, Op: op, Author: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	// The indexer runs in the background: wait for it (the test's own
	// timeout bounds this).
	for blameCheckpoints(m, meta.ID) < 4 {
		m.Do(func(*bolt.Tx) error { return nil })
		time.Sleep(5 * time.Millisecond)
	}
	if n := blameCheckpoints(m, meta.ID); n != 4 {
		t.Fatalf("%d checkpoints after 23 revisions, want 4 (at 5, 10, 15, 20)", n)
	}
}
