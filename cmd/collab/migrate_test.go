package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/nats-io/nats.go"
)

// TestMigrateCommand: collab migrate copies a database, its edits still
// in its revision log, into a single NATS server's new stream, where a
// cluster node finds its document, history and key; a second run is
// refused, the stream having entries.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	m, err := docs.Open(src, docs.Config{CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m.Create(docs.CreateParams{Name: "a.go", Text: "package a\n", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := m.Setting("embed-key", func() []byte { return []byte("k") })
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		text, rev, _ := d.Text()
		op := *new(ot.Operation).Retain(text.Len()).Insert("x")
		if _, err := d.Submit(docs.Edit{Base: rev, Op: op, Author: "bob", OpID: "c:" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	d.Release()
	// The files as a crash leaves them: the edits only in the revision
	// log, which the migration replays.
	path := filepath.Join(dir, "collab.db")
	for _, suffix := range []string{"", ".wal"} {
		b, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "nats")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	getenv := func(string) string { return "" }
	args := []string{"migrate", "-data", path, "-nats", srv.ClientURL(), "-nats-replicas", "1"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("collab migrate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("collab migrate printed:\n%s", stdout.String())
	if !strings.Contains(stdout.String(), "done") {
		t.Errorf("collab migrate did not say it was done")
	}
	err = run(context.Background(), args, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("collab migrate into the same stream again: %v", err)
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log, err := jetstream.Open(ctx, nc, jetstream.Config{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	node, err := docs.Open(filepath.Join(dir, "node.db"), docs.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	text, err := node.TextAt(meta.ID, 6)
	if err != nil || text.String() != "package a\nxxxxx" {
		t.Fatalf("the node reads %q, %v", text.String(), err)
	}
	revs, err := node.Store().Revisions(meta.ID, 0, 10)
	if err != nil || len(revs) != 6 || revs[0].Author != "alice" || revs[5].OpID != "c:5" {
		t.Fatalf("the node's history: %+v, %v", revs, err)
	}
	got, err := node.Setting("embed-key", func() []byte { return []byte("another") })
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("the node's key %q, %v; want %q", got, err, key)
	}
}
