package main

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/collab-editor/collab/client"
)

// codeText makes about size bytes (never more) of code-like text, with
// some non-ASCII so that positions in code points and bytes differ.
func codeText(rng *rand.Rand, size int) string {
	var b strings.Builder
	b.Grow(size + 64)
	for b.Len() < size {
		n := strconv.Itoa(rng.IntN(1_000_000))
		switch rng.IntN(4) {
		case 0:
			b.WriteString("func f" + n + "(x int) int { return x * " + strconv.Itoa(rng.IntN(100)) + " }\n")
		case 1:
			b.WriteString("\t// héllo wörld " + n + "\n")
		case 2:
			b.WriteString("\tif err := g" + n + "(ctx); err != nil {\n\t\treturn err\n\t}\n")
		default:
			b.WriteString("\tv" + n + " := []string{\"a\", \"b\"}\n")
		}
	}
	s := b.String()
	if len(s) <= size {
		return s
	}
	s = s[:size]
	for len(s) > 0 {
		// Cut at a code point boundary: drop a partial last code point.
		if r, w := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || w > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// typed is what a typist types: 1-5 of these code points at a time.
var typed = []rune("abcdefghijklmnopqrstuvwxyz  (){}.,;=\n\té")

// editGen makes one client's edits from its own random source.
type editGen struct {
	rng *rand.Rand
	mix Mix
}

// next makes one edit of the mix against a text of n code points. The
// operation's base length is always n.
func (g *editGen) next(n int) client.Op {
	var op client.Op
	k := g.rng.IntN(g.mix.Typing + g.mix.Delete + g.mix.Paste)
	switch {
	case k >= g.mix.Typing && k < g.mix.Typing+g.mix.Delete && n > 0:
		del := min(1+g.rng.IntN(5), n)
		p := g.rng.IntN(n - del + 1)
		op.Retain(p).Delete(del).Retain(n - p - del)
	case k >= g.mix.Typing+g.mix.Delete:
		p := g.rng.IntN(n + 1)
		op.Retain(p).Insert(codeText(g.rng, 1024+g.rng.IntN(3*1024))).Retain(n - p)
	default: // typing; also a delete from an empty text
		r := make([]rune, 1+g.rng.IntN(5))
		for i := range r {
			r[i] = typed[g.rng.IntN(len(typed))]
		}
		p := g.rng.IntN(n + 1)
		op.Retain(p).Insert(string(r)).Retain(n - p)
	}
	return op
}
