package client

import (
	"iter"

	"github.com/collab-editor/collab/internal/ot"
)

// Operations and cursors are the client's own types, so that a program of
// another module can build an edit, read a remote one and place a cursor
// without naming a type of collab's internal packages. They convert to
// the server's types inside this package, at no cost: an Op is the
// server's operation, wrapped.

// Kind says what a Component of an Op does.
type Kind uint8

// The kinds of component.
const (
	Retain Kind = Kind(ot.Retain) // keep N code points
	Insert Kind = Kind(ot.Insert) // insert Text, N code points long
	Delete Kind = Kind(ot.Delete) // remove N code points
)

func (k Kind) String() string { return ot.Kind(k).String() }

// Component is one step of an Op. N is always positive; for an insert it
// is the number of code points in Text.
type Component struct {
	Kind Kind
	N    int
	Text string
}

// Op is one edit of a whole text, as ot.js and the protocol describe it:
// a sequence of Retain, Insert and Delete components that together cover
// every code point of the text it applies to (positions are Unicode code
// points). The zero value is the empty operation, which applies to the
// empty text only.
//
// Build one with Retain, Insert and Delete, which normalise as they go
// (neighbours of one kind merge, an insert goes before a delete next to
// it), so two Ops that make the same edit are Equal.
type Op struct {
	op ot.Operation
}

// Retain appends "keep n code points" (n <= 0 adds nothing) and returns o.
func (o *Op) Retain(n int) *Op { o.op.Retain(n); return o }

// Insert appends "insert s" (s == "" adds nothing) and returns o.
func (o *Op) Insert(s string) *Op { o.op.Insert(s); return o }

// Delete appends "remove n code points" (n <= 0 adds nothing) and returns o.
func (o *Op) Delete(n int) *Op { o.op.Delete(n); return o }

// BaseLen is the length, in code points, of the text the operation applies to.
func (o Op) BaseLen() int { return o.op.BaseLen() }

// TargetLen is the length, in code points, of the text the operation produces.
func (o Op) TargetLen() int { return o.op.TargetLen() }

// IsNoop reports whether the operation leaves every text unchanged.
func (o Op) IsNoop() bool { return o.op.IsNoop() }

// Equal reports whether o and p make the same edit.
func (o Op) Equal(p Op) bool { return o.op.Equal(p.op) }

// Components yields the components in order.
func (o Op) Components() iter.Seq[Component] {
	return func(yield func(Component) bool) {
		for c := range o.op.Components() {
			if !yield(Component{Kind: Kind(c.Kind), N: c.N, Text: c.Text}) {
				return
			}
		}
	}
}

// Apply returns text with the operation applied, or an error when the
// text's length in code points is not BaseLen.
func (o Op) Apply(text string) (string, error) { return o.op.Apply(text) }

// String is the operation in the protocol's JSON form: [5,"x",-2,3]
// retains 5, inserts "x", deletes 2 and retains 3.
func (o Op) String() string { return o.op.String() }

// MarshalJSON encodes the operation in the protocol's form (see String).
func (o Op) MarshalJSON() ([]byte, error) { return o.op.MarshalJSON() }

// UnmarshalJSON decodes an operation of the protocol's form.
func (o *Op) UnmarshalJSON(data []byte) error { return o.op.UnmarshalJSON(data) }

// AppendJSON appends the operation's JSON form to dst.
func (o Op) AppendJSON(dst []byte) []byte { return o.op.AppendJSON(dst) }

// Range is one selection, in code points: Anchor is where it started,
// Head where the cursor is. Anchor == Head is a plain cursor.
type Range struct {
	Anchor int `json:"anchor"`
	Head   int `json:"head"`
}

// Cursor is someone else's selections, in the local text.
type Cursor struct {
	Peer   Peer
	Ranges []Range
}
