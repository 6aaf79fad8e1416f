package rope

import (
	"io"
	"iter"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rope is an immutable sequence of Unicode code points. The zero value is
// an empty rope. A Rope is a single pointer; copying it is cheap and every
// copy denotes the same text forever.
type Rope struct {
	root *node // nil for the empty rope
}

// node is a node of the tree. A node with height 0 is a leaf and holds text;
// any other node holds kids, all of height height-1. A node is never
// modified once it has been linked into a tree that may be reachable from a
// Rope; every edit copies the nodes on the path it changes.
type node struct {
	bytes  int     // len of the UTF-8 text below this node
	runes  int     // number of code points below this node
	height int     // 0 for a leaf
	text   string  // leaf only: valid UTF-8, never empty
	kids   []*node // internal only: 2..kidsMax (root) or kidsMin..kidsMax
}

// maxKidsCap is the capacity of the child array embedded in every internal
// node. params.kidsMax must not exceed it.
const maxKidsCap = 16

// innerNode is how internal nodes are allocated: the node and its child
// array in one allocation. kids points into buf.
type innerNode struct {
	node
	buf [maxKidsCap]*node
}

// params are the shape parameters of the tree. They are constant in
// production; tests shrink them to get deep trees from short texts.
type params struct {
	leafMax   int // maximum bytes in a leaf
	leafMin   int // minimum bytes in a leaf that is not the root
	leafBuild int // target leaf size when building from a long string
	kidsMax   int // maximum children of an internal node (<= maxKidsCap)
	kidsMin   int // minimum children of an internal node that is not the root
	kidsBuild int // target number of children when building
}

// Invariants the parameters must satisfy (checked by the tests):
// leafMin <= (leafMax-utf8.UTFMax)/2 - utf8.UTFMax, so that a piece of an
// overflowing leaf is never too small; kidsMin <= (kidsMax+1)/2, so that
// splitting an overflowing node gives two legal nodes.
var defaultParams = params{
	leafMax:   2048,
	leafMin:   512,
	leafBuild: 1024,
	kidsMax:   16,
	kidsMin:   8,
	kidsBuild: 12,
}

var cfg = defaultParams

// ---------------------------------------------------------------------------
// Public API

// New returns a rope holding s. Each byte of s that is not part of a valid
// UTF-8 encoding becomes one U+FFFD (the code point utf8.RuneCountInString
// counts for it), so New(s).Len() == utf8.RuneCountInString(s) always; for
// valid UTF-8, New(s).String() == s. The tree is built bottom-up and
// balanced in O(len(s)); the leaves share the memory of s when s is valid.
func New(s string) Rope {
	return Rope{build(sanitize(s))}
}

// Len returns the number of code points in r. O(1).
func (r Rope) Len() int {
	if r.root == nil {
		return 0
	}
	return r.root.runes
}

// ByteLen returns the length in bytes of the UTF-8 encoding of r. O(1).
func (r Rope) ByteLen() int {
	if r.root == nil {
		return 0
	}
	return r.root.bytes
}

// String returns the whole text of r. It allocates at most once, exactly
// ByteLen bytes (a rope of a single leaf returns the leaf itself). O(n).
func (r Rope) String() string {
	if r.root == nil {
		return ""
	}
	if r.root.height == 0 {
		return r.root.text
	}
	var b strings.Builder
	b.Grow(r.root.bytes)
	r.root.appendTo(&b)
	return b.String()
}

// Insert returns a rope with s inserted before the code point at pos, so
// that the first code point of s has index pos in the result. pos must
// satisfy 0 <= pos <= r.Len(); otherwise Insert panics. Invalid UTF-8 in s is
// replaced as by New. Inserting "" returns r itself. O(log n + len(s)).
func (r Rope) Insert(pos int, s string) Rope {
	n := r.Len()
	if pos < 0 || pos > n {
		panic("rope: Insert position " + strconv.Itoa(pos) + " out of range [0:" + strconv.Itoa(n) + "]")
	}
	if s == "" {
		return r
	}
	s = sanitize(s)
	if r.root == nil {
		return Rope{build(s)}
	}
	first, rest := r.root.insert(pos, s, countRunes(s))
	if rest == nil {
		return Rope{first}
	}
	list := append([]*node{first}, rest...)
	for len(list) > 1 {
		list = group(list, growTarget(len(list)), nil)
	}
	return Rope{list[0]}
}

// Delete returns a rope without the code points [pos, pos+n). It panics
// unless 0 <= pos, 0 <= n and pos+n <= r.Len(). Deleting 0 code points
// returns r itself. O(log n).
func (r Rope) Delete(pos, n int) Rope {
	l := r.Len()
	if pos < 0 || n < 0 || pos > l || n > l-pos {
		panic("rope: Delete range [" + strconv.Itoa(pos) + ":" + strconv.Itoa(pos) + "+" + strconv.Itoa(n) +
			"] out of range [0:" + strconv.Itoa(l) + "]")
	}
	if n == 0 {
		return r
	}
	if n == l {
		return Rope{}
	}
	root := r.root
	if withinLeaf(root, pos, n) {
		// Fast path: only one leaf changes; fix underflow on the way up.
		root = root.deleteIn(pos, n)
		for root.height > 0 && len(root.kids) == 1 {
			root = root.kids[0]
		}
		return Rope{root}
	}
	return Rope{join(prefix(root, pos), suffix(root, pos+n))}
}

// Slice returns the code points [start, end) of r as a rope sharing
// structure with r. It panics unless 0 <= start <= end <= r.Len(), as slice
// indexing does. O(log n).
func (r Rope) Slice(start, end int) Rope {
	r.checkSlice("Slice", start, end)
	if start == end {
		return Rope{}
	}
	root := suffix(r.root, start)
	return Rope{prefix(root, end-start)}
}

// SliceString returns the code points [start, end) of r as a string. It
// panics unless 0 <= start <= end <= r.Len(). It allocates once, exactly the
// size of the result. O(log n + end-start).
func (r Rope) SliceString(start, end int) string {
	r.checkSlice("SliceString", start, end)
	if start == end {
		return ""
	}
	bs, be := r.root.byteOffset(start), r.root.byteOffset(end)
	var b strings.Builder
	b.Grow(be - bs)
	r.root.appendRange(&b, bs, be)
	return b.String()
}

// Concat returns the rope r followed by o. Both operands stay valid and
// share their nodes with the result. O(log n).
func (r Rope) Concat(o Rope) Rope {
	return Rope{join(r.root, o.root)}
}

// Chunks returns an iterator over the text of r in order, one leaf at a
// time. The strings are the rope's own storage (nothing is copied); none is
// empty, each is valid UTF-8 and ends on a code point boundary. An empty
// rope yields nothing.
func (r Rope) Chunks() iter.Seq[string] {
	return func(yield func(string) bool) {
		if r.root != nil {
			r.root.each(yield)
		}
	}
}

// WriteTo writes the text of r to w, chunk by chunk, without building the
// whole string. It implements io.WriterTo and returns the number of bytes
// written and the first error encountered.
func (r Rope) WriteTo(w io.Writer) (int64, error) {
	if r.root == nil {
		return 0, nil
	}
	var n int64
	err := r.root.writeTo(w, &n)
	return n, err
}

// ByteOffset returns the byte offset, in the UTF-8 text of r, of the code
// point at index pos; ByteOffset(r.Len()) == r.ByteLen(). It panics unless
// 0 <= pos <= r.Len(). O(log n).
func (r Rope) ByteOffset(pos int) int {
	n := r.Len()
	if pos < 0 || pos > n {
		panic("rope: ByteOffset position " + strconv.Itoa(pos) + " out of range [0:" + strconv.Itoa(n) + "]")
	}
	if r.root == nil {
		return 0
	}
	return r.root.byteOffset(pos)
}

// EqualString reports whether r.String() == s, comparing chunk by chunk
// without building r.String(). Since a rope always holds valid UTF-8, a
// string containing invalid UTF-8 is never equal to a rope. O(n) at most,
// O(1) when the byte lengths differ.
func (r Rope) EqualString(s string) bool {
	if len(s) != r.ByteLen() {
		return false
	}
	if r.root == nil {
		return true
	}
	return r.root.equal(s)
}

func (r Rope) checkSlice(op string, start, end int) {
	n := r.Len()
	if start < 0 || end < start || end > n {
		panic("rope: " + op + " bounds [" + strconv.Itoa(start) + ":" + strconv.Itoa(end) +
			"] out of range [0:" + strconv.Itoa(n) + "]")
	}
}

// ---------------------------------------------------------------------------
// Construction helpers

// sanitize replaces every byte of s that utf8.DecodeRuneInString rejects
// (width 1, RuneError) with the encoding of U+FFFD. It returns s itself when
// s is valid UTF-8. The result has the same utf8.RuneCountInString as s.
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		c, w := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && w == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

func newLeaf(s string, runes int) *node {
	return &node{bytes: len(s), runes: runes, text: s}
}

func newLeafCount(s string) *node {
	return newLeaf(s, countRunes(s))
}

// newInternal returns a new internal node with a copy of kids as children.
// len(kids) must be between 1 and maxKidsCap, all of the same height.
func newInternal(kids []*node) *node {
	in := &innerNode{}
	n := copy(in.buf[:], kids)
	if n != len(kids) || n == 0 {
		panic("rope: internal error: bad child count " + strconv.Itoa(len(kids)))
	}
	in.kids = in.buf[:n:n]
	in.height = kids[0].height + 1
	for _, k := range kids {
		in.bytes += k.bytes
		in.runes += k.runes
	}
	return &in.node
}

// withKid returns a copy of the internal node x with child i replaced by k.
func (x *node) withKid(i int, k *node) *node {
	in := &innerNode{}
	n := copy(in.buf[:], x.kids)
	in.kids = in.buf[:n:n]
	in.kids[i] = k
	old := x.kids[i]
	in.height = x.height
	in.bytes = x.bytes - old.bytes + k.bytes
	in.runes = x.runes - old.runes + k.runes
	return &in.node
}

// build returns a balanced tree holding the valid UTF-8 text s, or nil.
func build(s string) *node {
	if s == "" {
		return nil
	}
	level := appendLeaves(make([]*node, 0, len(s)/cfg.leafBuild+1), s, cfg.leafBuild)
	for len(level) > 1 {
		level = group(level, cfg.kidsBuild, make([]*node, 0, len(level)/cfg.kidsBuild+1))
	}
	return level[0]
}

// appendLeaves cuts the valid UTF-8 text s into leaves and appends them to
// out. If s fits in one leaf it becomes one leaf (which may be smaller than
// leafMin: the caller knows whether that is allowed). Otherwise the pieces
// are about size bytes each (size <= leafMax-utf8.UTFMax), all between
// leafMin and leafMax, cut on code point boundaries.
func appendLeaves(out []*node, s string, size int) []*node {
	if len(s) <= cfg.leafMax {
		return append(out, newLeafCount(s))
	}
	// g pieces of at most size bytes hold s: each cut leaves the rest
	// within g-1 of them. A cut moved back to a code point boundary
	// leaves the bytes it gave up to the rest, which after a few cuts of
	// multi-byte text would outgrow them: then the cut goes forward to
	// the next boundary instead.
	for g := (len(s) + size - 1) / size; g > 1; g-- {
		cut := cutPoint(s, len(s)/g)
		if len(s)-cut > (g-1)*size {
			cut = nextBoundary(s, len(s)-(g-1)*size)
		}
		out = append(out, newLeafCount(s[:cut]))
		s = s[cut:]
	}
	return append(out, newLeafCount(s))
}

// nextBoundary moves i forward to a code point boundary of the valid
// UTF-8 text s, by at most utf8.UTFMax-1 bytes.
func nextBoundary(s string, i int) int {
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// cutPoint moves i back to a code point boundary of the valid UTF-8 text
// s, by at most utf8.UTFMax-1 bytes. (The parameters leave room for that:
// see TestParams and TestAppendLeaves.)
func cutPoint(s string, i int) int {
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// group packs the same-height nodes kids under new parents, appending the
// parents to out. One parent if they fit; otherwise as few parents of about
// target children as keep every parent between kidsMin and kidsMax.
func group(kids []*node, target int, out []*node) []*node {
	n := len(kids)
	if n <= cfg.kidsMax {
		return append(out, newInternal(kids))
	}
	g := (n + target - 1) / target
	for g > 2 && n/g < cfg.kidsMin {
		g--
	}
	for ; g > 0; g-- {
		size := len(kids) / g
		out = append(out, newInternal(kids[:size]))
		kids = kids[size:]
	}
	return out
}

// growTarget is the grouping target for n nodes that overflowed a parent:
// split in halves for ordinary overflow, pack like build for big insertions.
func growTarget(n int) int {
	if n > 2*cfg.kidsMax {
		return cfg.kidsBuild
	}
	return cfg.kidsMax
}

// underfull reports whether x may only be a root: a leaf shorter than
// leafMin or an internal node with fewer than kidsMin children.
func underfull(x *node) bool {
	if x.height == 0 {
		return x.bytes < cfg.leafMin
	}
	return len(x.kids) < cfg.kidsMin
}

// ---------------------------------------------------------------------------
// Positions

// The text in the tree is always valid UTF-8, so the code points of a
// string are exactly its bytes that are not continuation bytes (10xxxxxx).
// That lets the helpers below look at 8 bytes at a time.

const hiBits = 0x8080808080808080

// load64 returns the 8 bytes of s from i on as a little-endian word.
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// contBytes returns the number of UTF-8 continuation bytes in w.
func contBytes(w uint64) int {
	return bits.OnesCount64(w &^ (w << 1) & hiBits)
}

// countRunes returns utf8.RuneCountInString(s) for valid UTF-8 s.
func countRunes(s string) int {
	n, i := len(s), 0
	for ; i+8 <= len(s); i += 8 {
		n -= contBytes(load64(s, i))
	}
	for ; i < len(s); i++ {
		if !utf8.RuneStart(s[i]) {
			n--
		}
	}
	return n
}

// runeOffset returns the byte offset of code point pos in the valid UTF-8
// text s, which holds runes code points. 0 <= pos <= runes.
func runeOffset(s string, runes, pos int) int {
	if len(s) == runes {
		return pos // ASCII
	}
	return skipRunes(s, 0, pos)
}

// skipRunes returns the offset of the n-th (counting from 0) code point
// that starts at or after byte i of the valid UTF-8 text s, or len(s) if
// there are only n.
func skipRunes(s string, i, n int) int {
	for i+8 <= len(s) {
		starts := 8 - contBytes(load64(s, i))
		if n < starts {
			break
		}
		n -= starts
		i += 8
	}
	for ; i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return len(s)
}

// byteOffset returns the byte offset of code point pos below x.
func (x *node) byteOffset(pos int) int {
	off := 0
	for x.height > 0 {
		if pos >= x.runes {
			return off + x.bytes
		}
		for _, k := range x.kids {
			if pos < k.runes {
				x = k
				break
			}
			pos -= k.runes
			off += k.bytes
		}
	}
	return off + runeOffset(x.text, x.runes, pos)
}

// withinLeaf reports whether the code points [pos, pos+n), n >= 1, lie in a
// single leaf below x.
func withinLeaf(x *node, pos, n int) bool {
	for x.height > 0 {
		for _, k := range x.kids {
			if pos < k.runes {
				x = k
				break
			}
			pos -= k.runes
		}
	}
	return pos+n <= x.runes
}

// ---------------------------------------------------------------------------
// Editing

// insert inserts s (valid UTF-8, sr code points, non-empty) at pos below x
// and returns the replacement for x: first followed by rest (nil in the
// common case that x is replaced by one node), all of x's height and each
// legal as a non-root node, except that a single replacement for an
// underfull root may itself be underfull.
func (x *node) insert(pos int, s string, sr int) (first *node, rest []*node) {
	if x.height == 0 {
		off := runeOffset(x.text, x.runes, pos)
		t := x.text[:off] + s + x.text[off:]
		if len(t) <= cfg.leafMax {
			return newLeaf(t, x.runes+sr), nil
		}
		size := cfg.leafMax - utf8.UTFMax
		if len(s) > 2*cfg.leafMax {
			size = cfg.leafBuild
		}
		ls := appendLeaves(nil, t, size)
		return ls[0], ls[1:]
	}
	i := 0
	for ; i < len(x.kids)-1; i++ {
		if pos <= x.kids[i].runes {
			break
		}
		pos -= x.kids[i].runes
	}
	first, rest = x.kids[i].insert(pos, s, sr)
	if rest == nil {
		return x.withKid(i, first), nil
	}
	var kbuf [maxKidsCap + 4]*node
	kids := append(kbuf[:0], x.kids[:i]...)
	kids = append(kids, first)
	kids = append(kids, rest...)
	kids = append(kids, x.kids[i+1:]...)
	if len(kids) <= cfg.kidsMax {
		return newInternal(kids), nil
	}
	ps := group(kids, growTarget(len(kids)), nil)
	return ps[0], ps[1:]
}

// deleteIn deletes the code points [pos, pos+n), which lie in one leaf,
// below x. It returns the new node, which may be underfull, or nil if
// nothing is left. The caller collapses a root with a single child.
func (x *node) deleteIn(pos, n int) *node {
	if x.height == 0 {
		a := runeOffset(x.text, x.runes, pos)
		b := a + n
		if len(x.text) != x.runes {
			b = skipRunes(x.text, a, n)
		}
		if a == 0 && b == len(x.text) {
			return nil
		}
		return newLeaf(x.text[:a]+x.text[b:], x.runes-n)
	}
	i := 0
	for ; i < len(x.kids)-1; i++ {
		if pos < x.kids[i].runes {
			break
		}
		pos -= x.kids[i].runes
	}
	c := x.kids[i].deleteIn(pos, n)
	if c != nil && !underfull(c) {
		return x.withKid(i, c)
	}
	var kbuf [maxKidsCap + 2]*node
	kids := append(kbuf[:0], x.kids[:i]...)
	switch {
	case c == nil:
		kids = append(kids, x.kids[i+1:]...)
	case i > 0:
		kids = mergeSame(x.kids[i-1], c, kids[:i-1])
		kids = append(kids, x.kids[i+1:]...)
	default:
		kids = mergeSame(c, x.kids[1], kids)
		kids = append(kids, x.kids[2:]...)
	}
	return newInternal(kids)
}

// mergeSame merges two nodes of the same height, at least one of them legal
// as a non-root, and appends the result to out: one or two (rarely three
// leaves) nodes, each legal as a non-root. Their text is a's then b's.
func mergeSame(a, b *node, out []*node) []*node {
	if a.height == 0 {
		return appendLeaves(out, a.text+b.text, cfg.leafMax-utf8.UTFMax)
	}
	var kbuf [2 * maxKidsCap]*node
	kids := append(kbuf[:0], a.kids...)
	kids = append(kids, b.kids...)
	return group(kids, cfg.kidsMax, out)
}

// rootOf returns a single root for the same-height nodes ns (at most
// kidsMax of them), or nil if there are none.
func rootOf(ns []*node) *node {
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return ns[0]
	}
	return newInternal(ns)
}

// join returns a root holding the text of a followed by that of b. Both are
// roots (or nil); the heights may differ. The cost is O(|height difference|
// + 1) new nodes.
func join(a, b *node) *node {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	var buf [3]*node
	switch {
	case a.height == b.height:
		if !underfull(a) && !underfull(b) {
			return newInternal([]*node{a, b})
		}
		return rootOf(mergeSame(a, b, buf[:0]))
	case a.height > b.height:
		return rootOf(joinRight(a, b, buf[:0]))
	default:
		return rootOf(joinLeft(a, b, buf[:0]))
	}
}

// joinRight appends b, a root lower than x, at the right edge of x and
// appends the one or two resulting nodes of x's height to out.
func joinRight(x, b *node, out []*node) []*node {
	last := len(x.kids) - 1
	var kbuf [maxKidsCap + 3]*node
	kids := append(kbuf[:0], x.kids[:last]...)
	switch {
	case x.height > b.height+1:
		kids = joinRight(x.kids[last], b, kids)
	case underfull(b):
		kids = mergeSame(x.kids[last], b, kids)
	default:
		kids = append(kids, x.kids[last], b)
	}
	return group(kids, cfg.kidsMax, out)
}

// joinLeft prepends a, a root lower than y, at the left edge of y and
// appends the one or two resulting nodes of y's height to out.
func joinLeft(a, y *node, out []*node) []*node {
	var kbuf [maxKidsCap + 3]*node
	var kids []*node
	switch {
	case y.height > a.height+1:
		kids = joinLeft(a, y.kids[0], kbuf[:0])
	case underfull(a):
		kids = mergeSame(a, y.kids[0], kbuf[:0])
	default:
		kids = append(kbuf[:0], a, y.kids[0])
	}
	kids = append(kids, y.kids[1:]...)
	return group(kids, cfg.kidsMax, out)
}

// prefix returns a root holding the first pos code points below x.
func prefix(x *node, pos int) *node {
	if pos <= 0 {
		return nil
	}
	if pos >= x.runes {
		return x
	}
	if x.height == 0 {
		return newLeaf(x.text[:runeOffset(x.text, x.runes, pos)], pos)
	}
	for i, k := range x.kids {
		if pos == k.runes {
			return rootOf(x.kids[:i+1])
		}
		if pos < k.runes {
			return join(rootOf(x.kids[:i]), prefix(k, pos))
		}
		pos -= k.runes
	}
	panic("rope: internal error: prefix past end")
}

// suffix returns a root holding the code points below x from pos on.
func suffix(x *node, pos int) *node {
	if pos <= 0 {
		return x
	}
	if pos >= x.runes {
		return nil
	}
	if x.height == 0 {
		return newLeaf(x.text[runeOffset(x.text, x.runes, pos):], x.runes-pos)
	}
	for i, k := range x.kids {
		if pos == 0 {
			return rootOf(x.kids[i:])
		}
		if pos < k.runes {
			return join(suffix(k, pos), rootOf(x.kids[i+1:]))
		}
		pos -= k.runes
	}
	panic("rope: internal error: suffix past end")
}

// ---------------------------------------------------------------------------
// Reading

func (x *node) appendTo(b *strings.Builder) {
	if x.height == 0 {
		b.WriteString(x.text)
		return
	}
	for _, k := range x.kids {
		k.appendTo(b)
	}
}

// appendRange appends the bytes [bs, be) of the text below x to b.
func (x *node) appendRange(b *strings.Builder, bs, be int) {
	if x.height == 0 {
		b.WriteString(x.text[max(bs, 0):min(be, len(x.text))])
		return
	}
	for _, k := range x.kids {
		if be <= 0 {
			return
		}
		if bs < k.bytes {
			k.appendRange(b, bs, be)
		}
		bs -= k.bytes
		be -= k.bytes
	}
}

func (x *node) each(yield func(string) bool) bool {
	if x.height == 0 {
		return yield(x.text)
	}
	for _, k := range x.kids {
		if !k.each(yield) {
			return false
		}
	}
	return true
}

func (x *node) writeTo(w io.Writer, n *int64) error {
	if x.height == 0 {
		m, err := io.WriteString(w, x.text)
		*n += int64(m)
		return err
	}
	for _, k := range x.kids {
		if err := k.writeTo(w, n); err != nil {
			return err
		}
	}
	return nil
}

// equal reports whether the text below x equals s; len(s) == x.bytes.
func (x *node) equal(s string) bool {
	if x.height == 0 {
		return x.text == s
	}
	off := 0
	for _, k := range x.kids {
		if !k.equal(s[off : off+k.bytes]) {
			return false
		}
		off += k.bytes
	}
	return true
}
