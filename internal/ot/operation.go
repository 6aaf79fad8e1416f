package ot

import (
	"fmt"
	"iter"
	"math"
	"unicode/utf8"
)

// Kind says what a [Component] does.
type Kind uint8

// The kinds of component.
const (
	Retain Kind = iota + 1 // keep N code points
	Insert                 // insert Text, N code points long
	Delete                 // remove N code points
)

func (k Kind) String() string {
	switch k {
	case Retain:
		return "retain"
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Component is one step of an [Operation]. N is always positive; for an
// insert it is the number of code points in Text.
type Component struct {
	Kind Kind
	N    int
	Text string
}

// Operation is one edit of a whole text. The zero value is the empty
// operation, which applies to the empty text only. Build operations with
// Retain, Insert and Delete; an Operation handed to a function of this
// package is never modified by it.
type Operation struct {
	ops       []Component
	baseLen   int
	targetLen int
}

// BaseLen is the length, in code points, of the text the operation applies to.
func (o Operation) BaseLen() int { return o.baseLen }

// TargetLen is the length, in code points, of the text the operation produces.
func (o Operation) TargetLen() int { return o.targetLen }

// Len is the number of components.
func (o Operation) Len() int { return len(o.ops) }

// Components yields the components in order.
func (o Operation) Components() iter.Seq[Component] {
	return func(yield func(Component) bool) {
		for _, c := range o.ops {
			if !yield(c) {
				return
			}
		}
	}
}

// IsNoop reports whether applying the operation leaves every text unchanged:
// it has no component, or only one retain.
func (o Operation) IsNoop() bool {
	return len(o.ops) == 0 || (len(o.ops) == 1 && o.ops[0].Kind == Retain)
}

// Equal reports whether o and p make the same edit. Because builders
// normalise, two operations that make the same edit are component-for-
// component identical.
func (o Operation) Equal(p Operation) bool {
	if o.baseLen != p.baseLen || o.targetLen != p.targetLen || len(o.ops) != len(p.ops) {
		return false
	}
	for i := range o.ops {
		if o.ops[i] != p.ops[i] {
			return false
		}
	}
	return true
}

// String returns the JSON wire form, for logs and tests.
func (o Operation) String() string { return string(o.AppendJSON(nil)) }

// Retain appends retain(n): keep the next n code points. n <= 0 adds
// nothing. It merges with a retain before it. It returns o for chaining.
func (o *Operation) Retain(n int) *Operation {
	if n <= 0 {
		return o
	}
	o.baseLen += n
	o.targetLen += n
	if k := len(o.ops); k > 0 && o.ops[k-1].Kind == Retain {
		o.ops[k-1].N += n
		return o
	}
	o.ops = append(o.ops, Component{Kind: Retain, N: n})
	return o
}

// Insert appends insert(s). An empty s adds nothing. It merges with an
// insert before it, and is placed before a delete that ends the operation,
// so that an insert and a delete at one place have one form. It returns o
// for chaining.
//
// Insert accepts any string; use [Operation.Validate] on operations built
// from untrusted text. Decoding the JSON form checks it already.
func (o *Operation) Insert(s string) *Operation {
	if s == "" {
		return o
	}
	return o.insert(s, utf8.RuneCountInString(s))
}

func (o *Operation) insert(s string, n int) *Operation {
	o.targetLen += n
	k := len(o.ops)
	switch {
	case k > 0 && o.ops[k-1].Kind == Insert:
		o.ops[k-1].Text += s
		o.ops[k-1].N += n
	case k > 0 && o.ops[k-1].Kind == Delete:
		if k > 1 && o.ops[k-2].Kind == Insert {
			o.ops[k-2].Text += s
			o.ops[k-2].N += n
			return o
		}
		o.ops = append(o.ops, o.ops[k-1])
		o.ops[k-1] = Component{Kind: Insert, N: n, Text: s}
	default:
		o.ops = append(o.ops, Component{Kind: Insert, N: n, Text: s})
	}
	return o
}

// Delete appends delete(n): remove the next n code points. n <= 0 adds
// nothing. It merges with a delete before it. It returns o for chaining.
func (o *Operation) Delete(n int) *Operation {
	if n <= 0 {
		return o
	}
	o.baseLen += n
	if k := len(o.ops); k > 0 && o.ops[k-1].Kind == Delete {
		o.ops[k-1].N += n
		return o
	}
	o.ops = append(o.ops, Component{Kind: Delete, N: n})
	return o
}

// add appends c through the normalising builders.
func (o *Operation) add(c Component) {
	switch c.Kind {
	case Retain:
		o.Retain(c.N)
	case Insert:
		if c.N > 0 {
			o.insert(c.Text, c.N)
		}
	case Delete:
		o.Delete(c.N)
	}
}

// Validate reports whether every insert is valid UTF-8 and the lengths fit
// in an int. Operations decoded from JSON are always valid.
func (o Operation) Validate() error {
	base, target := 0, 0
	for i, c := range o.ops {
		if c.Kind == Insert && !utf8.ValidString(c.Text) {
			return fmt.Errorf("%w: component %d", ErrInvalidUTF8, i)
		}
		if c.N > math.MaxInt-max(base, target) {
			return fmt.Errorf("%w: component %d", ErrTooLong, i)
		}
		if c.Kind != Insert {
			base += c.N
		}
		if c.Kind != Delete {
			target += c.N
		}
	}
	return nil
}

// runeOffset returns the byte offset in s after its first n code points, or
// len(s) when s is shorter.
func runeOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	// Fast path for ASCII.
	if n <= len(s) {
		ascii := true
		for i := 0; i < n; i++ {
			if s[i] >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if ascii {
			return n
		}
	}
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
