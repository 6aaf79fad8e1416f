package ot

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgreesWithOtJS runs ot.js's own TextOperation (the npm package "ot",
// installed in tools/otjs) on random cases and checks that this package
// computes the same apply, transform and compose, component for component.
// ot.js counts UTF-16 units, so the texts stay in the Basic Multilingual
// Plane, where those are code points.
func TestAgreesWithOtJS(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "tools", "otjs"))
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "ot")); err != nil || statErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or tools/otjs/node_modules missing in CI (run npm ci in tools/otjs): %v %v", err, statErr)
		}
		t.Skip("needs node and `npm ci` in tools/otjs")
	}
	rng := newRand(t)
	type tcase struct {
		S  string    `json:"s"`
		A  Operation `json:"a"`
		B  Operation `json:"b"`
		B2 Operation `json:"b2"`
	}
	n := min(*casesFlag, 20000)
	cases := make([]tcase, n)
	var in strings.Builder
	for i := range cases {
		s := randomText(rng, bmpAlphabet, 40)
		a, b := randomOp(rng, bmpAlphabet, s), randomOp(rng, bmpAlphabet, s)
		b2 := randomOp(rng, bmpAlphabet, mustApply(t, a, s))
		cases[i] = tcase{s, a, b, b2}
		line, _ := json.Marshal(cases[i])
		in.Write(line)
		in.WriteByte('\n')
	}
	cmd := exec.Command(node, filepath.Join(dir, "check.js"))
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		var js struct {
			ApplyA  string          `json:"applyA"`
			APrime  json.RawMessage `json:"aPrime"`
			BPrime  json.RawMessage `json:"bPrime"`
			Compose json.RawMessage `json:"compose"`
		}
		if err := json.Unmarshal(sc.Bytes(), &js); err != nil {
			t.Fatal(err)
		}
		c := cases[i]
		if got := mustApply(t, c.A, c.S); got != js.ApplyA {
			t.Fatalf("apply %v to %q: ours %q, ot.js %q", c.A, c.S, got, js.ApplyA)
		}
		ap, bp, err := Transform(c.A, c.B)
		if err != nil {
			t.Fatal(err)
		}
		ab, err := Compose(c.A, c.B2)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmp := range []struct {
			what string
			ours Operation
			js   json.RawMessage
		}{{"transform a'", ap, js.APrime}, {"transform b'", bp, js.BPrime}, {"compose", ab, js.Compose}} {
			theirs, err := Parse(cmp.js)
			if err != nil && string(cmp.js) != "[]" {
				t.Fatalf("ot.js %s: %s: %v", cmp.what, cmp.js, err)
			}
			if !theirs.Equal(cmp.ours) {
				t.Fatalf("%s of a=%v b=%v b2=%v on %q: ours %v, ot.js %s", cmp.what, c.A, c.B, c.B2, c.S, cmp.ours, cmp.js)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("ot.js answered %d of %d cases", i, n)
	}
	t.Logf("%d cases agree with ot.js", n)
}
