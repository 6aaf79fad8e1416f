package docs

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestSettingsAreKeptAndPublished: a setting is off by default, a change
// reaches the live document's subscribers as metadata, survives edits,
// a rename and a reopen, and a missing document is not found.
func TestSettingsAreKeptAndPublished(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.db")
	m := openAt(t, path, Config{})
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "x"})
	if meta.Settings.ViewerEvents {
		t.Fatal("viewerEvents is on by default")
	}
	metas := make(chan Meta, 4)
	_, cancel, err := d.Join(func(e Event) {
		if e.Meta != nil {
			metas <- *e.Meta
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	got, err := m.UpdateSettings(meta.ID, func(s *Settings) { s.ViewerEvents = true })
	if err != nil || !got.Settings.ViewerEvents {
		t.Fatalf("UpdateSettings: %+v %v", got.Settings, err)
	}
	if e := <-metas; !e.Settings.ViewerEvents {
		t.Fatalf("the subscribers' metadata: %+v", e.Settings)
	}
	if _, err := d.Submit(Edit{Base: 1, Op: insertAt(1, 1, "y"), OpID: "c:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(meta.ID, "b.txt", "", By{}); err != nil {
		t.Fatal(err)
	}
	if e := <-metas; !e.Settings.ViewerEvents || e.Name != "b.txt" {
		t.Fatalf("after a rename: %+v", e)
	}
	d.Release()
	cancel()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openAt(t, path, Config{})
	after, err := m.Store().Meta(meta.ID)
	if err != nil || !after.Settings.ViewerEvents {
		t.Fatalf("after reopen: %+v %v", after.Settings, err)
	}
	if _, err := m.UpdateSettings("nope", func(*Settings) {}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing document: %v", err)
	}
}
