package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// TestRecoverCommand: a revision log damaged in the middle stops the
// server from starting with an error that names "collab recover"; the
// command keeps the damaged log beside, replays every whole record, says
// what it skipped, and the server starts again.
func TestRecoverCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	m, err := docs.Open(src, docs.Config{CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m.Create(docs.CreateParams{Name: "a.go", Text: "package a\n"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		text, rev, _ := d.Text()
		op := *new(ot.Operation).Retain(text.Len()).Insert("x")
		if _, err := d.Submit(docs.Edit{Base: rev, Op: op, OpID: "c:" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	// The files as a crash leaves them: the revisions only in the log.
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
	d.Release()
	m.Close()
	// Damage the log's third record from the end: header (32 bytes), then
	// records of a 16-byte header and a payload.
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 32; off+16 <= len(wal); {
		n := int(binary.BigEndian.Uint32(wal[off:]))
		if n == 0 {
			break
		}
		offs = append(offs, off)
		off += 16 + n
	}
	if len(offs) < 3 {
		t.Fatalf("%d records in the log", len(offs))
	}
	wal[offs[len(offs)-3]+20] ^= 0x40
	if err := os.WriteFile(path+".wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}

	getenv := func(string) string { return "" }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"-data", path, "-addr", "127.0.0.1:0"}, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "collab recover -data "+path) {
		t.Fatalf("starting on a damaged log: %v; want an error naming the recovery command", err)
	}

	stdout.Reset()
	if err := run(context.Background(), []string{"recover", "-data", path}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("collab recover: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("collab recover printed:\n%s", stdout.String())
	for _, want := range []string{"skipped bytes", "kept as " + path + ".wal.damaged-", "revisions replayed", "done"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("collab recover did not say %q", want)
		}
	}
	m, err = docs.Open(path, docs.Config{})
	if err != nil {
		t.Fatalf("opening after collab recover: %v", err)
	}
	defer m.Close()
	got, err := m.Store().Meta(meta.ID)
	if err != nil || got.Rev < 1 {
		t.Fatalf("the document after collab recover: %+v, %v", got, err)
	}
}
