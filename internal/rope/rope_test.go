package rope

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var seedFlag = flag.Uint64("rope.seed", 0, "seed for the randomized rope tests (0 picks one from the clock)")

// testSeed returns the seed for a randomized test and logs it so that a
// failure can be replayed with -rope.seed.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -rope.seed=%d)", s, s)
	return s
}

// smallParams make trees deep with short texts, so that every code path of
// the tree (multi-level joins, splits, underflow) is exercised cheaply.
var smallParams = params{leafMax: 32, leafMin: 8, leafBuild: 16, kidsMax: 4, kidsMin: 2, kidsBuild: 3}

func useParams(t testing.TB, p params) {
	old := cfg
	cfg = p
	t.Cleanup(func() { cfg = old })
}

// eachParams runs f once with the production parameters and once with
// smallParams.
func eachParams(t *testing.T, f func(t *testing.T)) {
	t.Run("default", func(t *testing.T) { useParams(t, defaultParams); f(t) })
	t.Run("small", func(t *testing.T) { useParams(t, smallParams); f(t) })
}

// ---------------------------------------------------------------------------
// Structure invariants

// checkTree verifies every structural invariant of r under the current cfg.
func checkTree(r Rope) error {
	root := r.root
	if root == nil {
		return nil
	}
	if root.height > 0 && len(root.kids) < 2 {
		return fmt.Errorf("internal root has %d children", len(root.kids))
	}
	leaves := 0
	if err := checkNode(root, true, &leaves); err != nil {
		return err
	}
	// Balance: with all leaves at one depth and every non-root node at
	// least kidsMin wide, a tree of height h has >= 2*kidsMin^(h-1) leaves.
	if root.height > 0 {
		min := 2
		for i := 1; i < root.height; i++ {
			min *= cfg.kidsMin
		}
		if leaves < min {
			return fmt.Errorf("height %d with only %d leaves (need >= %d)", root.height, leaves, min)
		}
	}
	return nil
}

func checkNode(x *node, isRoot bool, leaves *int) error {
	if x.height == 0 {
		*leaves++
		switch {
		case x.kids != nil:
			return errors.New("leaf with children")
		case x.text == "":
			return errors.New("empty leaf")
		case len(x.text) != x.bytes:
			return fmt.Errorf("leaf caches %d bytes, has %d", x.bytes, len(x.text))
		case !utf8.ValidString(x.text):
			return fmt.Errorf("leaf %q is not valid UTF-8 (splits a code point)", x.text)
		case utf8.RuneCountInString(x.text) != x.runes:
			return fmt.Errorf("leaf caches %d runes, has %d", x.runes, utf8.RuneCountInString(x.text))
		case x.bytes > cfg.leafMax:
			return fmt.Errorf("leaf of %d bytes > leafMax %d", x.bytes, cfg.leafMax)
		case !isRoot && x.bytes < cfg.leafMin:
			return fmt.Errorf("non-root leaf of %d bytes < leafMin %d", x.bytes, cfg.leafMin)
		}
		return nil
	}
	if x.text != "" {
		return errors.New("internal node with text")
	}
	if len(x.kids) > cfg.kidsMax || (!isRoot && len(x.kids) < cfg.kidsMin) {
		return fmt.Errorf("internal node (root=%v) with %d children", isRoot, len(x.kids))
	}
	b, n := 0, 0
	for _, k := range x.kids {
		if k == nil {
			return errors.New("nil child")
		}
		if k.height != x.height-1 {
			return fmt.Errorf("child of height %d under node of height %d", k.height, x.height)
		}
		if err := checkNode(k, false, leaves); err != nil {
			return err
		}
		b += k.bytes
		n += k.runes
	}
	if b != x.bytes || n != x.runes {
		return fmt.Errorf("node caches %d bytes/%d runes, children sum to %d/%d", x.bytes, x.runes, b, n)
	}
	return nil
}

func TestParams(t *testing.T) {
	for _, p := range []params{defaultParams, smallParams} {
		if p.kidsMax > maxKidsCap || p.kidsMin < 2 || 2*p.kidsMin > p.kidsMax+1 {
			t.Errorf("%+v: bad fan-out bounds", p)
		}
		if p.kidsBuild < p.kidsMin || p.kidsBuild > p.kidsMax {
			t.Errorf("%+v: bad kidsBuild", p)
		}
		if p.leafMin < utf8.UTFMax || p.leafMin > (p.leafMax-utf8.UTFMax)/2-utf8.UTFMax {
			t.Errorf("%+v: bad leaf bounds", p)
		}
		if p.leafBuild < 2*p.leafMin || p.leafBuild > p.leafMax-utf8.UTFMax {
			t.Errorf("%+v: bad leafBuild", p)
		}
	}
}

// TestAppendLeaves cuts texts of every length around the interesting sizes
// and checks every piece is legal.
func TestAppendLeaves(t *testing.T) {
	eachParams(t, func(t *testing.T) {
		units := []string{"a", "é", "中", "😀"}
		for _, u := range units {
			for _, mix := range []bool{false, true} {
				var sb strings.Builder
				for i := 0; sb.Len() < 6*cfg.leafMax; i++ {
					if mix {
						sb.WriteString(units[i%len(units)])
					} else {
						sb.WriteString(u)
					}
				}
				all := sb.String()
				for _, size := range []int{cfg.leafBuild, cfg.leafMax - utf8.UTFMax} {
					// Every length around multiples of leafMax and of
					// size, and a sparse sample of the rest.
					var lengths []int
					for k := 1; k <= 5; k++ {
						for d := -8; d <= 8; d++ {
							lengths = append(lengths, k*cfg.leafMax+d, k*size+d)
						}
					}
					for n := cfg.leafMax; n < len(all); n += 1 + cfg.leafMax/16 {
						lengths = append(lengths, n)
					}
					for _, n := range lengths {
						s := all[:min(n, len(all))]
						for !utf8.ValidString(s) {
							s = s[:len(s)-1]
						}
						checkLeaves(t, s, size)
					}
				}
			}
		}
	})
}

// checkLeaves cuts s into leaves of about size bytes (appendLeaves) and
// checks each leaf and that they make s again.
func checkLeaves(t *testing.T, s string, size int) {
	t.Helper()
	ls := appendLeaves(nil, s, size)
	var got strings.Builder
	for _, l := range ls {
		leaves := 0
		if err := checkNode(l, len(ls) == 1, &leaves); err != nil {
			t.Fatalf("len %d size %d: %v", len(s), size, err)
		}
		got.WriteString(l.text)
	}
	if got.String() != s {
		t.Fatalf("len %d: pieces do not concatenate to the input", len(s))
	}
}

// Texts of random multi-byte code points: cuts that move back to code
// point boundaries time after time must not leave the last pieces over
// leafMax (TestRandomOps found one: a leaf of 33 bytes with leafMax 32).
func TestAppendLeavesRandomText(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	eachParams(t, func(t *testing.T) {
		units := []string{"a", "é", "中", "😀"}
		for range 2000 {
			var sb strings.Builder
			for n := cfg.leafMax + rng.IntN(6*cfg.leafMax); sb.Len() < n; {
				sb.WriteString(units[rng.IntN(len(units))])
			}
			s := sb.String()
			for _, size := range []int{cfg.leafBuild, cfg.leafMax - utf8.UTFMax} {
				checkLeaves(t, s, size)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Model-based checking

// snapshot is an old version of the rope and the text it must still hold.
type snapshot struct {
	r    Rope
	text string
}

// checker applies operations to a Rope and to a []rune model and compares
// them after every step.
type checker struct {
	t    testing.TB
	rng  *rand.Rand // for choosing what to probe; may be nil (fuzzing)
	r    Rope
	m    []rune
	s    string // string(m), set by verify
	off  []int  // off[i] is the byte offset of m[i] in s, set by verify
	hist []snapshot
	step int
	last string // description of the last operation
}

func newChecker(t testing.TB, rng *rand.Rand) *checker {
	return &checker{t: t, rng: rng}
}

func (c *checker) fail(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("step %d after %s: %s", c.step, c.last, fmt.Sprintf(format, args...))
}

func (c *checker) intn(n int) int {
	if c.rng == nil {
		return (c.step*7919 + 13) % n
	}
	return c.rng.IntN(n)
}

func (c *checker) remember() {
	if c.step%4 != 0 {
		return
	}
	if len(c.hist) < 64 {
		c.hist = append(c.hist, snapshot{c.r, c.s})
	} else {
		c.hist[c.intn(len(c.hist))] = snapshot{c.r, c.s}
	}
}

func (c *checker) insert(pos int, s string) {
	c.last = fmt.Sprintf("Insert(%d, %d bytes)", pos, len(s))
	c.remember()
	old := c.r
	c.r = c.r.Insert(pos, s)
	if s == "" && c.r.root != old.root {
		c.fail("Insert of \"\" did not return the rope unchanged")
	}
	ins := []rune(s)
	m := make([]rune, 0, len(c.m)+len(ins))
	m = append(append(append(m, c.m[:pos]...), ins...), c.m[pos:]...)
	c.m = m
	c.verify()
}

func (c *checker) delete(pos, n int) {
	c.last = fmt.Sprintf("Delete(%d, %d)", pos, n)
	c.remember()
	old := c.r
	c.r = c.r.Delete(pos, n)
	if n == 0 && c.r.root != old.root {
		c.fail("Delete of 0 did not return the rope unchanged")
	}
	c.m = append(c.m[:pos:pos], c.m[pos+n:]...)
	c.verify()
}

func (c *checker) slice(start, end int) {
	c.last = fmt.Sprintf("Slice(%d, %d)", start, end)
	c.remember()
	c.r = c.r.Slice(start, end)
	c.m = append([]rune(nil), c.m[start:end]...)
	c.verify()
}

// concat appends (or, if front, prepends) o, whose text is os.
func (c *checker) concat(o Rope, os string, front bool) {
	c.last = fmt.Sprintf("Concat(%d bytes, front=%v)", len(os), front)
	c.remember()
	om := []rune(os)
	if front {
		c.r = o.Concat(c.r)
		c.m = append(om, c.m...)
	} else {
		c.r = c.r.Concat(o)
		c.m = append(append([]rune(nil), c.m...), om...)
	}
	c.verify()
}

// oldVersion returns a random earlier version (or the current one).
func (c *checker) oldVersion() snapshot {
	if len(c.hist) == 0 {
		return snapshot{c.r, c.s}
	}
	return c.hist[c.intn(len(c.hist))]
}

// verify compares every observation of c.r with the model.
func (c *checker) verify() {
	c.t.Helper()
	c.step++
	if err := checkTree(c.r); err != nil {
		c.fail("invariant: %v", err)
	}
	s := string(c.m)
	n := len(c.m)
	c.s = s
	c.off = c.off[:0]
	b := 0
	for _, r := range c.m {
		c.off = append(c.off, b)
		b += utf8.RuneLen(r)
	}
	c.off = append(c.off, b)
	if c.r.Len() != n {
		c.fail("Len = %d, want %d", c.r.Len(), n)
	}
	if c.r.ByteLen() != len(s) {
		c.fail("ByteLen = %d, want %d", c.r.ByteLen(), len(s))
	}
	if got := c.r.String(); got != s {
		c.fail("String mismatch:\n got %.200q\nwant %.200q", got, s)
	}
	if !c.r.EqualString(s) {
		c.fail("EqualString(model) = false")
	}
	if c.r.EqualString(s + "x") {
		c.fail("EqualString(model+\"x\") = true")
	}
	if n > 0 {
		b := []byte(s)
		i := c.intn(len(b))
		b[i] ^= 0x01
		if c.r.EqualString(string(b)) {
			c.fail("EqualString(model with byte %d flipped) = true", i)
		}
	}
	var sb strings.Builder
	for ch := range c.r.Chunks() {
		if ch == "" || !utf8.ValidString(ch) {
			c.fail("bad chunk %q", ch)
		}
		sb.WriteString(ch)
	}
	if sb.String() != s {
		c.fail("Chunks do not concatenate to the text")
	}
	var buf bytes.Buffer
	if w, err := c.r.WriteTo(&buf); err != nil || w != int64(len(s)) || buf.String() != s {
		c.fail("WriteTo = %d, %v; text equal %v", w, err, buf.String() == s)
	}
	for _, p := range []int{0, n, c.intn(n + 1), c.intn(n + 1)} {
		if got, want := c.r.ByteOffset(p), c.off[p]; got != want {
			c.fail("ByteOffset(%d) = %d, want %d", p, got, want)
		}
	}
	for range 3 {
		a, b := c.intn(n+1), c.intn(n+1)
		if a > b {
			a, b = b, a
		}
		if got, want := c.r.SliceString(a, b), s[c.off[a]:c.off[b]]; got != want {
			c.fail("SliceString(%d, %d) = %.100q, want %.100q", a, b, got, want)
		}
	}
	// Persistence: an old version still holds its text. (checkHistory
	// checks the whole of every remembered version at the end.)
	if len(c.hist) > 0 {
		h := c.hist[c.intn(len(c.hist))]
		if h.r.ByteLen() != len(h.text) || !h.r.EqualString(h.text) {
			c.fail("old version changed: got %.100q, want %.100q", h.r.String(), h.text)
		}
	}
}

func (c *checker) checkSnapshot(h snapshot) {
	c.t.Helper()
	if err := checkTree(h.r); err != nil {
		c.fail("old version invariant: %v", err)
	}
	if h.r.Len() != utf8.RuneCountInString(h.text) || h.r.ByteLen() != len(h.text) ||
		!h.r.EqualString(h.text) || h.r.String() != h.text {
		c.fail("old version changed: got %.100q, want %.100q", h.r.String(), h.text)
	}
}

func (c *checker) checkHistory() {
	c.t.Helper()
	for _, h := range c.hist {
		c.checkSnapshot(h)
	}
}

// ---------------------------------------------------------------------------
// Random text

// pieces are the units random text is made of: ASCII, line breaks, NUL,
// 2-, 3- and 4-byte code points, combining marks, and invalid UTF-8.
var pieces = []string{
	"a", "b", "c", "x", "y", "z", " ", "0", "\n", "\t",
	"\r\n", "\x00", "é", "e\u0301", "ñ", "中", "文字", "한", "😀", "👍🏽",
	"\U0010FFFF", "\uFFFD", "\u200d",
	"\xff", "\xe2\x82", "\x80", "\xed\xa0\x80", "\xf0\x9f\x98", "\xc0\xaf",
}

func randText(rng *rand.Rand, units int) string {
	var sb strings.Builder
	for range units {
		if rng.IntN(3) == 0 {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		} else {
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return sb.String()
}

// randomOps runs steps random operations, keeping the text around target
// code points, with occasional big insertions.
func randomOps(t *testing.T, rng *rand.Rand, steps, target int) {
	c := newChecker(t, rng)
	c.r = New("")
	c.verify()
	for range steps {
		n := len(c.m)
		op := rng.IntN(100)
		if n > 2*target && op < 50 {
			op += 50 // shrink: delete or slice
		}
		switch {
		case op < 40: // small insert, as typing does
			c.insert(rng.IntN(n+1), randText(rng, 1+rng.IntN(4)))
		case op < 45: // paste
			c.insert(rng.IntN(n+1), randText(rng, rng.IntN(target/2+1)))
		case op < 47:
			c.insert(rng.IntN(n+1), "")
		case op < 50: // concat with an old version, a new rope or itself
			switch rng.IntN(3) {
			case 0:
				h := c.oldVersion()
				c.concat(h.r, h.text, rng.IntN(2) == 0)
			case 1:
				s := randText(rng, rng.IntN(target/4+1))
				c.concat(New(s), string([]rune(s)), rng.IntN(2) == 0)
			default:
				c.concat(c.r, c.s, false)
			}
		case op < 80: // small delete, as backspace does
			if n > 0 {
				p := rng.IntN(n)
				c.delete(p, min(n-p, 1+rng.IntN(3)))
			}
		case op < 90: // range delete
			p := rng.IntN(n + 1)
			c.delete(p, rng.IntN(n-p+1))
		case op < 92:
			c.delete(rng.IntN(n+1), 0)
		default:
			a, b := rng.IntN(n+1), rng.IntN(n+1)
			if a > b {
				a, b = b, a
			}
			if b-a < n/4 { // do not shrink too often
				b = n
			}
			c.slice(a, b)
		}
	}
	c.checkHistory()
}

func TestRandomOps(t *testing.T) {
	seed := testSeed(t)
	t.Run("small", func(t *testing.T) {
		useParams(t, smallParams)
		randomOps(t, rand.New(rand.NewPCG(seed, 1)), 4000, 400)
	})
	t.Run("default", func(t *testing.T) {
		useParams(t, defaultParams)
		randomOps(t, rand.New(rand.NewPCG(seed, 2)), 600, 20000)
	})
}

// TestLargeDocument edits a document built by New with the real parameters
// and checks shape, depth and contents.
func TestLargeDocument(t *testing.T) {
	useParams(t, defaultParams)
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	text := randText(rng, 100_000)
	c := newChecker(t, rng)
	c.r = New(text)
	c.m = []rune(text)
	c.verify()
	if h := c.r.root.height; h != 2 {
		t.Errorf("height %d for %d bytes", h, c.r.ByteLen())
	}
	for range 60 {
		n := len(c.m)
		switch rng.IntN(3) {
		case 0:
			c.insert(rng.IntN(n+1), randText(rng, 1+rng.IntN(3000)))
		case 1:
			p := rng.IntN(n)
			c.delete(p, min(n-p, rng.IntN(5000)))
		default:
			p := rng.IntN(n)
			c.delete(p, min(n-p, 1))
		}
	}
	c.checkHistory()
}

// ---------------------------------------------------------------------------
// Specific behaviour

func TestZeroValue(t *testing.T) {
	var r Rope
	if r.Len() != 0 || r.ByteLen() != 0 || r.String() != "" || !r.EqualString("") || r.EqualString("a") {
		t.Fatal("zero Rope is not empty")
	}
	if r.ByteOffset(0) != 0 || r.SliceString(0, 0) != "" || r.Slice(0, 0).Len() != 0 {
		t.Fatal("zero Rope positions")
	}
	for range r.Chunks() {
		t.Fatal("zero Rope has chunks")
	}
	if n, err := r.WriteTo(&bytes.Buffer{}); n != 0 || err != nil {
		t.Fatal("zero Rope WriteTo")
	}
	if r.Delete(0, 0).Len() != 0 || r.Insert(0, "héllo").String() != "héllo" {
		t.Fatal("zero Rope edits")
	}
	if New("").root != nil || r.Concat(r).root != nil {
		t.Fatal("empty ropes must have no root")
	}
}

func TestInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "a\xe2\x82b", "\xed\xa0\x80", "\xf0\x9f\x98", "ok\x80\x80", "\xc0\xaf"} {
		r := New(s)
		if r.Len() != utf8.RuneCountInString(s) {
			t.Errorf("New(%q).Len() = %d, want %d", s, r.Len(), utf8.RuneCountInString(s))
		}
		if r.String() != string([]rune(s)) || !utf8.ValidString(r.String()) {
			t.Errorf("New(%q).String() = %q", s, r.String())
		}
		if r.EqualString(s) {
			t.Errorf("New(%q).EqualString(input) = true; a rope holds valid UTF-8", s)
		}
	}
	// Pieces that would form a valid code point if joined must not.
	r := New("\xe2").Insert(1, "\x82\xac")
	if r.Len() != 3 || r.String() != "\uFFFD\uFFFD\uFFFD" {
		t.Errorf("invalid fragments merged: %q (Len %d)", r.String(), r.Len())
	}
}

func TestUnchangedIdentity(t *testing.T) {
	r := New(strings.Repeat("abc", 5000))
	if r.Insert(7, "").root != r.root || r.Delete(7, 0).root != r.root || r.Slice(0, r.Len()).root != r.root {
		t.Fatal("no-op edits must return the same rope")
	}
}

func TestPersistence(t *testing.T) {
	eachParams(t, func(t *testing.T) {
		base := strings.Repeat("héllo wörld 😀 中文\r\n", 200)
		r0 := New(base)
		r1 := r0.Insert(100, "INSERTED")
		r2 := r1.Delete(5, 1000)
		r3 := r2.Concat(r0).Slice(10, 2000)
		r4 := r0.Delete(0, r0.Len())
		for i, r := range []Rope{r0, r1, r2, r3, r4} {
			if err := checkTree(r); err != nil {
				t.Fatalf("r%d: %v", i, err)
			}
		}
		if !r0.EqualString(base) {
			t.Fatal("r0 changed")
		}
		rb := []rune(base)
		want1 := string(rb[:100]) + "INSERTED" + string(rb[100:])
		if r1.String() != want1 {
			t.Fatal("r1 wrong")
		}
		w1 := []rune(want1)
		want2 := string(w1[:5]) + string(w1[1005:])
		if r2.String() != want2 {
			t.Fatal("r2 wrong")
		}
		if r3.String() != string([]rune(want2 + base)[10:2000]) {
			t.Fatal("r3 wrong")
		}
		if r4.Len() != 0 || !r0.EqualString(base) || r1.String() != want1 {
			t.Fatal("old versions changed")
		}
	})
}

// TestConcurrentReaders reads one version from several goroutines while
// new versions are derived from it; run with -race to detect any write to
// a shared node.
func TestConcurrentReaders(t *testing.T) {
	useParams(t, smallParams)
	text := strings.Repeat("concurrent 😀 text\n", 100)
	r := New(text)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if !r.EqualString(text) || r.SliceString(g, g+i) != string([]rune(text)[g:g+i]) {
					t.Error("reader saw a changed rope")
					return
				}
			}
		}()
	}
	v := r
	for i := range 200 {
		v = v.Insert(i%v.Len(), "x").Delete((i*7)%v.Len(), 1).Concat(r.Slice(i, i+3))
	}
	wg.Wait()
	if !r.EqualString(text) {
		t.Fatal("original changed")
	}
}

func TestChunksStop(t *testing.T) {
	useParams(t, smallParams)
	r := New(strings.Repeat("abcdefgh", 100))
	n := 0
	for range r.Chunks() {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatal("break did not stop the iteration")
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteToError(t *testing.T) {
	useParams(t, smallParams)
	r := New(strings.Repeat("abcdefgh", 100))
	n, err := r.WriteTo(&failWriter{n: 100})
	if err == nil || n != 100 {
		t.Fatalf("WriteTo = %d, %v; want 100, error", n, err)
	}
}

func TestPanics(t *testing.T) {
	r := New("héllo") // 5 code points
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"Insert -1", func() { r.Insert(-1, "x") }, "rope: Insert position -1 out of range [0:5]"},
		{"Insert 6", func() { r.Insert(6, "x") }, "rope: Insert position 6 out of range [0:5]"},
		{"Insert empty 6", func() { r.Insert(6, "") }, "Insert position 6"},
		{"Delete -1", func() { r.Delete(-1, 1) }, "rope: Delete range [-1:-1+1] out of range [0:5]"},
		{"Delete n<0", func() { r.Delete(1, -1) }, "Delete range"},
		{"Delete past end", func() { r.Delete(3, 3) }, "Delete range [3:3+3]"},
		{"Delete 0 past end", func() { r.Delete(6, 0) }, "Delete range"},
		{"Delete overflow", func() { r.Delete(2, int(^uint(0)>>1)) }, "Delete range"},
		{"Slice reversed", func() { r.Slice(3, 2) }, "rope: Slice bounds [3:2] out of range [0:5]"},
		{"Slice -1", func() { r.Slice(-1, 2) }, "Slice bounds"},
		{"Slice past end", func() { r.Slice(0, 6) }, "Slice bounds"},
		{"SliceString past end", func() { r.SliceString(2, 9) }, "rope: SliceString bounds [2:9]"},
		{"SliceString reversed", func() { r.SliceString(1, 0) }, "SliceString bounds"},
		{"ByteOffset -1", func() { r.ByteOffset(-1) }, "rope: ByteOffset position -1 out of range [0:5]"},
		{"ByteOffset 6", func() { r.ByteOffset(6) }, "ByteOffset position 6"},
		{"zero Insert 1", func() { Rope{}.Insert(1, "x") }, "out of range [0:0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				v := recover()
				msg, ok := v.(string)
				if !ok || !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %v, want one containing %q", v, tc.want)
				}
			}()
			tc.f()
		})
	}
	if !r.EqualString("héllo") {
		t.Fatal("rope changed by a panicking call")
	}
}

// ---------------------------------------------------------------------------
// Fuzzing

// FuzzRope interprets the input as a program of rope operations, checked
// step by step against the []rune model. Byte 0 chooses the tree
// parameters; then each operation is an opcode byte followed by its
// operands (positions as 2 bytes, texts as a length byte, a repeat byte
// and raw bytes, which may be invalid UTF-8). Missing bytes read as 0.
func FuzzRope(f *testing.F) {
	f.Add([]byte("\x01\x00\x05\x00\x03\x01abc\x01\x02\x00\x01\x00"))
	f.Add([]byte("\x00\x00\x00\x00\x10\x09\xf0\x9f\x98\x80\xe4\xb8\xad\xff\r\n\x03\x00\x00\x05\x00"))
	f.Add([]byte("\x01\x00\x00\x00\x08\x04h\xc3\xa9llo\x00!\x02\x02\x00\x40\x00\x04\x01\x05\x00\x00\x03\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { runProgram(t, data) })
}

// runProgram runs the FuzzRope program data; see FuzzRope.
func runProgram(t testing.TB, data []byte) {
	{
		// Small parameters make deep trees out of short texts; the size
		// cap keeps every execution fast.
		p, limit := defaultParams, 8_000
		if len(data) > 0 && data[0]&1 == 1 {
			p, limit = smallParams, 1_500
		}
		old := cfg
		cfg = p
		defer func() { cfg = old }()

		// Only the first 256 bytes count: longer programs add little and
		// make minimizing new inputs (quadratic in their length) slow.
		in := data[min(len(data), 1):min(len(data), 256)]
		next := func() int {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return int(b)
		}
		pos := func(n int) int { return (next() | next()<<8) % (n + 1) }
		text := func() string {
			k, rep := next()%32, next()%16
			if k > len(in) {
				k = len(in)
			}
			s := string(in[:k])
			in = in[k:]
			if rep > 8 { // big text: repeat the bytes, up to ~24 KB
				s = strings.Repeat(s, 1<<(rep-6))
			}
			if len(s) > 4*limit {
				s = s[:4*limit]
			}
			return s
		}

		c := newChecker(t, nil)
		c.verify()
		for steps := 0; len(in) > 0 && steps < 100; steps++ {
			n := len(c.m)
			if n > limit {
				c.slice(0, n/2)
				continue
			}
			switch next() % 7 {
			case 0:
				c.insert(pos(n), text())
			case 1:
				a := pos(n)
				c.delete(a, pos(n-a))
			case 2:
				a := pos(n)
				c.delete(a, min(n-a, next()%4))
			case 3:
				a := pos(n)
				c.slice(a, a+pos(n-a))
			case 4:
				s := text()
				c.concat(New(s), string([]rune(s)), next()%2 == 0)
			case 5:
				if len(c.hist) > 0 {
					h := c.hist[next()%len(c.hist)]
					c.concat(h.r, h.text, next()%2 == 0)
				}
			case 6:
				c.r = New(c.s)
				c.last = "New(String())"
				c.verify()
			}
		}
		c.checkHistory()
	}
}
