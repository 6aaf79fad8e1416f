package ot

import "fmt"

// Transform takes two operations a and b made concurrently on one text and
// returns a' and b' such that applying a then b' gives the same text as
// applying b then a'.
//
// Law (TP1): Apply(Apply(s, a), b') == Apply(Apply(s, b), a') for every s
// of length a.BaseLen().
//
// Tie rule: when a and b insert at the same position, a's insert comes
// first in the result. A server calls Transform(incoming, applied) for each
// operation applied since the incoming one's base revision, as ot.js does.
// It returns ErrTransformLength when a.BaseLen() != b.BaseLen().
func Transform(a, b Operation) (Operation, Operation, error) {
	if a.baseLen != b.baseLen {
		return Operation{}, Operation{}, fmt.Errorf("%w: %d != %d", ErrTransformLength, a.baseLen, b.baseLen)
	}
	n := len(a.ops) + len(b.ops)
	ap := Operation{ops: make([]Component, 0, n)}
	bp := Operation{ops: make([]Component, 0, n)}
	i, j := 0, 0
	var x, y Component
	if i < len(a.ops) {
		x, i = a.ops[i], i+1
	}
	if j < len(b.ops) {
		y, j = b.ops[j], j+1
	}
	for x.Kind != 0 || y.Kind != 0 {
		switch {
		case x.Kind == Insert:
			ap.insert(x.Text, x.N)
			bp.Retain(x.N)
			x = Component{}
		case y.Kind == Insert:
			ap.Retain(y.N)
			bp.insert(y.Text, y.N)
			y = Component{}
		case x.Kind == 0 || y.Kind == 0:
			// Unreachable for operations built by this package.
			return Operation{}, Operation{}, fmt.Errorf("%w: components do not line up", ErrTransformLength)
		default:
			m := min(x.N, y.N)
			switch {
			case x.Kind == Retain && y.Kind == Retain:
				ap.Retain(m)
				bp.Retain(m)
			case x.Kind == Delete && y.Kind == Retain:
				ap.Delete(m)
			case x.Kind == Retain && y.Kind == Delete:
				bp.Delete(m)
			case x.Kind == Delete && y.Kind == Delete:
				// Both deleted the same text: neither needs to again.
			}
			x = consume(x, m)
			y = consume(y, m)
		}
		if x.Kind == 0 && i < len(a.ops) {
			x, i = a.ops[i], i+1
		}
		if y.Kind == 0 && j < len(b.ops) {
			y, j = b.ops[j], j+1
		}
	}
	return ap, bp, nil
}

// TransformIndex returns where position pos (a code-point offset in the
// text o applies to) is in the text o produces, for cursors and selections.
//
// Law: text before the position stays before it, and text after it stays
// after it. Tie rule: an insert exactly at pos moves the position to after
// the inserted text (as ot.js does for remote cursors). A position inside a
// deleted range moves to where the range was. pos is clamped to
// [0, o.BaseLen()] first.
func (o Operation) TransformIndex(pos int) int {
	pos = max(0, min(pos, o.baseLen))
	out := pos
	rest := pos // code points of the base left before the position
	for _, c := range o.ops {
		switch c.Kind {
		case Retain:
			rest -= c.N
		case Insert:
			out += c.N
		case Delete:
			out -= min(rest, c.N)
			rest -= c.N
		}
		if rest < 0 {
			break
		}
	}
	return out
}
