package docs

import (
	"fmt"
	"slices"

	"github.com/collab-editor/collab/internal/ot"
)

// Blame tells, for each line of a text, the revision that last changed it
// and its author. It is computed by replaying the log: each revision
// attributes to itself the lines it inserted into or deleted from
// (blameApply). A replay starts from the newest blame checkpoint at or
// before the revision asked for (see blamecheckpoint.go), which the
// blame indexer writes as documents grow; reads never write one.

// BlameLine says which revision last changed a line, and who made it.
type BlameLine struct {
	Line   int    `json:"line"` // 1-based
	Rev    uint64 `json:"rev"`
	Author string `json:"author"`
}

// blameLine is one line of the text: its length in code points, counting
// its '\n', the revision that last changed it, and that revision's author
// (an index into its blameText's authors).
type blameLine struct {
	n   int
	rev uint64
	who uint32
}

// blameApply returns the lines after the edit of components comps (an
// operation's, normalised; blameApply may change the slice), made at
// revision rev by author who. A line is attributed to rev when the edit
// inserted or deleted anything in it; a line that only moved keeps its
// revision. Lines inserted or deleted from the end of a line ("\nnew
// line" typed before its '\n') count as below it. Lines are as
// strings.Split(text, "\n") gives them: the last one has no '\n'.
// blameText.edit applies it to the few lines an edit touches.
func blameApply(lines []blameLine, comps []ot.Component, rev uint64, who uint32) []blameLine {
	out := make([]blameLine, 0, len(lines)+8)
	li, lo := 0, 0 // position in the old lines
	cur := blameLine{rev: lines[0].rev, who: lines[0].who}
	touched := false
	push := func() {
		if touched {
			cur.rev, cur.who = rev, who
		}
		out = append(out, cur)
	}
	// fresh starts old line li, untouched so far.
	fresh := func() {
		cur, touched = blameLine{rev: lines[li].rev, who: lines[li].who}, false
	}
	// step consumes k code points of the old text, keeping them in cur
	// when keep is set. It ends the current line at each old '\n' kept,
	// and joins lines across each old '\n' deleted.
	step := func(k int, keep bool) {
		for k > 0 {
			avail := lines[li].n - lo
			t := min(k, avail)
			k -= t
			lo += t
			if keep {
				cur.n += t
			}
			if lo == lines[li].n && li < len(lines)-1 {
				li, lo = li+1, 0
				if keep {
					push()
					fresh()
				}
			}
		}
	}
	for i, c := range comps {
		// An insert that starts with '\n', or a delete that ends just
		// before a '\n', placed at an old '\n' that the op keeps, gives the
		// same text as when moved one code point on, past that '\n'. Blame
		// it there, so that Enter at the end of a line (or deleting from
		// the end of one line to the end of another) leaves that line's
		// revision alone, as a line inserted (or deleted) below it should.
		if i+1 < len(comps) && comps[i+1].Kind == ot.Retain && newlineAt(lines, li, lo, 0) &&
			(c.Kind == ot.Insert && c.Text[0] == '\n' || c.Kind == ot.Delete && newlineAt(lines, li, lo, c.N)) {
			step(1, true)
			comps[i+1].N--
			if c.Kind == ot.Insert {
				c.Text = c.Text[1:] + "\n"
			}
		}
		switch c.Kind {
		case ot.Retain:
			step(c.N, true)
		case ot.Delete:
			wasTouched, atStart := touched, cur.n == 0 && lo == 0
			touched = true
			step(c.N, false)
			if atStart && lo == 0 && !wasTouched {
				// Whole lines removed: the line now here is unchanged.
				fresh()
			}
		case ot.Insert:
			for _, r := range c.Text {
				cur.n++
				if r != '\n' {
					touched = true
					continue
				}
				touched = true
				push()
				// The next line is untouched if it starts an old line and
				// nothing more is inserted into it.
				fresh()
				touched = lo != 0
			}
		}
	}
	push()
	return out
}

// newlineAt reports whether the old code point k after position lo of
// line li is a line's '\n'.
func newlineAt(lines []blameLine, li, lo, k int) bool {
	for lo+k >= lines[li].n {
		if li == len(lines)-1 {
			return false
		}
		k -= lines[li].n - lo
		li, lo = li+1, 0
	}
	return li < len(lines)-1 && lo+k == lines[li].n-1
}

// blameChunk is the number of lines blameText keeps in a chunk: an edit
// walks the chunks' sizes to the one it starts in, then that chunk's
// lines, and moves the lines after it within it only. A chunk holds
// between blameChunk/4 and 2*blameChunk lines (but when the text has
// fewer).
const blameChunk = 512

// blameText is the blame of a text: its lines, in chunks, so that
// replaying a keystroke into a text of 100,000 lines costs a walk over a
// few hundred chunk sizes and one chunk, not over every line; and the
// authors its lines name.
type blameText struct {
	chunks [][]blameLine // never empty, nor is any chunk
	sizes  []int         // code points in each chunk
	total  int           // code points in all
	chunk  int           // blameChunk (tests make it small)

	authors []string          // by blameLine.who
	who     map[string]uint32 // the index of each of authors

	// Buffers reused from edit to edit.
	comps, sub []ot.Component
	win        []blameLine
}

// newBlameText returns the blame of the empty text: one empty line, which
// nothing wrote.
func newBlameText() *blameText {
	return blameTextOf([]blameLine{{}}, []string{""})
}

// blameTextOf returns the blame of lines (at least one) whose who fields
// index authors.
func blameTextOf(lines []blameLine, authors []string) *blameText {
	return chunkedBlame(lines, authors, blameChunk)
}

// chunkedBlame is blameTextOf with chunks of chunk lines.
func chunkedBlame(lines []blameLine, authors []string, chunk int) *blameText {
	t := &blameText{authors: authors, who: make(map[string]uint32, len(authors)), chunk: chunk}
	for i, a := range authors {
		t.who[a] = uint32(i)
	}
	for len(lines) > 0 {
		k := min(len(lines), chunk)
		if len(lines)-k < chunk/4 {
			k = len(lines) // no small last chunk
		}
		t.chunks = append(t.chunks, lines[:k:k])
		t.sizes = append(t.sizes, sumLines(lines[:k]))
		t.total += t.sizes[len(t.sizes)-1]
		lines = lines[k:]
	}
	return t
}

func sumLines(lines []blameLine) int {
	n := 0
	for _, l := range lines {
		n += l.n
	}
	return n
}

// lines returns the number of lines.
func (t *blameText) lines() int {
	n := 0
	for _, c := range t.chunks {
		n += len(c)
	}
	return n
}

// author returns the index of author a, adding it if new.
func (t *blameText) author(a string) uint32 {
	i, ok := t.who[a]
	if !ok {
		i = uint32(len(t.authors))
		t.authors = append(t.authors, a)
		t.who[a] = i
	}
	return i
}

// edit applies revision r. It gives what blameApply over every line
// gives: it applies r to the lines r changes, with a line of margin
// before and two after, and splices the result in, and blameApply starts
// every line fresh, and looks at most one code point past a change, so
// the lines outside that window come out as they went in.
func (t *blameText) edit(r Revision) error {
	op := &r.Op
	if op.BaseLen() != t.total {
		return fmt.Errorf("docs: revision %d applies to %d code points, but the text before it has %d", r.Rev, op.BaseLen(), t.total)
	}
	t.comps = t.comps[:0]
	for c := range op.Components() {
		t.comps = append(t.comps, c)
	}
	comps := t.comps
	first, last := 0, len(comps)
	p0 := 0 // where the first change starts, in the old text
	if first < last && comps[first].Kind == ot.Retain {
		p0 = comps[first].N
		first++
	}
	p1 := op.BaseLen() // where the last change ends
	if first < last && comps[last-1].Kind == ot.Retain {
		p1 -= comps[last-1].N
		last--
	}
	if first == last {
		return nil // retains only
	}
	// The chunk and line holding p0, and where that line starts.
	ca, pos := 0, 0
	for ca < len(t.chunks)-1 && p0 >= pos+t.sizes[ca] {
		pos += t.sizes[ca]
		ca++
	}
	ia := 0
	for c := t.chunks[ca]; ia < len(c)-1 && p0 >= pos+c[ia].n; ia++ {
		pos += c[ia].n
	}
	// The window starts a line before, which may end the chunk before.
	switch {
	case ia > 0:
		ia--
		pos -= t.chunks[ca][ia].n
	case ca > 0:
		ca--
		ia = len(t.chunks[ca]) - 1
		pos -= t.chunks[ca][ia].n
	}
	startA := pos
	// Gather the window, from there to two lines past the one holding p1
	// (or to the end), and note the chunk and line just past it.
	t.win = t.win[:0]
	cb, ib := ca, ia
	after := -1 // lines still to take once p1's line is in
	for {
		l := t.chunks[cb][ib]
		t.win = append(t.win, l)
		pos += l.n
		ib++
		if after < 0 && p1 < pos {
			after = 2
		} else if after > 0 {
			after--
		}
		if after == 0 {
			break
		}
		if ib == len(t.chunks[cb]) {
			if cb == len(t.chunks)-1 {
				break // the last line
			}
			cb, ib = cb+1, 0
		}
	}
	endB := pos
	// The edit of the window: its changes, between retains of the lines
	// around them (changes start and end with no retain, so this is
	// normalised as it stands).
	sub := t.sub[:0]
	if n := p0 - startA; n > 0 {
		sub = append(sub, ot.Component{Kind: ot.Retain, N: n})
	}
	sub = append(sub, comps[first:last]...)
	if n := endB - p1; n > 0 {
		sub = append(sub, ot.Component{Kind: ot.Retain, N: n})
	}
	t.sub = sub
	res := blameApply(t.win, sub, r.Rev, t.author(r.Author))
	t.splice(ca, ia, cb, ib, res, op.TargetLen()-op.BaseLen())
	t.total += op.TargetLen() - op.BaseLen()
	return nil
}

// splice replaces the lines from line ia of chunk ca up to line ib of
// chunk cb (exclusive; ib may be the chunk's length) with lines, which
// hold delta code points more than those they replace, and keeps the
// chunks between t.chunk/4 and 2*t.chunk lines.
func (t *blameText) splice(ca, ia, cb, ib int, lines []blameLine, delta int) {
	if ca == cb && len(t.chunks[ca])-(ib-ia)+len(lines) <= 2*t.chunk {
		t.chunks[ca] = slices.Replace(t.chunks[ca], ia, ib, lines...)
		t.sizes[ca] += delta
		if len(t.chunks[ca]) >= t.chunk/4 || len(t.chunks) == 1 {
			return
		}
	} else {
		// Across chunks, or too long for one: join the chunks, and cut
		// them again below.
		c := slices.Concat(t.chunks[ca][:ia], lines, t.chunks[cb][ib:])
		t.chunks = slices.Replace(t.chunks, ca, cb+1, c)
		t.sizes = slices.Replace(t.sizes, ca, cb+1, sumLines(c))
	}
	// Chunk ca is too short or too long: join it with a neighbour if it
	// has one, and cut what that gives into chunks of t.chunk lines.
	if len(t.chunks[ca]) < t.chunk/4 && len(t.chunks) > 1 {
		if ca == len(t.chunks)-1 {
			ca--
		}
		c := slices.Concat(t.chunks[ca], t.chunks[ca+1])
		t.chunks = slices.Replace(t.chunks, ca, ca+2, c)
		t.sizes = slices.Replace(t.sizes, ca, ca+2, t.sizes[ca]+t.sizes[ca+1])
	}
	if c := t.chunks[ca]; len(c) > 2*t.chunk {
		cut := chunkedBlame(c, nil, t.chunk)
		t.chunks = slices.Replace(t.chunks, ca, ca+1, cut.chunks...)
		t.sizes = slices.Replace(t.sizes, ca, ca+1, cut.sizes...)
	}
}

// blame returns the blame as the API gives it.
func (t *blameText) blame() []BlameLine {
	out := make([]BlameLine, 0, t.lines())
	for _, c := range t.chunks {
		for _, l := range c {
			out = append(out, BlameLine{Line: len(out) + 1, Rev: l.rev, Author: t.authors[l.who]})
		}
	}
	return out
}

// Blame returns, for each line of the text at revision rev, the revision
// and author that last changed it. It replays the log from the newest
// sound blame checkpoint at or before rev; it writes nothing, and hands a
// document whose checkpoints it found missing or damaged to the indexer.
func (m *Manager) Blame(id string, rev uint64) ([]BlameLine, error) {
	var (
		out   []BlameLine
		stale bool
	)
	err := m.store.view(id, func(v *view) error {
		d, err := v.doc(id)
		if err != nil {
			return err
		}
		if rev > d.head() {
			return fmt.Errorf("%w: revision %d of %q (head is %d)", ErrNotFound, rev, id, d.head())
		}
		b, err := docBucket(v.tx, id)
		if err != nil {
			return err
		}
		st, err := replayBlame(d, b.Bucket(subBlame), rev, m.cfg.SnapshotEvery, 0)
		if err != nil {
			return err
		}
		stale = len(st.bad) > 0 || rev-st.at > 2*blameInterval(m.cfg.SnapshotEvery, st.size)
		out = st.t.blame()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if stale {
		select {
		case m.index <- blameJob{id, rev}:
		default: // the indexer is busy; the next blame asks again
		}
	}
	return out, nil
}
