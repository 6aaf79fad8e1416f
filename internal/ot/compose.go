package ot

import "fmt"

// Compose returns one operation that has the effect of a followed by b.
//
// Law: Apply(s, Compose(a, b)) == Apply(Apply(s, a), b) for every s of
// length a.BaseLen(). It returns ErrComposeLength when a.TargetLen() !=
// b.BaseLen().
func Compose(a, b Operation) (Operation, error) {
	if a.targetLen != b.baseLen {
		return Operation{}, fmt.Errorf("%w: %d != %d", ErrComposeLength, a.targetLen, b.baseLen)
	}
	out := Operation{ops: make([]Component, 0, len(a.ops)+len(b.ops))}
	i, j := 0, 0
	var x, y Component // the parts of a.ops[i-1] and b.ops[j-1] not yet consumed
	next := func(ops []Component, k *int) Component {
		if *k < len(ops) {
			*k++
			return ops[*k-1]
		}
		return Component{}
	}
	x, y = next(a.ops, &i), next(b.ops, &j)
	for x.Kind != 0 || y.Kind != 0 {
		if x.Kind == Delete {
			out.Delete(x.N)
			x = next(a.ops, &i)
			continue
		}
		if y.Kind == Insert {
			out.insert(y.Text, y.N)
			y = next(b.ops, &j)
			continue
		}
		if x.Kind == 0 || y.Kind == 0 {
			// Unreachable for operations built by this package: their
			// lengths were checked above.
			return Operation{}, fmt.Errorf("%w: components do not line up", ErrComposeLength)
		}
		n := min(x.N, y.N)
		switch {
		case x.Kind == Retain && y.Kind == Retain:
			out.Retain(n)
		case x.Kind == Insert && y.Kind == Retain:
			head, _ := splitText(x, n)
			out.insert(head, n)
		case x.Kind == Retain && y.Kind == Delete:
			out.Delete(n)
		case x.Kind == Insert && y.Kind == Delete:
			// Inserted, then deleted: nothing remains.
		}
		x = consume(x, n)
		y = consume(y, n)
		if x.Kind == 0 {
			x = next(a.ops, &i)
		}
		if y.Kind == 0 {
			y = next(b.ops, &j)
		}
	}
	return out, nil
}

// consume drops the first n code points of c, returning the zero Component
// when nothing remains.
func consume(c Component, n int) Component {
	if n >= c.N {
		return Component{}
	}
	if c.Kind == Insert {
		_, c.Text = splitText(c, n)
	}
	c.N -= n
	return c
}

// splitText splits an insert's text after n code points.
func splitText(c Component, n int) (string, string) {
	if n >= c.N {
		return c.Text, ""
	}
	i := runeOffset(c.Text, n)
	return c.Text[:i], c.Text[i:]
}
