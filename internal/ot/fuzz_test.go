package ot

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: any input either decodes to an operation whose encoding
// decodes back to it, or fails with ErrMalformed/ErrTooLong; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`[]`, `[3,"abc",-2,5]`, `["\ud83d\ude00",-1]`, `[1.5]`, `[0]`, `[""]`, `[[1]]`, `["\ud800"]`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("Parse(%q): unexpected error kind %v", data, err)
			}
			return
		}
		if err := op.Validate(); err != nil {
			t.Fatalf("Parse(%q) returned an invalid operation: %v", data, err)
		}
		enc, err := op.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(enc)
		if err != nil || !back.Equal(op) {
			t.Fatalf("re-parse of %s: %v, %v", enc, back, err)
		}
	})
}

// opFromBytes builds an operation on a text of n code points from fuzz
// bytes, two bytes a step, so the fuzzer can steer the shape.
func opFromBytes(n int, data []byte) Operation {
	var op Operation
	for i := 0; i+1 < len(data) && n > 0; i += 2 {
		k := 1 + int(data[i+1])%min(n, 9)
		switch data[i] % 4 {
		case 0, 1:
			op.Retain(k)
			n -= k
		case 2:
			op.Delete(k)
			n -= k
		case 3:
			op.Insert(alphabet[int(data[i+1])%len(alphabet)])
		}
	}
	return *op.Retain(n)
}

// FuzzLaws checks TP1, composition, inversion and the agreement of Apply
// with ApplyRope on operations steered by the fuzzer.
func FuzzLaws(f *testing.F) {
	f.Add("hello world", []byte{0, 3, 3, 1, 2, 2}, []byte{2, 1, 3, 5, 0, 4})
	f.Add("😀日本\r\n\x00", []byte{3, 7, 0, 1, 2, 1}, []byte{1, 2, 3, 8, 2, 3})
	f.Add("", []byte{3, 1}, []byte{3, 2})
	f.Fuzz(func(t *testing.T, s string, da, db []byte) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "?")
		}
		n := utf8.RuneCountInString(s)
		a, b := opFromBytes(n, da), opFromBytes(n, db)
		ap, bp, err := Transform(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if l, r := mustApply(t, bp, mustApply(t, a, s)), mustApply(t, ap, mustApply(t, b, s)); l != r {
			t.Fatalf("TP1: %q vs %q (a=%v b=%v)", l, r, a, b)
		}
		sa := mustApply(t, a, s)
		b2 := opFromBytes(utf8.RuneCountInString(sa), db)
		ab, err := Compose(a, b2)
		if err != nil {
			t.Fatal(err)
		}
		if l, r := mustApply(t, ab, s), mustApply(t, b2, sa); l != r {
			t.Fatalf("compose: %q vs %q", l, r)
		}
		inv, err := a.Invert(s)
		if err != nil {
			t.Fatal(err)
		}
		if back := mustApply(t, inv, sa); back != s {
			t.Fatalf("invert: %q vs %q", back, s)
		}
		// Misuse must fail cleanly, never panic.
		_, _ = Compose(b2, a)
		_, _, _ = Transform(a, b2)
		_, _ = b2.Apply(s)
		_ = a.TransformIndex(int(int8(len(da))))
	})
}
