// Command outside is a program of another module that uses the client's
// app events, app data and authors: api_test.go builds it, to prove they
// need no type of collab's internal packages (which another module cannot
// name).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/collab-editor/collab/client"
)

func main() {
	ctx := context.Background()
	c, err := client.Dial(ctx, client.Config{
		URL: os.Args[1], Doc: os.Args[2], Name: "outside", Author: os.Getenv("OUTSIDE_AUTHOR_SECRET"),
		Data:    map[string]any{"role": "bot"},
		OnEvent: func(e client.Event) { fmt.Println(e.Name, string(e.Data), e.From) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
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
	default:
		fmt.Println("delivered to", n)
	}
	_ = c.Emit("bye", nil, client.Target{})
	_ = c.SetData(map[string]any{"status": "done"})
	fmt.Println(c.Data())
}
