package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackupHoldsPendingRevisions: revisions still in the revision log
// (no checkpoint has run) are in the copy, later ones are not, and the
// copy opens as a store of its own with no log beside it.
func TestBackupHoldsPendingRevisions(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(filepath.Join(dir, "live.db"), Config{CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: "v1", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		if _, err := m.Put(meta.ID, fmt.Sprintf("v%d", i), "ann", Key{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !m.store.hasPending() {
		t.Fatal("want revisions pending in the log before the backup")
	}
	b, err := m.Backup()
	if err != nil {
		t.Fatal(err)
	}
	// An edit while the copy is written is not in it.
	if _, err := m.Put(meta.ID, "after", "ann", Key{}, nil); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "collab.db")
	f, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if n != b.Size() {
		t.Fatalf("wrote %d bytes, Size says %d", n, b.Size())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	r, err := Open(copyPath, Config{})
	if err != nil {
		t.Fatalf("opening the copy with no revision log: %v", err)
	}
	defer r.Close()
	got, text, err := r.Head(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rev != 5 || text.String() != "v5" {
		t.Fatalf("restored head: rev %d %q, want rev 5 \"v5\"", got.Rev, text.String())
	}
	revs, err := r.Revisions(meta.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 5 {
		t.Fatalf("restored %d revisions, want 5", len(revs))
	}
	// Edits go on in the restored store.
	if _, err := r.Put(meta.ID, "v6", "bob", Key{}, nil); err != nil {
		t.Fatalf("edit after restore: %v", err)
	}
}
