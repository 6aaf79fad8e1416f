package ot

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MarshalJSON encodes o in ot.js's TextOperation form, for example
// [3,"abc",-2,5]. It returns ErrInvalidUTF8 for an insert that is not valid
// UTF-8 rather than altering it.
func (o Operation) MarshalJSON() ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o.AppendJSON(make([]byte, 0, o.JSONLen())), nil
}

// AppendJSON appends the JSON form of o to dst (JSONLen sizes dst). Unlike
// MarshalJSON it does not check that inserts are valid UTF-8; invalid bytes
// are written as U+FFFD.
func (o Operation) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i, c := range o.ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch c.Kind {
		case Retain:
			dst = strconv.AppendInt(dst, int64(c.N), 10)
		case Delete:
			dst = strconv.AppendInt(dst, -int64(c.N), 10)
		case Insert:
			dst = appendString(dst, c.Text)
		}
	}
	return append(dst, ']')
}

// JSONLen is the length of o's JSON form as AppendJSON writes it, exact
// unless an insert holds characters JSON escapes (a few bytes more each):
// for sizing buffers.
func (o Operation) JSONLen() int {
	n := max(len(o.ops)+1, 2) // the brackets and the commas between components
	for _, c := range o.ops {
		switch c.Kind {
		case Insert:
			n += len(c.Text) + 2
		case Delete:
			n += decimalLen(c.N) + 1
		default:
			n += decimalLen(c.N)
		}
	}
	return n
}

func decimalLen(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Only '"', '\\' and control
// characters are escaped, so text stays readable.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if b >= 0x20 && b != '"' && b != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// UnmarshalJSON decodes ot.js's TextOperation form. See [Parse].
func (o *Operation) UnmarshalJSON(data []byte) error {
	op, err := Parse(data)
	if err != nil {
		return err
	}
	*o = op
	return nil
}

// Parse decodes an operation from ot.js's TextOperation JSON form: an array
// whose elements are positive integers (retain), negative integers (delete)
// and non-empty strings (insert). Adjacent components of one kind are
// merged, as the builders do.
//
// Everything else is rejected with an error wrapping ErrMalformed: anything
// that is not an array, zero, fractions and exponents, numbers beyond the
// range of an int, empty strings, nested arrays and objects, true, false,
// null, and trailing data. Inserts must be valid UTF-8 with no lone
// surrogate escapes (the error also wraps ErrInvalidUTF8).
func Parse(data []byte) (Operation, error) {
	p := parser{data: data}
	var op Operation
	p.space()
	if !p.eat('[') {
		return Operation{}, p.fail(-1, "expected an array")
	}
	p.space()
	if !p.eat(']') {
		for i := 0; ; i++ {
			p.space()
			if err := p.component(&op, i); err != nil {
				return Operation{}, err
			}
			p.space()
			if p.eat(']') {
				break
			}
			if !p.eat(',') {
				return Operation{}, p.fail(i, "expected ',' or ']'")
			}
		}
	}
	p.space()
	if p.pos != len(p.data) {
		return Operation{}, p.fail(-1, "unexpected data after the array")
	}
	return op, nil
}

type parser struct {
	data []byte
	pos  int
	buf  []byte // scratch for unescaping strings
}

func (p *parser) fail(i int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if i >= 0 {
		return fmt.Errorf("%w: component %d: %s", ErrMalformed, i, msg)
	}
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, p.pos, msg)
}

func (p *parser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) eat(b byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == b {
		p.pos++
		return true
	}
	return false
}

func (p *parser) component(op *Operation, i int) error {
	if p.pos >= len(p.data) {
		return p.fail(i, "unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		s, err := p.str(i)
		if err != nil {
			return err
		}
		n := utf8.RuneCountInString(s)
		if n > math.MaxInt-op.targetLen {
			return fmt.Errorf("%w: component %d", ErrTooLong, i)
		}
		op.insert(s, n)
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number(i)
		if err != nil {
			return err
		}
		switch {
		case n > 0:
			if n > math.MaxInt-max(op.baseLen, op.targetLen) {
				return fmt.Errorf("%w: component %d", ErrTooLong, i)
			}
			op.Retain(n)
		default:
			if -n > math.MaxInt-op.baseLen {
				return fmt.Errorf("%w: component %d", ErrTooLong, i)
			}
			op.Delete(-n)
		}
	case c == '[' || c == '{':
		return p.fail(i, "nested values are not components")
	default:
		return p.fail(i, "expected a number or a string")
	}
	return nil
}

// number reads a JSON integer that is a valid component: non-zero, with no
// fraction or exponent, within the range of an int (and of its negation).
func (p *parser) number(i int) (int, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits {
		return 0, p.fail(i, "expected digits")
	}
	if p.data[digits] == '0' && p.pos-digits > 1 {
		return 0, p.fail(i, "leading zeros are not allowed")
	}
	if p.pos < len(p.data) {
		switch p.data[p.pos] {
		case '.', 'e', 'E':
			return 0, p.fail(i, "lengths are whole numbers: no fraction or exponent")
		}
	}
	n, err := strconv.ParseInt(string(p.data[start:p.pos]), 10, 64)
	if err != nil || n < -math.MaxInt || n > math.MaxInt {
		return 0, p.fail(i, "number %s is beyond the range of an int", p.data[start:p.pos])
	}
	if n == 0 {
		return 0, p.fail(i, "zero is not a component")
	}
	return int(n), nil
}

// str reads a JSON string that is a valid insert: non-empty, valid UTF-8,
// no raw control characters, no lone surrogate escapes.
func (p *parser) str(i int) (string, error) {
	p.pos++ // opening quote
	p.buf = p.buf[:0]
	for {
		if p.pos >= len(p.data) {
			return "", p.fail(i, "unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if len(p.buf) == 0 {
				return "", p.fail(i, "an insert must not be empty")
			}
			return string(p.buf), nil
		case c == '\\':
			if err := p.escape(i); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", p.fail(i, "control character %#02x must be escaped", c)
		case c < utf8.RuneSelf:
			p.buf = append(p.buf, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", fmt.Errorf("%w: component %d: byte %#02x: %w", ErrMalformed, i, c, ErrInvalidUTF8)
			}
			p.buf = append(p.buf, p.data[p.pos:p.pos+size]...)
			p.pos += size
		}
	}
}

func (p *parser) escape(i int) error {
	p.pos++ // backslash
	if p.pos >= len(p.data) {
		return p.fail(i, "unterminated escape")
	}
	c := p.data[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		p.buf = append(p.buf, c)
	case 'b':
		p.buf = append(p.buf, '\b')
	case 'f':
		p.buf = append(p.buf, '\f')
	case 'n':
		p.buf = append(p.buf, '\n')
	case 'r':
		p.buf = append(p.buf, '\r')
	case 't':
		p.buf = append(p.buf, '\t')
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return p.fail(i, `\u needs four hex digits`)
		}
		if utf16.IsSurrogate(r) {
			lone := fmt.Errorf("%w: component %d: lone surrogate \\u%04x: %w", ErrMalformed, i, r, ErrInvalidUTF8)
			if r >= 0xdc00 || p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
				return lone
			}
			p.pos += 2
			r2, ok := p.hex4()
			if !ok {
				return p.fail(i, `\u needs four hex digits`)
			}
			r = utf16.DecodeRune(r, r2)
			if r == utf8.RuneError {
				return lone
			}
		}
		p.buf = utf8.AppendRune(p.buf, r)
	default:
		return p.fail(i, "unknown escape \\%c", c)
	}
	return nil
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}
