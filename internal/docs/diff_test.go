package docs

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/patchtest"
)

// checkUnified makes the unified diff of a and b, applies it to a with
// patch, and checks that it makes b; and that Diff and DiffLines make
// operations that do the same.
func checkUnified(t *testing.T, a, b string) {
	t.Helper()
	diff, err := Unified("a/f", "b/f", a, b)
	if err != nil {
		t.Fatalf("Unified(%q, %q): %v", a, b, err)
	}
	if (diff == "") != (a == b) {
		t.Errorf("Unified(%q, %q) = %q", a, b, diff)
	}
	if got := patchtest.Apply(t, a, diff); got != b {
		t.Errorf("the diff of %q and %q makes %q; the diff:\n%s", a, b, got, diff)
	}
	for name, op := range map[string]ot.Operation{"Diff": Diff(a, b), "DiffLines": DiffLines(a, b)} {
		if got, err := op.Apply(a); err != nil || got != b {
			t.Errorf("%s(%q, %q) = %v: makes %q, %v", name, a, b, op, got, err)
		}
	}
}

// TestUnifiedDiffAppliesWithPatch checks unified diffs with the real patch
// command over the cases that went wrong or might: empty sides, one line,
// no final newline on either side, CRLF, code points of every width, many
// hunks.
func TestUnifiedDiffAppliesWithPatch(t *testing.T) {
	patchtest.Tool(t)
	var long, longer strings.Builder
	for i := range 60 {
		fmt.Fprintf(&long, "line %d\n", i)
		if i%10 == 3 {
			fmt.Fprintf(&longer, "changed %d\n", i)
		} else {
			fmt.Fprintf(&longer, "line %d\n", i)
		}
	}
	cases := []struct{ name, a, b string }{
		{"empty to text", "", "package main\n"},
		{"text to empty", "package main\n", ""},
		{"empty to no newline", "", "x"},
		{"no newline to empty", "x", ""},
		{"one line", "x\n", "y\n"},
		{"one line kept, one added", "x\n", "x\ny\n"},
		{"newline added at the end", "x", "x\n"},
		{"newline dropped at the end", "x\n", "x"},
		{"no newline either side", "a\nb", "a\nc"},
		{"no newline before", "a\nb", "a\nb\nc\n"},
		{"no newline after", "a\nb\nc\n", "a\nb"},
		{"same last line, newline dropped", "a\nb\n", "z\nb"},
		{"CRLF", "one\r\ntwo\r\nthree\r\n", "one\r\n2\r\nthree\r\n"},
		{"CRLF to LF", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"CRLF without final newline", "one\r\ntwo", "one\r\nthree"},
		{"unicode", "héllo\n日本語\n😀 smile\n", "héllo\n日本\n😀😀 smile\nçà\n"},
		{"blank lines", "\n\n\n", "\n\n"},
		{"many hunks", long.String(), longer.String()},
		{"many hunks, no final newline", strings.TrimSuffix(long.String(), "\n"), strings.TrimSuffix(longer.String(), "\n")},
		{"all different", long.String(), "nothing\nin common"},
		{"equal", "same\n", "same\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkUnified(t, c.a, c.b) })
	}
}

// TestUnifiedDiffRandomEdits is the property: for random texts and random
// edits of them (lines, newlines at the end or not, CRLF, wide code
// points), patch applied to the unified diff makes the edited text.
func TestUnifiedDiffRandomEdits(t *testing.T) {
	patchtest.Tool(t)
	rng := rand.New(rand.NewPCG(newSeed(t), 3))
	n := 150
	if testing.Short() {
		n = 30
	}
	for range n {
		a := ""
		for range rng.IntN(30) {
			a += randomText(rng)
		}
		if rng.IntN(4) == 0 {
			a = strings.ReplaceAll(a, "\n", "\r\n")
		}
		b := a
		for range 1 + rng.IntN(4) {
			op := randomEdit(rng, b)
			if rng.IntN(2) == 0 {
				op = randomLineEdit(rng, b)
			}
			var err error
			if b, err = op.Apply(b); err != nil {
				t.Fatal(err)
			}
		}
		checkUnified(t, a, b)
		if t.Failed() {
			t.Fatalf("a = %q, b = %q", a, b)
		}
	}
}
