package rope

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var benchSizes = []struct {
	name  string
	bytes int
}{
	{"10KB", 10 << 10},
	{"1MB", 1 << 20},
	{"10MB", 10 << 20},
}

// benchText returns n bytes of mostly ASCII text with some multi-byte code
// points and line breaks, like source code with comments in other scripts.
func benchText(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	sb.Grow(n + 8)
	for sb.Len() < n {
		switch k := rng.IntN(100); {
		case k < 3:
			sb.WriteString("\n")
		case k < 5:
			sb.WriteString("é")
		case k < 6:
			sb.WriteString("世")
		default:
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return strings.ToValidUTF8(sb.String()[:n], "")
}

// randomPositions returns 4096 positions in [0, max].
func randomPositions(max int) []int {
	rng := rand.New(rand.NewPCG(3, 4))
	ps := make([]int, 4096)
	for i := range ps {
		ps[i] = rng.IntN(max + 1)
	}
	return ps
}

var sink Rope

func BenchmarkInsert(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			r := New(benchText(sz.bytes))
			ps := randomPositions(r.Len())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				sink = r.Insert(ps[i%len(ps)], "x")
			}
		})
	}
}

func BenchmarkDelete(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			r := New(benchText(sz.bytes))
			ps := randomPositions(r.Len() - 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				sink = r.Delete(ps[i%len(ps)], 1)
			}
		})
	}
}

// BenchmarkDeleteRange deletes 4096 code points, which always spans
// leaves and so takes the split-and-join path.
func BenchmarkDeleteRange(b *testing.B) {
	b.Run("10MB", func(b *testing.B) {
		r := New(benchText(10 << 20))
		ps := randomPositions(r.Len() - 4096)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			sink = r.Delete(ps[i%len(ps)], 4096)
		}
	})
}

func BenchmarkNew(b *testing.B) {
	b.Run("1MB", func(b *testing.B) {
		s := benchText(1 << 20)
		b.SetBytes(int64(len(s)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			sink = New(s)
		}
	})
}

var sinkString string

func BenchmarkString(b *testing.B) {
	b.Run("1MB", func(b *testing.B) {
		r := New(benchText(1 << 20))
		b.SetBytes(int64(r.ByteLen()))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			sinkString = r.String()
		}
	})
}
