package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/server"
)

// TestCursors: a cursor set by one client reaches the other, whose Users
// reports it in its local text: moved over its own edits while they are in
// flight and after they are acknowledged.
func TestCursors(t *testing.T) {
	base, doc, _ := serve(t, server.Config{}) // the document holds "e"
	ann := dial(t, client.Config{URL: base, Doc: doc, Name: "Ann"})
	bob := dial(t, client.Config{URL: base, Doc: doc, Name: "Bob"})
	cursors := func(c *client.Client) string {
		s := ""
		for _, cur := range c.Users() {
			s += fmt.Sprintf("%s%v ", cur.Peer.Name, cur.Ranges)
		}
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor := func(c *client.Client, want string) {
		t.Helper()
		if err := c.WaitUntil(ctx, func() bool { return cursors(c) == want }); err != nil {
			t.Fatalf("cursors %q, want %q (%v)", cursors(c), want, err)
		}
	}
	if !ann.SetCursor([]client.Range{{Anchor: 1, Head: 1}}) {
		t.Fatal("Ann's cursor was not sent")
	}
	waitFor(bob, "Ann[{1 1}] ")
	if err := bob.Insert(0, "xx"); err != nil {
		t.Fatal(err)
	}
	if got := cursors(bob); got != "Ann[{3 3}] " {
		t.Errorf("with Bob's edit in flight: %q", got)
	}
	if err := bob.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cursors(bob); got != "Ann[{3 3}] " {
		t.Errorf("after Bob's edit is acknowledged: %q", got)
	}
	if err := ann.WaitRev(ctx, bob.Rev()); err != nil {
		t.Fatal(err)
	}
	if !bob.SetCursor([]client.Range{{Anchor: 0, Head: 2}}) {
		t.Fatal("Bob's cursor was not sent")
	}
	waitFor(ann, "Bob[{0 2}] ")
}
