package ot

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/rope"
)

// typing returns a keystroke-sized operation on a text of n code points.
func typing(rng *rand.Rand, n int) Operation {
	p := rng.IntN(n + 1)
	if rng.IntN(4) == 0 && p < n {
		return *new(Operation).Retain(p).Delete(1).Retain(n - p - 1)
	}
	return *new(Operation).Retain(p).Insert("x").Retain(n - p)
}

func BenchmarkTransform(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	ops := make([][2]Operation, 256)
	for i := range ops {
		ops[i] = [2]Operation{typing(rng, n), typing(rng, n)}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := ops[i%len(ops)]
		if _, _, err := Transform(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompose(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	ops := make([][2]Operation, 256)
	for i := range ops {
		a := typing(rng, n)
		ops[i] = [2]Operation{a, typing(rng, a.TargetLen())}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := ops[i%len(ops)]
		if _, err := Compose(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyRope applies a one-character insert at a random position to
// documents of growing size; the cost should barely grow.
func BenchmarkApplyRope(b *testing.B) {
	for _, size := range []int{10 << 10, 1 << 20, 10 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			r := rope.New(strings.Repeat("func main() { fmt.Println(\"héllo\") }\n", size/38))
			n := r.Len()
			rng := rand.New(rand.NewPCG(3, 4))
			ops := make([]Operation, 1024)
			for i := range ops {
				p := rng.IntN(n + 1)
				ops[i] = *new(Operation).Retain(p).Insert("x").Retain(n - p)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := ops[i%len(ops)].ApplyRope(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTransformBacklog transforms one operation over 1,000 concurrent
// operations, as for a client that was offline while others typed.
func BenchmarkTransformBacklog(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 10000
	backlog := make([]Operation, 1000)
	for i := range backlog {
		backlog[i] = typing(rng, n)
		n = backlog[i].TargetLen()
	}
	late := typing(rng, backlog[0].BaseLen())
	b.ReportAllocs()
	for b.Loop() {
		op := late
		for _, applied := range backlog {
			var err error
			if op, _, err = Transform(op, applied); err != nil {
				b.Fatal(err)
			}
		}
	}
}
