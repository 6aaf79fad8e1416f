package docs

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/collab-editor/collab/internal/ot"
	bolt "go.etcd.io/bbolt"
)

// BlameLine says which revision last changed a line, and who made it.
type BlameLine struct {
	Line   int    `json:"line"` // 1-based
	Rev    uint64 `json:"rev"`
	Author string `json:"author"`
}

// blameLine is one line of the text: its length in code points, counting
// its '\n', and the revision that last changed it.
type blameLine struct {
	n   int
	rev uint64
}

// blameApply returns the lines after the edit of components comps (an
// operation's, normalised; blameApply may change the slice), made at
// revision rev. A line is attributed to rev when the edit inserted or
// deleted anything in it; a line that only moved keeps its revision. Lines
// inserted or deleted from the end of a line ("\nnew line" typed before
// its '\n') count as below it. Lines are as strings.Split(text, "\n")
// gives them: the last one has no '\n'. blameEdit applies it to the few
// lines an edit touches.
func blameApply(lines []blameLine, comps []ot.Component, rev uint64) []blameLine {
	out := make([]blameLine, 0, len(lines)+8)
	li, lo := 0, 0 // position in the old lines
	cur := blameLine{rev: lines[0].rev}
	touched := false
	push := func() {
		if touched {
			cur.rev = rev
		}
		out = append(out, cur)
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
					cur, touched = blameLine{rev: lines[li].rev}, false
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
				cur, touched = blameLine{rev: lines[li].rev}, false
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
				cur, touched = blameLine{rev: lines[li].rev}, lo != 0
			}
		}
	}
	push()
	return out
}

// blameEdit is blameApply for a text of many lines: it applies op to the
// lines op changes, with a line of margin before and two after, and
// splices the result into lines in place, so a keystroke costs a walk
// over line lengths and a copy, not a rebuild of every line. It gives what
// blameApply gives: blameApply starts every line fresh, and looks at most
// one code point past a change, so the lines outside the window come out
// as they went in.
func blameEdit(lines []blameLine, op ot.Operation, rev uint64) []blameLine {
	comps := slices.Collect(op.Components())
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
		return lines // retains only
	}
	// The lines holding p0 and p1, and where the window starts.
	ia, ib := -1, len(lines)-1
	pos, startA := 0, 0
	for i, l := range lines {
		end := pos + l.n
		if ia < 0 && (p0 < end || i == len(lines)-1) {
			ia, startA = i, pos
		}
		if p1 < end {
			ib = i
			break
		}
		pos = end
	}
	a, b := ia, min(ib+3, len(lines))
	if a > 0 {
		a--
		startA -= lines[a].n
	}
	endB := startA
	for _, l := range lines[a:b] {
		endB += l.n
	}
	// The edit of the window: its changes, between retains of the lines
	// around them (changes start and end with no retain, so this is
	// normalised as it stands).
	sub := make([]ot.Component, 0, last-first+2)
	if n := p0 - startA; n > 0 {
		sub = append(sub, ot.Component{Kind: ot.Retain, N: n})
	}
	sub = append(sub, comps[first:last]...)
	if n := endB - p1; n > 0 {
		sub = append(sub, ot.Component{Kind: ot.Retain, N: n})
	}
	return slices.Replace(lines, a, b, blameApply(lines[a:b], sub, rev)...)
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

func encodeBlame(lines []blameLine) []byte {
	buf := binary.AppendUvarint(nil, uint64(len(lines)))
	for _, l := range lines {
		buf = binary.AppendUvarint(buf, uint64(l.n))
		buf = binary.AppendUvarint(buf, l.rev)
	}
	return buf
}

func decodeBlame(data []byte) ([]blameLine, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)) {
		return nil, fmt.Errorf("docs: corrupt blame checkpoint")
	}
	data = data[k:]
	lines := make([]blameLine, n)
	for i := range lines {
		a, k1 := binary.Uvarint(data)
		if k1 <= 0 {
			return nil, fmt.Errorf("docs: corrupt blame checkpoint")
		}
		b, k2 := binary.Uvarint(data[k1:])
		if k2 <= 0 {
			return nil, fmt.Errorf("docs: corrupt blame checkpoint")
		}
		lines[i] = blameLine{n: int(a), rev: b}
		data = data[k1+k2:]
	}
	return lines, nil
}

// Blame returns, for each line of the text at revision rev, the revision
// and author that last changed it. It starts from the newest blame
// checkpoint at or before rev and replays the log from there; checkpoints
// are saved every SnapshotEvery revisions as it goes, so only the first
// query over a long history replays it all.
func (m *Manager) Blame(id string, rev uint64) ([]BlameLine, error) {
	return m.blame(id, rev, true)
}

// blame is Blame; without authors it only brings the checkpoints up to
// rev and returns nothing, which is all the indexer needs.
func (m *Manager) blame(id string, rev uint64, authors bool) ([]BlameLine, error) {
	every := uint64(m.cfg.SnapshotEvery)
	var (
		lines []blameLine
		saves = map[uint64][]byte{}
		out   []BlameLine
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
		from := uint64(0)
		lines = []blameLine{{n: 0, rev: 0}}
		c := b.Bucket(subBlame).Cursor()
		k, val := c.Seek(revKey(rev))
		if k == nil || binary.BigEndian.Uint64(k) > rev {
			k, val = c.Prev()
		}
		if k != nil {
			if lines, err = decodeBlame(val); err != nil {
				return err
			}
			from = binary.BigEndian.Uint64(k)
		}
		err = d.each(from, rev, func(r Revision) bool {
			lines = blameEdit(lines, r.Op, r.Rev)
			if r.Rev%every == 0 {
				saves[r.Rev] = encodeBlame(lines)
			}
			return true
		})
		if err != nil || !authors {
			return err
		}
		names := map[uint64]string{}
		out = make([]BlameLine, len(lines))
		for i, l := range lines {
			a, ok := names[l.rev]
			if !ok && l.rev > 0 {
				r, found, err := d.revision(l.rev)
				if err != nil {
					return err
				}
				if found {
					a = r.Author
				}
				names[l.rev] = a
			}
			out[i] = BlameLine{Line: i + 1, Rev: l.rev, Author: a}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(saves) > 0 {
		// Cache the checkpoints; the document may be gone by now, which
		// only means there is nothing to cache.
		m.commit.enqueue(&write{fn: func(tx *bolt.Tx) error {
			b, err := docBucket(tx, id)
			if err != nil {
				return nil
			}
			for rev, v := range saves {
				if err := b.Bucket(subBlame).Put(revKey(rev), v); err != nil {
					return err
				}
			}
			return nil
		}, what: "the blame checkpoints"})
	}
	return out, nil
}
