package ot_test

import (
	"fmt"

	"github.com/collab-editor/collab/internal/ot"
)

func ExampleOperation_Apply() {
	// "hello world" -> "hello, world!"
	op := new(ot.Operation).Retain(5).Insert(",").Retain(6).Insert("!")
	out, err := op.Apply("hello world")
	fmt.Println(out, err)
	fmt.Println(op)
	// Output:
	// hello, world! <nil>
	// [5,",",6,"!"]
}

func ExampleTransform() {
	// Two people edit "go" at once: one appends "!", the other prepends "let's ".
	a := *new(ot.Operation).Retain(2).Insert("!")
	b := *new(ot.Operation).Insert("let's ").Retain(2)
	ap, bp, _ := ot.Transform(a, b)
	left, _ := a.Apply("go")
	left, _ = bp.Apply(left)
	right, _ := b.Apply("go")
	right, _ = ap.Apply(right)
	fmt.Println(left, "|", right)
	// Output: let's go! | let's go!
}

func ExampleCompose() {
	a := *new(ot.Operation).Retain(3).Insert("d")
	b := *new(ot.Operation).Delete(1).Retain(3)
	ab, _ := ot.Compose(a, b)
	fmt.Println(ab)
	// Output: [-1,2,"d"]
}

func ExampleParse() {
	op, err := ot.Parse([]byte(`[1,1,"😀",-2]`))
	fmt.Println(op, op.BaseLen(), op.TargetLen(), err)
	_, err = ot.Parse([]byte(`[1.5]`))
	fmt.Println(err)
	// Output:
	// [2,"😀",-2] 4 3 <nil>
	// ot: malformed operation: component 0: lengths are whole numbers: no fraction or exponent
}

func ExampleOperation_TransformIndex() {
	// A cursor at 2 in "ab|cd"; someone inserts "XY" at 0 and another at the cursor.
	op := new(ot.Operation).Insert("XY").Retain(2).Insert("!").Retain(2)
	fmt.Println(op.TransformIndex(2))
	// Output: 5
}

func ExampleOperation_Invert() {
	op := new(ot.Operation).Retain(1).Delete(2).Insert("Z")
	inv, _ := op.Invert("abc")
	out, _ := op.Apply("abc")
	back, _ := inv.Apply(out)
	fmt.Println(out, inv, back)
	// Output: aZ [1,"bc",-1] abc
}
