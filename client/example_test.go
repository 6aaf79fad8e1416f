package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/collab-editor/collab/client"
)

// An Op is built from Retain, Insert and Delete components that together
// cover the whole text, in code points; Apply shows what it makes.
func ExampleOp() {
	// "hello world" -> "hello, wörld!": keep 5, insert ",", keep 2,
	// replace "o" with "ö", keep 3, insert "!".
	op := new(client.Op).Retain(5).Insert(",").Retain(2).Delete(1).Insert("ö").Retain(3).Insert("!")
	out, err := op.Apply("hello world")
	fmt.Println(out, err)
	fmt.Println(op, op.BaseLen(), op.TargetLen())
	for c := range op.Components() {
		fmt.Print(c.Kind, " ")
	}
	fmt.Println()
	// Output:
	// hello, wörld! <nil>
	// [5,",",2,"ö",-1,3,"!"] 11 13
	// retain insert retain insert delete retain insert
}

// Neighbouring components merge and an insert goes before a delete, so
// two ways of making one edit are equal.
func ExampleOp_Equal() {
	a := new(client.Op).Retain(2).Retain(1).Delete(2).Insert("xy")
	b := new(client.Op).Retain(3).Insert("x").Insert("y").Delete(1).Delete(1)
	fmt.Println(a, b, a.Equal(*b))
	// Output: [3,"xy",-2] [3,"xy",-2] true
}

// A bot joins a document, edits it and waits until its edits are durable.
// Insert and Delete take positions in code points of the local text; Edit
// applies a whole operation made against it.
func ExampleClient_Edit() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: "http://localhost:8080", Doc: "DOC_ID", Name: "bot"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Insert(0, "// generated\n"); err != nil {
		log.Fatal(err)
	}
	if err := c.Delete(0, 3); err != nil { // "// "
		log.Fatal(err)
	}
	// Upper-case the first word, in one edit that covers the whole text.
	op := new(client.Op).Delete(9).Insert("GENERATED").Retain(c.Len() - 9)
	if err := c.Edit(*op); err != nil {
		log.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Rev(), c.Text())
}

// EditFunc builds the edit from the text's length under the client's lock,
// so no remote edit changes the length between the two.
func ExampleClient_EditFunc() {
	c, err := client.Dial(context.Background(), client.Config{URL: "http://localhost:8080", Doc: "DOC_ID"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	err = c.EditFunc(func(n int) (client.Op, error) {
		return *new(client.Op).Retain(n).Insert("\n// the end\n"), nil // append
	})
	if err != nil {
		log.Fatal(err)
	}
}

// A client shows where it is with SetCursor and reads where the others
// are with Users; remote edits arrive in Config.OnRemote.
func ExampleClient_Users() {
	c, err := client.Dial(context.Background(), client.Config{
		URL: "http://localhost:8080", Doc: "DOC_ID", Name: "Ann", Color: "#3366ff",
		OnRemote: func(r client.Remote) { fmt.Println(r.Author, "made", r.Op, "at revision", r.Rev) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Select the first 5 code points (the head is where the caret is).
	// SetCursor returns false while an edit of ours awaits its ack: the
	// caller tries again later.
	c.SetCursor([]client.Range{{Anchor: 0, Head: 5}})

	for _, cur := range c.Users() {
		for _, r := range cur.Ranges {
			fmt.Printf("%s (%s) selects %d..%d\n", cur.Peer.Name, cur.Peer.ID, r.Anchor, r.Head)
		}
	}
}
