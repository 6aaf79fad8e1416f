// Package ot is collab's operational-transform engine for plain text.
//
// An [Operation] describes one edit of a whole document as a sequence of
// components that together cover the text from start to end:
//
//   - retain(n) keeps the next n code points,
//   - insert(s) inserts s at the current position,
//   - delete(n) removes the next n code points.
//
// All lengths and positions are counted in Unicode code points, the way
// [unicode/utf8.RuneCountInString] counts them, never in bytes or UTF-16
// units. An operation therefore never splits a code point.
//
// Operations are values. They are built with [Operation.Retain],
// [Operation.Insert] and [Operation.Delete], which normalise as they go:
// neighbouring components of one kind merge, and an insert at the same place
// as a delete always comes first. Two operations that make the same edit
// are therefore equal ([Operation.Equal]).
//
// The algebra is the one of ot.js's TextOperation, and so is the JSON wire
// form: an array where a positive integer retains, a negative integer
// deletes and a string inserts, for example [3,"abc",-2,5]. For text in the
// Basic Multilingual Plane this package and ot.js agree on Apply, Compose
// and Transform.
//
// The laws, with b' and a' from Transform(a, b) = (a', b'):
//
//	Apply(Apply(s, a), b') == Apply(Apply(s, b), a')      (TP1, convergence)
//	Apply(s, Compose(a, b)) == Apply(Apply(s, a), b)      (composition)
//	Apply(Apply(s, a), Invert(a, s)) == s                 (inversion)
//
// Every function checks its inputs before doing any work and reports
// misuse with one of the sentinel errors in errors.go, wrapped with detail;
// no input makes this package panic.
//
// Documents are kept in a [rope.Rope]; [Operation.ApplyRope] edits one
// in time proportional to the number of components times the logarithm of
// the document's size, so a keystroke in a 10 MB file costs about what it
// costs in a 10 KB one.
package ot
