// Command outside is a program of another module that uses the client the
// way a bot would: it joins a document, inserts, deletes, applies a whole
// operation, sets its cursor, reads the cursors of the others, and uses app
// events, app data and authors. api_test.go builds it in a module of its
// own and runs it against a real server, to prove that none of this needs
// a type of collab's internal packages (which another module cannot name).
//
// Usage: outside URL DOC (or COLLAB_URL and COLLAB_DOC in the environment).
// The document is expected to hold "e", and someone else to be present
// with a cursor.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/collab-editor/collab/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "outside:", err)
		os.Exit(1)
	}
}

func run() error {
	url, doc := os.Getenv("COLLAB_URL"), os.Getenv("COLLAB_DOC")
	if len(os.Args) > 2 {
		url, doc = os.Args[1], os.Args[2]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URL: url, Doc: doc, Name: "outside", Author: os.Getenv("OUTSIDE_AUTHOR_SECRET"),
		Data:    map[string]any{"role": "bot"},
		OnEvent: func(e client.Event) { fmt.Println("event:", e.Name, string(e.Data), e.From) },
	})
	if err != nil {
		return err
	}
	defer c.Close()

	// Edits: positions are code points of the local text.
	if err := c.Insert(c.Len(), " hello"); err != nil { // "e hello"
		return err
	}
	if err := c.Delete(0, 2); err != nil { // "hello"
		return err
	}
	// A whole operation covers the text it applies to: keep "hello",
	// insert ", world".
	op := new(client.Op).Retain(5).Insert(", world")
	want, err := op.Apply(c.Text())
	if err != nil {
		return err
	}
	if err := c.Edit(*op); err != nil {
		return err
	}
	if err := c.WaitSynced(ctx); err != nil {
		return err
	}
	if got := c.Text(); got != want {
		return fmt.Errorf("text %q after the edits, want %q", got, want)
	}
	fmt.Printf("text: %q at revision %d\n", c.Text(), c.Rev())

	// Cursors: ours (sent once our edits are acknowledged), and the
	// others', moved over our edits.
	if !c.SetCursor([]client.Range{{Anchor: 0, Head: 5}}) {
		return errors.New("cursor not sent")
	}
	var cursors []client.Cursor
	for len(cursors) == 0 {
		for _, cur := range c.Users() {
			if len(cur.Ranges) > 0 {
				cursors = append(cursors, cur)
			}
		}
		if len(cursors) == 0 {
			select {
			case <-ctx.Done():
				return errors.New("no remote cursor")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	for _, cur := range cursors {
		for _, r := range cur.Ranges {
			fmt.Printf("cursor: %s at %d..%d\n", cmp.Or(cur.Peer.Name, cur.Peer.ID), r.Anchor, r.Head)
		}
	}

	// App events and app data.
	var to []string
	for _, p := range c.Peers() {
		if _, ok := p.Data["status"]; ok || p.ReadOnly || p.Author == c.Author() {
			to = append(to, p.ID)
		}
	}
	n, err := c.EmitAck(ctx, "hello", map[string]string{"from": "outside"}, client.Target{Users: to, ExcludeSelf: true})
	var refused *client.ServerError
	switch {
	case errors.As(err, &refused):
		fmt.Println("refused:", refused.Code, refused.Message)
	case errors.Is(err, client.ErrNotConnected), errors.Is(err, client.ErrConnectionLost):
		fmt.Println("not sent:", err)
	case err != nil:
		return err
	default:
		fmt.Println("delivered to", n)
	}
	_ = c.Emit("bye", nil, client.Target{})
	_ = c.SetData(map[string]any{"status": "done"})
	data, _ := json.Marshal(c.Data())
	fmt.Println("data:", string(data))
	return nil
}
