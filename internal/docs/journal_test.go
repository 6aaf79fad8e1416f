package docs

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/ot"
)

// kinds lists the kinds and documents of entries, "kind:name:from-to".
func kinds(es []JournalEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s:%s:%d-%d", e.Kind, e.Name, e.FromRev, e.ToRev)
	}
	return out
}

// insertEnd appends s to d at its head, as author.
func insertEnd(t *testing.T, d *Document, author, s string) {
	t.Helper()
	text, rev, _ := d.Text()
	if _, err := d.Submit(Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert(s), Author: author}); err != nil {
		t.Fatal(err)
	}
}

// TestJournalOrder: creation, edits summarised by NoteChanges, a rename
// (which summarises the edits before it first) and a deletion (likewise)
// are journaled in the order they happened, with revision ranges,
// authors and their names, and each index finds its own entries. The
// watcher hears of each entry and of the revisions.
func TestJournalOrder(t *testing.T) {
	m := openTest(t, Config{})
	var mu sync.Mutex
	var heard []string
	revs := map[string]uint64{}
	m.Watch(Watcher{
		Revisions: func(id string, rev uint64) { mu.Lock(); revs[id] = rev; mu.Unlock() },
		Journal:   func(e JournalEntry) { mu.Lock(); heard = append(heard, e.Kind); mu.Unlock() },
	})
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "x", Author: "a1"})
	other, _ := createOpen(t, m, CreateParams{Name: "b.txt"})
	if err := m.SetAuthor(meta.ID, "a2", AuthorProfile{Name: "Bea"}); err != nil {
		t.Fatal(err)
	}
	insertEnd(t, d, "a2", "y")
	insertEnd(t, d, "a1", "z")
	insertEnd(t, d, "a2", "!")
	if es, err := m.NoteChanges([]string{meta.ID, other.ID}); err != nil || len(es) != 1 {
		t.Fatalf("NoteChanges: %v %v", es, err)
	} else if got := es[0].Authors; !slices.Equal(got, []JournalAuthor{{ID: "a2", Name: "Bea"}, {ID: "a1"}}) {
		t.Fatalf("authors %v", got)
	}
	// Nothing new: nothing noted.
	if es, err := m.NoteChanges([]string{meta.ID}); err != nil || len(es) != 0 {
		t.Fatalf("NoteChanges again: %v %v", es, err)
	}
	insertEnd(t, d, "a1", "5")
	if _, err := m.Update(meta.ID, "c.txt", ""); err != nil {
		t.Fatal(err)
	}
	insertEnd(t, d, "a1", "6")
	if err := m.Delete(meta.ID); err != nil {
		t.Fatal(err)
	}
	all, err := m.Journal(JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"created:a.txt:1-1", "created:b.txt:0-0", "changed:a.txt:2-4", "changed:a.txt:5-5", "renamed:c.txt:5-5", "changed:c.txt:6-6", "deleted:c.txt:6-6"}
	if got := kinds(all); !slices.Equal(got, want) {
		t.Fatalf("journal\n got %v\nwant %v", got, want)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	if all[4].OldName != "a.txt" || all[0].Authors[0].ID != "a1" || all[0].EditLink != meta.EditLink || all[0].ViewLink != meta.ViewLink {
		t.Fatalf("entries %+v", all)
	}
	byDoc, _ := m.Journal(JournalQuery{Doc: other.ID})
	byWS, _ := m.Journal(JournalQuery{Workspace: meta.Workspace, After: 2, Limit: 2})
	if kinds(byDoc)[0] != "created:b.txt:0-0" || len(byDoc) != 1 || !slices.Equal(kinds(byWS), want[2:4]) {
		t.Fatalf("by document %v, by workspace %v", kinds(byDoc), kinds(byWS))
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(heard, []string{"created", "created", "changed", "changed", "renamed", "changed", "deleted"}) || revs[meta.ID] != 6 {
		t.Fatalf("watcher heard %v, revisions %v", heard, revs)
	}
}

// TestJournalAfterRestart: revisions no entry covers when the server stops
// (the log not yet checkpointed) are named by Unjournaled after it starts
// again, and noted then; a file made before the journal starts its
// documents' cursors at their heads.
func TestJournalAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	m := openAt(t, path, Config{CheckpointEvery: time.Hour})
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "x"})
	insertEnd(t, d, "a1", "y")
	insertEnd(t, d, "a1", "z")
	d.Release()
	if ids, err := m.Unjournaled(); err != nil || !slices.Equal(ids, []string{meta.ID}) {
		t.Fatalf("unjournaled %v %v", ids, err)
	}
	m.Close()
	m = openAt(t, path, Config{})
	ids, err := m.Unjournaled()
	if err != nil || !slices.Equal(ids, []string{meta.ID}) {
		t.Fatalf("after restart: unjournaled %v %v", ids, err)
	}
	es, err := m.NoteChanges(ids)
	if err != nil || len(es) != 1 || es[0].FromRev != 2 || es[0].ToRev != 3 {
		t.Fatalf("noted %+v %v", es, err)
	}
	if ids, _ := m.Unjournaled(); len(ids) != 0 {
		t.Fatalf("still unjournaled: %v", ids)
	}
}

// TestJournalTrim: entries older than JournalKeep, and the oldest beyond
// JournalMax, are forgotten with their index entries; the bounds say up
// to where.
func TestJournalTrim(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := openTest(t, Config{Now: clock, JournalKeep: time.Hour, JournalMax: 3})
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := m.Create(CreateParams{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := m.TrimJournal(); err != nil || n != 2 {
		t.Fatalf("trim beyond the count: %d %v", n, err)
	}
	if trimmed, last, _ := m.JournalBounds(); trimmed != 2 || last != 5 {
		t.Fatalf("bounds %d %d", trimmed, last)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, err := m.Create(CreateParams{Name: "f"}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.TrimJournal(); err != nil || n != 3 {
		t.Fatalf("trim by age: %d %v", n, err)
	}
	es, _ := m.Journal(JournalQuery{})
	if len(es) != 1 || es[0].Name != "f" || es[0].Seq != 6 {
		t.Fatalf("left %+v", es)
	}
	if trimmed, _, _ := m.JournalBounds(); trimmed != 5 {
		t.Fatalf("trimmed through %d", trimmed)
	}
}
