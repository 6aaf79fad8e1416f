package ot

import "errors"

// The errors this package returns, wrapped with detail. Compare with
// [errors.Is].
var (
	// ErrBaseLength: the operation's base length is not the length of the
	// text it was applied to or inverted against.
	ErrBaseLength = errors.New("ot: operation base length does not match the text")

	// ErrComposeLength: Compose(a, b) where a's target length is not b's
	// base length.
	ErrComposeLength = errors.New("ot: cannot compose: first operation's target length is not second's base length")

	// ErrTransformLength: Transform(a, b) where a and b do not start from
	// texts of one length.
	ErrTransformLength = errors.New("ot: cannot transform: operations have different base lengths")

	// ErrMalformed: the JSON form of an operation is not a valid operation.
	ErrMalformed = errors.New("ot: malformed operation")

	// ErrInvalidUTF8: an insert holds bytes that are not valid UTF-8, or
	// a lone UTF-16 surrogate escaped in JSON.
	ErrInvalidUTF8 = errors.New("ot: insert is not valid UTF-8")

	// ErrTooLong: lengths add up to more than an int can hold.
	ErrTooLong = errors.New("ot: operation lengths overflow")
)
