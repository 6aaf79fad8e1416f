package docs

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
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
	// Again from the checkpoints, every 3 revisions.
	if err := m.indexBlame(meta.ID, uint64(len(wants))); err != nil {
		t.Fatal(err)
	}
	if n := blameCheckpoints(m, meta.ID); n != len(wants)/3 {
		t.Errorf("%d blame checkpoints, want %d", n, len(wants)/3)
	}
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
	for _, chunk := range []int{1, 4, 8, 13, blameChunk} {
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

// waitIndexed waits until cond holds, checked again each time one of m's
// indexers (blame checkpoints, session line counts) finishes a job,
// failing the test after 10 s.
func waitIndexed(t *testing.T, m *Manager, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-m.indexed:
		case <-timeout:
			t.Fatalf("waited 10 s for the indexers to write %s", what)
		}
	}
}

// blameCheckpoints counts the blame checkpoints stored for a document.
func blameCheckpoints(m *Manager, id string) (n int) {
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
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
	// The indexer runs in the background: wait for it.
	waitIndexed(t, m, "4 checkpoints", func() bool { return blameCheckpoints(m, meta.ID) >= 4 })
	if n := blameCheckpoints(m, meta.ID); n != 4 {
		t.Fatalf("%d checkpoints after 23 revisions, want 4 (at 5, 10, 15, 20)", n)
	}
}

// TestBlameTextChunks replays random edits into a blame kept in chunks of
// eight lines, which they split and join again and again, and checks it
// against blameApply over every line after each, and that a checkpoint of
// it decodes to the same lines.
func TestBlameTextChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(newSeed(t), 3))
	text := ""
	flat := []blameLine{{}}
	bt := chunkedBlame([]blameLine{{}}, []string{""}, 8)
	authors := []string{"", "ann", "bob", "cat"}
	for rev := uint64(1); rev <= 3000; rev++ {
		var op ot.Operation
		switch k := rng.IntN(10); {
		case text == "" || k == 0: // paste many lines
			var b strings.Builder
			for range rng.IntN(60) {
				b.WriteString(randomText(rng) + "\n")
			}
			at := rng.IntN(utf8.RuneCountInString(text) + 1)
			op = *new(ot.Operation).Retain(at).Insert(b.String() + "x").Retain(utf8.RuneCountInString(text) - at)
		case k < 3 || utf8.RuneCountInString(text) > 4000:
			op = randomLineEdit(rng, text)
		default:
			op = randomEdit(rng, text)
		}
		var err error
		if text, err = op.Apply(text); err != nil {
			t.Fatal(err)
		}
		who := 1 + rng.IntN(3)
		flat = blameApply(flat, slices.Collect(op.Components()), rev, uint32(who))
		r := Revision{Rev: rev, Op: op, Author: authors[who], Time: time.UnixMilli(int64(rev))}
		if err := bt.edit(r); err != nil {
			t.Fatal(err)
		}
		got := flatBlame(t, bt)
		if len(got) != len(flat) {
			t.Fatalf("revision %d: %d lines, want %d", rev, len(got), len(flat))
		}
		for i, l := range got {
			if l.n != flat[i].n || l.rev != flat[i].rev || bt.authors[l.who] != authors[flat[i].who] {
				t.Fatalf("revision %d, line %d: %+v by %q, want %+v by %q", rev, i+1, l, bt.authors[l.who], flat[i], authors[flat[i].who])
			}
		}
		if rev%97 == 0 {
			back, err := decodeBlame(encodeBlame(bt, r), r)
			if err != nil {
				t.Fatalf("revision %d: the checkpoint does not decode: %v", rev, err)
			}
			if a, b := back.blame(), bt.blame(); !slices.Equal(a, b) {
				t.Fatalf("revision %d: the checkpoint decodes to\n%v, want\n%v", rev, a, b)
			}
		}
	}
}

// replayAll is blame the plain way: every revision of revs, which are
// 1..n, replayed over every line from the empty text. It returns the
// blame at each revision, 0..n.
func replayAll(t *testing.T, revs []Revision) [][]BlameLine {
	t.Helper()
	lines := []blameLine{{}}
	authors := map[uint64]string{}
	out := make([][]BlameLine, 0, len(revs)+1)
	api := func() {
		bl := make([]BlameLine, len(lines))
		for i, l := range lines {
			bl[i] = BlameLine{Line: i + 1, Rev: l.rev, Author: authors[l.rev]}
		}
		out = append(out, bl)
	}
	api()
	for i, r := range revs {
		if r.Rev != uint64(i+1) {
			t.Fatalf("revision %d is numbered %d", i+1, r.Rev)
		}
		lines = blameApply(lines, slices.Collect(r.Op.Components()), r.Rev, 0)
		authors[r.Rev] = r.Author
		api()
	}
	return out
}

// checkBlames compares m's blame of document id at every revision with
// replayAll's.
func checkBlames(t *testing.T, m *Manager, id, when string) {
	t.Helper()
	revs, err := m.Revisions(id, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	want := replayAll(t, revs)
	for rev := range want {
		got, err := m.Blame(id, uint64(rev))
		if err != nil {
			t.Fatalf("%s: blame at revision %d: %v", when, rev, err)
		}
		if !slices.Equal(got, want[rev]) {
			for i := range min(len(got), len(want[rev])) {
				if got[i] != want[rev][i] {
					t.Fatalf("%s: blame at revision %d, line %d: %+v, want %+v (%d lines, want %d)", when, rev, i+1, got[i], want[rev][i], len(got), len(want[rev]))
				}
			}
			t.Fatalf("%s: blame at revision %d has %d lines, want %d", when, rev, len(got), len(want[rev]))
		}
	}
}

// getRev reads revision rev of document id from bbolt.
func getRev(tx *kv.Tx, id string, rev uint64) (Revision, error) {
	log, err := logBucket(tx, id)
	if err != nil {
		return Revision{}, err
	}
	return decodeRecord(rev, log.Get(revKey(rev)))
}

// blameKeys returns the revisions of a document's blame checkpoints, and
// whether each is sound (fits the revision it is stored under).
func blameKeys(t *testing.T, m *Manager, id string) (keys []uint64, sound []bool) {
	t.Helper()
	err := m.store.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		return v.tx.Bucket(bucketDoc).Bucket([]byte(id)).Bucket(subBlame).ForEach(func(k, val []byte) error {
			rev := binary.BigEndian.Uint64(k)
			r, ok, err := d.revision(rev)
			if err != nil {
				return err
			}
			_, bad := decodeBlame(val, r)
			keys, sound = append(keys, rev), append(sound, ok && bad == nil)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, sound
}

// TestBlameCold checks blame against replayAll at every revision of a
// random history — typing, line edits, pastes and restores of old
// revisions by several authors, on a text of hundreds of lines —
// while it is written with the indexer at work, after a restart, after a
// crash that left revisions only in the revision log (with checkpoints of
// them), with its checkpoints damaged in every way below, and with none.
// Blame of a damaged checkpoint falls back to replay, and the indexer
// repairs it.
func TestBlameCold(t *testing.T) {
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	path := filepath.Join(t.TempDir(), "cold.db")
	cfg := Config{SnapshotEvery: 4 + rng.IntN(8), CheckpointEvery: time.Hour}
	t.Logf("checkpoints every %d revisions", cfg.SnapshotEvery)
	m := openAt(t, path, cfg)
	var b strings.Builder
	for range 300 {
		b.WriteString(randomText(rng) + "\n")
	}
	meta, err := m.Create(CreateParams{Name: "cold.go", Text: b.String(), Author: "a0"})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.ID
	// edit makes n random revisions of document id in m, and now and
	// then brings its checkpoints up to one, as a blame that found them
	// behind would have the indexer do.
	edit := func(m *Manager, n int) {
		t.Helper()
		for range n {
			author := fmt.Sprintf("a%d", rng.IntN(4))
			d, err := m.Open(id)
			if err != nil {
				t.Fatal(err)
			}
			text, rev, _ := d.Text()
			var op ot.Operation
			switch k := rng.IntN(20); {
			case k == 0:
				_, err = m.Restore(id, 1+rng.Uint64N(rev), author)
			case k < 3:
				op = randomLineEdit(rng, text.String())
			case k < 4:
				var b strings.Builder
				for range rng.IntN(100) {
					b.WriteString(randomText(rng) + "\n")
				}
				at := rng.IntN(text.Len() + 1)
				op = *new(ot.Operation).Retain(at).Insert(b.String()).Retain(text.Len() - at)
			default:
				op = randomEdit(rng, text.String())
			}
			if !op.IsNoop() {
				_, err = d.Submit(Edit{Base: rev, Op: op, Author: author})
			}
			d.Release()
			if err != nil {
				t.Fatal(err)
			}
			if rng.IntN(30) == 0 {
				if err := m.indexBlame(id, 1+rng.Uint64N(rev+1)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	edit(m, 200)
	checkBlames(t, m, id, "live")

	m.Close()
	m = openAt(t, path, cfg)
	checkBlames(t, m, id, "after a restart")
	meta, err = m.Store().Meta(id) // all in bbolt, after a clean stop
	if err != nil {
		t.Fatal(err)
	}
	inBolt := meta.Rev

	// Revisions only in the log, with checkpoints of them.
	edit(m, 100)
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}
	meta, err = m.Store().Meta(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.indexBlame(id, meta.Rev); err != nil {
		t.Fatal(err)
	}
	checkBlames(t, m, id, "with revisions in the log")
	m = openAt(t, crashCopy(t, m, path), cfg)
	checkBlames(t, m, id, "after a crash")
	keys, sound := blameKeys(t, m, id)
	if len(keys) == 0 || keys[len(keys)-1] <= inBolt {
		t.Errorf("checkpoints %v, none of a revision that was only in the log (after %d)", keys, inBolt)
	}
	if slices.Contains(sound, false) {
		t.Errorf("checkpoints %v: sound %v after the crash", keys, sound)
	}

	// Damage: each checkpoint but the first two, in turn, deleted; a
	// byte of it changed; cut short; replaced by the one before (intact,
	// but of another revision, as one left behind by revisions a recovery
	// lost and that were written again); marked with a format to come,
	// with a CRC to match; replaced by an empty value; and replaced by a
	// checkpoint of another history, intact and of a text of the same
	// length, whose revision keys[i] was another edit.
	keys, _ = blameKeys(t, m, id)
	if len(keys) < 9 {
		t.Fatalf("only %d checkpoints", len(keys))
	}
	var damaged []uint64
	err = updateDB(m.store.db, func(tx *kv.Tx) error {
		bucket := tx.Bucket(bucketDoc).Bucket([]byte(id)).Bucket(subBlame)
		for i := 2; i < len(keys); i++ {
			k, prev := revKey(keys[i]), slices.Clone(bucket.Get(revKey(keys[i-1])))
			v := slices.Clone(bucket.Get(k))
			switch i % 7 {
			case 0:
				v = nil
			case 1:
				v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
			case 2:
				v = v[:rng.IntN(len(v))]
			case 3:
				v = prev
			case 4:
				body := slices.Clone(v[:len(v)-4])
				body[0] = blameFormat + 1
				v = binary.BigEndian.AppendUint32(body, crc32.Checksum(body, crcTable))
			case 5:
				v = []byte{}
			case 6:
				// Of another history, in which revision keys[i] is another
				// edit of the same lengths: every line blamed on revision
				// 1, by someone else.
				r, err := getRev(tx, id, keys[i])
				if err != nil {
					return err
				}
				bt, err := decodeBlame(v, r)
				if err != nil {
					return err
				}
				for _, c := range bt.chunks {
					for j := range c {
						c[j].rev, c[j].who = 1, bt.author("someone else")
					}
				}
				r.Time = r.Time.Add(time.Second)
				v = encodeBlame(bt, r)
			}
			damaged = append(damaged, keys[i])
			if v == nil {
				if err := bucket.Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := bucket.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBlames(t, m, id, "with damaged checkpoints")
	// The indexer repairs what a blame finds damaged.
	for _, rev := range damaged {
		if err := m.indexBlame(id, rev); err != nil {
			t.Fatal(err)
		}
	}
	keys, sound = blameKeys(t, m, id)
	for i, rev := range keys {
		if !sound[i] {
			t.Errorf("checkpoint %d is still damaged after the indexer's pass", rev)
		}
	}
	checkBlames(t, m, id, "with repaired checkpoints")

	dropBlame(t, m, id)
	checkBlames(t, m, id, "without checkpoints")
}

// TestBlameOldCheckpoints: checkpoints as blame kept them before they had
// a format, a fingerprint, a CRC and authors (uvarint count, then each
// line's code points and revision), at every third revision, are not
// sound: blame replays past them, and the indexer deletes them as it
// writes its own.
func TestBlameOldCheckpoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(newSeed(t), 5))
	m := openTest(t, Config{SnapshotEvery: 5, CheckpointEvery: time.Hour})
	meta, d := createOpen(t, m, CreateParams{Name: "o.go", Text: "package o\n", Author: "a"})
	for rev := uint64(1); rev <= 60; rev++ {
		text, _, _ := d.Text()
		if _, err := d.Submit(Edit{Base: rev, Op: randomEdit(rng, text.String()), Author: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	// The indexer's, from the edit path.
	waitIndexed(t, m, "12 checkpoints", func() bool { return blameCheckpoints(m, meta.ID) >= 12 })
	revs, err := m.Revisions(meta.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// What the indexer wrote goes; the old ones come.
	want := replayAll(t, revs)
	err = updateDB(m.store.db, func(tx *kv.Tx) error {
		doc := tx.Bucket(bucketDoc).Bucket([]byte(meta.ID))
		if err := doc.DeleteBucket(subBlame); err != nil {
			return err
		}
		bucket, err := doc.CreateBucket(subBlame)
		if err != nil {
			return err
		}
		lines := []blameLine{{}}
		for _, r := range revs {
			lines = blameApply(lines, slices.Collect(r.Op.Components()), r.Rev, 0)
			if r.Rev%3 != 0 {
				continue
			}
			old := binary.AppendUvarint(nil, uint64(len(lines)))
			for _, l := range lines {
				old = binary.AppendUvarint(binary.AppendUvarint(old, uint64(l.n)), l.rev)
			}
			if err := bucket.Put(revKey(r.Rev), old); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBlames(t, m, meta.ID, "with old checkpoints")
	if err := m.indexBlame(meta.ID, 61); err != nil {
		t.Fatal(err)
	}
	keys, sound := blameKeys(t, m, meta.ID)
	if !slices.Equal(keys, []uint64{5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60}) || slices.Contains(sound, false) {
		t.Errorf("after the indexer, checkpoints %v, sound %v; want its own, every 5", keys, sound)
	}
	checkBlames(t, m, meta.ID, "with the indexer's checkpoints")
	if got, _ := m.Blame(meta.ID, 61); !slices.Equal(got, want[61]) {
		t.Errorf("blame at the head: %v, want %v", got, want[61])
	}
}

// TestBlameIndexerBatches: indexing a long history writes its checkpoints
// in transactions of about a batch of bytes each (here one checkpoint
// each), and gives what one transaction gives.
func TestBlameIndexerBatches(t *testing.T) {
	m := openTest(t, Config{SnapshotEvery: 5})
	meta, d := createOpen(t, m, CreateParams{Name: "b.go", Text: "a\n", Author: "a"})
	for rev := uint64(1); rev <= 40; rev++ {
		op := *new(ot.Operation).Insert("x\n").Retain(int(rev) * 2)
		if _, err := d.Submit(Edit{Base: rev, Op: op, Author: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	// The indexer's, from the edit path.
	waitIndexed(t, m, "8 checkpoints", func() bool { return blameCheckpoints(m, meta.ID) >= 8 })
	dropBlame(t, m, meta.ID)
	for n := 1; ; n++ {
		w, more, err := m.planBlame(meta.ID, 41, 1)
		if err == nil && w == nil {
			err = fmt.Errorf("nothing to write")
		}
		if err == nil {
			err = m.store.saveBlame([]blameWrite{*w})
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := blameCheckpoints(m, meta.ID); got != n {
			t.Fatalf("%d checkpoints after %d transactions", got, n)
		}
		if !more {
			if n != 8 {
				t.Errorf("%d transactions, want 8", n)
			}
			break
		}
	}
	keys, sound := blameKeys(t, m, meta.ID)
	if !slices.Equal(keys, []uint64{5, 10, 15, 20, 25, 30, 35, 40}) || slices.Contains(sound, false) {
		t.Errorf("checkpoints %v, sound %v; want every 5", keys, sound)
	}
	checkBlames(t, m, meta.ID, "indexed in batches")
}

// dropBlame deletes every blame checkpoint of document id.
func dropBlame(t *testing.T, m *Manager, id string) {
	t.Helper()
	err := updateDB(m.store.db, func(tx *kv.Tx) error {
		doc := tx.Bucket(bucketDoc).Bucket([]byte(id))
		if err := doc.DeleteBucket(subBlame); err != nil {
			return err
		}
		_, err := doc.CreateBucket(subBlame)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBlameAsksTheIndexer: a blame that replays far more than the
// checkpoints allow (here a document whose checkpoints are gone, as one
// written before they were kept) writes nothing itself, but has the
// indexer write them.
func TestBlameAsksTheIndexer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	m := openAt(t, path, Config{SnapshotEvery: 5})
	meta, d := createOpen(t, m, CreateParams{Name: "n.go", Text: "a\n", Author: "a"})
	for rev := uint64(1); rev <= 40; rev++ {
		op := *new(ot.Operation).Insert("x\n").Retain(int(rev) * 2)
		if _, err := d.Submit(Edit{Base: rev, Op: op, Author: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	// Closed and opened again, so that no job of the edit path's is left
	// for the indexer: from here on it writes only what a blame asks for.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openAt(t, path, Config{SnapshotEvery: 5})
	dropBlame(t, m, meta.ID)
	if _, err := m.Blame(meta.ID, 41); err != nil {
		t.Fatal(err)
	}
	// The indexer's, asked by the blame.
	waitIndexed(t, m, "8 checkpoints", func() bool { return blameCheckpoints(m, meta.ID) >= 8 })
}

// FuzzBlameCheckpoint decodes checkpoints of any lines under a valid
// header and CRC: decodeBlame never panics, and what it accepts has as
// many code points as its revision's text, and a '\n' ending every line
// but the last.
func FuzzBlameCheckpoint(f *testing.F) {
	r := Revision{Rev: 9, Op: *new(ot.Operation).Insert("ab\nc"), Author: "a"}
	good := encodeBlame(chunkedBlame([]blameLine{{n: 3, rev: 9, who: 1}, {n: 1, rev: 4, who: 0}}, []string{"", "a"}, 4), r)
	f.Add(good[9:len(good)-4], uint16(4))
	f.Add([]byte{1, 0, 1, 3, 0, 0}, uint16(3))
	f.Fuzz(func(t *testing.T, body []byte, n uint16) {
		r := Revision{Rev: 9, Op: *new(ot.Operation).Insert(strings.Repeat("x", int(n)))}
		data := append([]byte{blameFormat}, binary.BigEndian.AppendUint64(nil, revFingerprint(r))...)
		data = append(data, body...)
		data = binary.BigEndian.AppendUint32(data, crc32.Checksum(data, crcTable))
		bt, err := decodeBlame(data, r)
		if err != nil {
			return
		}
		lines := flatBlame(t, bt)
		for i, l := range lines {
			if l.n == 0 && i < len(lines)-1 || l.rev > r.Rev {
				t.Fatalf("line %d of %d: %+v", i+1, len(lines), l)
			}
		}
		if bt.total != int(n) {
			t.Fatalf("%d code points, want %d", bt.total, n)
		}
	})
}
