package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/server"
)

// TestAuthor: two clients with one author secret are one author, which
// their edits carry and their peers see; a client without one is its own
// author.
func TestAuthor(t *testing.T) {
	base, edit, _ := serve(t, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(cfg client.Config) *client.Client {
		t.Helper()
		cfg.URL, cfg.Doc = base, edit
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const secret = "ann-secret-0123456789abcdef"
	remotes := make(chan client.Remote, 10)
	a1 := dial(client.Config{Author: secret, Name: "Ann"})
	a2 := dial(client.Config{Author: secret, Name: "Ann", OnRemote: func(r client.Remote) { remotes <- r }})
	bot := dial(client.Config{Name: "bot"})
	if a1.Author() == "" || a1.Author() != a2.Author() || a1.User() == a2.User() || a1.Author() == secret {
		t.Fatalf("one author in two clients: authors %q %q, users %q %q", a1.Author(), a2.Author(), a1.User(), a2.User())
	}
	if bot.Author() != bot.User() {
		t.Errorf("a client without an author secret: author %q, user %q", bot.Author(), bot.User())
	}
	if err := a1.Insert(0, "x"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-remotes:
		if r.Author != a1.Author() || r.ID != a1.User()+":1" {
			t.Errorf("the other tab sees %+v; want author %s, id %s:1", r, a1.Author(), a1.User())
		}
	case <-ctx.Done():
		t.Fatal("no remote edit")
	}
	err := bot.WaitUntil(ctx, func() bool {
		n := 0
		for _, p := range bot.Peers() {
			if p.Author == a1.Author() {
				n++
			}
		}
		return n == 2
	})
	if err != nil {
		t.Fatalf("the bot's peers: %+v (%v)", bot.Peers(), err)
	}
}
