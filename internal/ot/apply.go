package ot

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/rope"
)

// Apply returns text edited by o.
//
// Law: len(Apply(s, o)) == o.TargetLen() whenever len(s) == o.BaseLen(),
// counting code points. It returns ErrBaseLength, and nothing else, when
// text is not o.BaseLen() code points long. Apply copies the whole text; a
// document should use [Operation.ApplyRope].
func (o Operation) Apply(text string) (string, error) {
	if n := utf8.RuneCountInString(text); n != o.baseLen {
		return "", fmt.Errorf("%w: operation expects %d code points, text has %d", ErrBaseLength, o.baseLen, n)
	}
	var b strings.Builder
	size := len(text)
	for _, c := range o.ops {
		if c.Kind == Insert {
			size += len(c.Text)
		}
	}
	b.Grow(size)
	rest := text
	for _, c := range o.ops {
		switch c.Kind {
		case Retain:
			i := runeOffset(rest, c.N)
			b.WriteString(rest[:i])
			rest = rest[i:]
		case Insert:
			b.WriteString(c.Text)
		case Delete:
			rest = rest[runeOffset(rest, c.N):]
		}
	}
	return b.String(), nil
}

// ApplyRope returns r edited by o, sharing every unchanged part of r. Its
// cost grows with the number of components and the logarithm of r's size,
// not with the size of r.
//
// Law: ApplyRope(r).String() == Apply(r.String()). It returns
// ErrBaseLength when r is not o.BaseLen() code points long.
func (o Operation) ApplyRope(r rope.Rope) (rope.Rope, error) {
	if n := r.Len(); n != o.baseLen {
		return r, fmt.Errorf("%w: operation expects %d code points, text has %d", ErrBaseLength, o.baseLen, n)
	}
	pos := 0
	for _, c := range o.ops {
		switch c.Kind {
		case Retain:
			pos += c.N
		case Insert:
			r = r.Insert(pos, c.Text)
			pos += c.N
		case Delete:
			r = r.Delete(pos, c.N)
		}
	}
	return r, nil
}

// Invert returns the operation that undoes o, given the text o was applied
// to.
//
// Law: Apply(Apply(base, o), Invert(o, base)) == base. It returns
// ErrBaseLength when base is not o.BaseLen() code points long.
func (o Operation) Invert(base string) (Operation, error) {
	if n := utf8.RuneCountInString(base); n != o.baseLen {
		return Operation{}, fmt.Errorf("%w: operation expects %d code points, text has %d", ErrBaseLength, o.baseLen, n)
	}
	inv := Operation{ops: make([]Component, 0, len(o.ops))}
	rest := base
	for _, c := range o.ops {
		switch c.Kind {
		case Retain:
			inv.Retain(c.N)
			rest = rest[runeOffset(rest, c.N):]
		case Insert:
			inv.Delete(c.N)
		case Delete:
			i := runeOffset(rest, c.N)
			inv.insert(rest[:i], c.N)
			rest = rest[i:]
		}
	}
	return inv, nil
}

// InvertRope is [Operation.Invert] for a text held in a rope; it reads only
// the deleted parts of base.
func (o Operation) InvertRope(base rope.Rope) (Operation, error) {
	if n := base.Len(); n != o.baseLen {
		return Operation{}, fmt.Errorf("%w: operation expects %d code points, text has %d", ErrBaseLength, o.baseLen, n)
	}
	inv := Operation{ops: make([]Component, 0, len(o.ops))}
	pos := 0
	for _, c := range o.ops {
		switch c.Kind {
		case Retain:
			inv.Retain(c.N)
			pos += c.N
		case Insert:
			inv.Delete(c.N)
		case Delete:
			inv.insert(base.SliceString(pos, pos+c.N), c.N)
			pos += c.N
		}
	}
	return inv, nil
}
