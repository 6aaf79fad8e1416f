package rope_test

import (
	"fmt"
	"os"

	"github.com/collab-editor/collab/internal/rope"
)

func Example() {
	v1 := rope.New("Hello, 世界!")
	v2 := v1.Insert(7, "wide ") // positions count code points
	v3 := v2.Delete(0, 7).Concat(rope.New(" 👋"))

	fmt.Println(v1) // old versions never change
	fmt.Println(v2)
	fmt.Println(v3, v3.Len(), v3.ByteLen())
	fmt.Println(v2.SliceString(7, 11), v2.ByteOffset(12))
	fmt.Println(v3.EqualString("wide 世界! 👋"))
	v3.WriteTo(os.Stdout)
	fmt.Println()
	// Output:
	// Hello, 世界!
	// Hello, wide 世界!
	// wide 世界! 👋 10 17
	// wide 12
	// true
	// wide 世界! 👋
}
