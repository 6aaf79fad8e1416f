package ot

import (
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	seedFlag  = flag.Uint64("ot.seed", 0, "seed for the random property tests (0: from the clock)")
	casesFlag = flag.Int("ot.cases", 3000, "random cases per property test")
)

// newRand returns a generator seeded from -ot.seed or the clock, and logs
// the seed so a failure can be replayed with -ot.seed.
func newRand(t testing.TB) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -ot.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// alphabet mixes ASCII with the text that breaks naive implementations:
// emoji outside the BMP, CJK, combining marks, CR LF, NUL and tabs.
var alphabet = []string{
	"a", "b", "c", "x", "y", " ", "\n", "\r\n", "\t", "\x00", "\"", "\\",
	"é", "e\u0301", "日", "本", "語", "😀", "👍🏽", "𝄞", "\u2028", "ß",
}

var bmpAlphabet = []string{"a", "b", "c", " ", "\n", "é", "日", "本", "\u0301", "\t"}

func randomText(rng *rand.Rand, alpha []string, max int) string {
	var b strings.Builder
	for n := rng.IntN(max + 1); n > 0; n-- {
		b.WriteString(alpha[rng.IntN(len(alpha))])
	}
	return b.String()
}

// randomOp returns a random operation on text: retains, inserts and deletes
// in random sizes, including none.
func randomOp(rng *rand.Rand, alpha []string, text string) Operation {
	var op Operation
	n := utf8.RuneCountInString(text)
	for n > 0 {
		k := 1 + rng.IntN(min(n, 8))
		switch rng.IntN(5) {
		case 0, 1:
			op.Retain(k)
			n -= k
		case 2:
			op.Insert(randomText(rng, alpha, 6))
		case 3:
			op.Delete(k)
			n -= k
		case 4:
			op.Delete(k)
			op.Insert(randomText(rng, alpha, 3))
			n -= k
		}
	}
	if rng.IntN(3) == 0 {
		op.Insert(randomText(rng, alpha, 4))
	}
	return op
}

func mustApply(t testing.TB, op Operation, s string) string {
	t.Helper()
	out, err := op.Apply(s)
	if err != nil {
		t.Fatalf("Apply(%q, %v): %v", s, op, err)
	}
	return out
}
