package ot

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/rope"
)

func TestTransformConverges(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		a, b := randomOp(rng, alphabet, s), randomOp(rng, alphabet, s)
		ap, bp, err := Transform(a, b)
		if err != nil {
			t.Fatalf("Transform(%v, %v): %v", a, b, err)
		}
		left := mustApply(t, bp, mustApply(t, a, s))
		right := mustApply(t, ap, mustApply(t, b, s))
		if left != right {
			t.Fatalf("TP1 fails on %q\na=%v b=%v\na'=%v b'=%v\nb'(a(s))=%q\na'(b(s))=%q", s, a, b, ap, bp, left, right)
		}
	}
}

func TestComposeAgreesWithSequentialApply(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		a := randomOp(rng, alphabet, s)
		mid := mustApply(t, a, s)
		b := randomOp(rng, alphabet, mid)
		ab, err := Compose(a, b)
		if err != nil {
			t.Fatalf("Compose(%v, %v): %v", a, b, err)
		}
		if got, want := mustApply(t, ab, s), mustApply(t, b, mid); got != want {
			t.Fatalf("compose on %q: a=%v b=%v ab=%v: got %q, want %q", s, a, b, ab, got, want)
		}
		if ab.BaseLen() != a.BaseLen() || ab.TargetLen() != b.TargetLen() {
			t.Fatalf("compose lengths: %d->%d, want %d->%d", ab.BaseLen(), ab.TargetLen(), a.BaseLen(), b.TargetLen())
		}
	}
}

func TestInvertUndoes(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		a := randomOp(rng, alphabet, s)
		inv, err := a.Invert(s)
		if err != nil {
			t.Fatal(err)
		}
		invRope, err := a.InvertRope(rope.New(s))
		if err != nil {
			t.Fatal(err)
		}
		if !inv.Equal(invRope) {
			t.Fatalf("Invert %v, InvertRope %v", inv, invRope)
		}
		if got := mustApply(t, inv, mustApply(t, a, s)); got != s {
			t.Fatalf("invert of %v on %q gives %q", a, s, got)
		}
	}
}

func TestApplyRopeAgreesWithApply(t *testing.T) {
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 200)
		r := rope.New(s)
		for range 5 {
			a := randomOp(rng, alphabet, s)
			nr, err := a.ApplyRope(r)
			if err != nil {
				t.Fatal(err)
			}
			s = mustApply(t, a, s)
			r = nr
			if got := r.String(); got != s {
				t.Fatalf("ApplyRope gives %q, Apply %q", got, s)
			}
		}
	}
}

// withMarker returns a version of op for the text with one extra code point
// inserted at base position p, which op retains; an insert at p comes
// before the marker, as TransformIndex's tie rule says.
func withMarker(op Operation, p int) Operation {
	var out Operation
	pos, placed := 0, false
	for c := range op.Components() {
		if c.Kind != Insert && !placed && p < pos+c.N {
			head := Component{Kind: c.Kind, N: p - pos}
			out.add(head)
			out.Retain(1)
			placed = true
			out.add(Component{Kind: c.Kind, N: c.N - head.N})
		} else {
			out.add(c)
		}
		if c.Kind != Insert {
			pos += c.N
		}
	}
	if !placed {
		out.Retain(1)
	}
	return out
}

func TestTransformIndexAgreesWithMarkers(t *testing.T) {
	const marker = "\uE000"
	rng := newRand(t)
	for i := 0; i < *casesFlag; i++ {
		s := randomText(rng, alphabet, 30)
		n := utf8.RuneCountInString(s)
		p := rng.IntN(n + 1)
		a := randomOp(rng, alphabet, s)
		cut := runeOffset(s, p)
		marked := s[:cut] + marker + s[cut:]
		out := mustApply(t, withMarker(a, p), marked)
		want := utf8.RuneCountInString(out[:strings.Index(out, marker)])
		if got := a.TransformIndex(p); got != want {
			t.Fatalf("TransformIndex(%d) of %v on %q = %d, marker ends at %d (%q)", p, a, s, got, want, out)
		}
	}
}

func TestBuildersNormalise(t *testing.T) {
	tests := []struct{ a, b *Operation }{
		{new(Operation).Retain(2).Delete(1).Insert("x"), new(Operation).Retain(2).Insert("x").Delete(1)},
		{new(Operation).Retain(1).Retain(1), new(Operation).Retain(2)},
		{new(Operation).Insert("a").Delete(1).Insert("b"), new(Operation).Insert("ab").Delete(1)},
		{new(Operation).Delete(1).Delete(2), new(Operation).Delete(3)},
		{new(Operation).Retain(0).Insert("").Delete(-1).Retain(1), new(Operation).Retain(1)},
	}
	for _, tt := range tests {
		if !tt.a.Equal(*tt.b) {
			t.Errorf("%v and %v should be equal", tt.a, tt.b)
		}
	}
	if new(Operation).Insert("a").Equal(*new(Operation).Insert("b")) {
		t.Error("different inserts compare equal")
	}
}

func TestErrorsBeforeWork(t *testing.T) {
	op := new(Operation).Retain(3).Insert("x")
	if _, err := op.Apply("ab"); !errors.Is(err, ErrBaseLength) {
		t.Errorf("Apply on short text: %v", err)
	}
	if _, err := op.ApplyRope(rope.New("abcd")); !errors.Is(err, ErrBaseLength) {
		t.Errorf("ApplyRope on long text: %v", err)
	}
	if _, err := op.Invert("😀"); !errors.Is(err, ErrBaseLength) {
		t.Errorf("Invert: %v", err)
	}
	if _, err := Compose(*op, *op); !errors.Is(err, ErrComposeLength) {
		t.Errorf("Compose: %v", err)
	}
	if _, _, err := Transform(*op, *new(Operation).Retain(2)); !errors.Is(err, ErrTransformLength) {
		t.Errorf("Transform: %v", err)
	}
	if err := new(Operation).Insert("a\xffb").Validate(); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("Validate: %v", err)
	}
	if _, err := new(Operation).Insert("\xff").MarshalJSON(); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("MarshalJSON: %v", err)
	}
}

func TestIsNoop(t *testing.T) {
	for _, tt := range []struct {
		op   *Operation
		want bool
	}{
		{new(Operation), true},
		{new(Operation).Retain(5), true},
		{new(Operation).Retain(5).Insert("a"), false},
		{new(Operation).Delete(1), false},
	} {
		if got := tt.op.IsNoop(); got != tt.want {
			t.Errorf("%v.IsNoop() = %v", tt.op, got)
		}
	}
}

func TestTransformTieRule(t *testing.T) {
	a := *new(Operation).Retain(1).Insert("A").Retain(1)
	b := *new(Operation).Retain(1).Insert("B").Retain(1)
	ap, bp, err := Transform(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustApply(t, bp, mustApply(t, a, "xy")); got != "xABy" {
		t.Errorf("concurrent inserts at one place: %q, want a's first: xABy", got)
	}
	if got := mustApply(t, ap, mustApply(t, b, "xy")); got != "xABy" {
		t.Errorf("a'(b(s)) = %q", got)
	}
}

// TestUnicodeRoundTrip: text in every script and control form survives
// edits around it and the JSON wire form byte for byte.
func TestUnicodeRoundTrip(t *testing.T) {
	texts := []string{"héllo 😀 wörld", "日本語のテキスト", "e\u0301\u0301 combining", "line1\r\nline2\r\n", "nul\x00byte", "👍🏽👨‍👩‍👧", "\u2028\u2029\ufeff"}
	for _, s := range texts {
		n := utf8.RuneCountInString(s)
		op := *new(Operation).Retain(n / 2).Insert(s).Retain(n - n/2)
		data, err := op.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s): %v", data, err)
		}
		if !back.Equal(op) {
			t.Fatalf("round trip of %q: %v != %v", s, back, op)
		}
		got := mustApply(t, back, s)
		cut := runeOffset(s, n/2)
		if want := s[:cut] + s + s[cut:]; got != want {
			t.Fatalf("apply: %q, want %q", got, want)
		}
		del := *new(Operation).Delete(n)
		if out := mustApply(t, del, s); out != "" {
			t.Fatalf("delete all of %q left %q", s, out)
		}
	}
}
