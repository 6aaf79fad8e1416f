package client

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/ot"
)

// TestOpMessageFits: the bound never lets through a message over the
// limit, and never refuses one within it.
func TestOpMessageFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "é", "😀", `"`, "\\", "\n", "\x00", "<"}
	for range 2000 {
		var op ot.Operation
		for range 1 + rng.IntN(6) {
			switch rng.IntN(3) {
			case 0:
				op.Retain(1 + rng.IntN(1e6))
			case 1:
				op.Delete(1 + rng.IntN(50))
			default:
				var b strings.Builder
				for range 1 + rng.IntN(40) {
					b.WriteString(pieces[rng.IntN(len(pieces))])
				}
				op.Insert(b.String())
			}
		}
		const id = "c0ffee"
		exact := len(`{"type":"op","rev":18446744073709551615,"id":":18446744073709551615","op":}`) + len(id) + len(op.AppendJSON(nil))
		for _, max := range []int{exact - 1, exact, exact + 1, exact * 7} {
			if got := opMessageFits(op, id, max); got != (exact <= max) {
				t.Fatalf("%v with limit %d (message at most %d bytes): fits %v", op, max, exact, got)
			}
		}
	}
}
