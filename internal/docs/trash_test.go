package docs

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func nameList(ns []NameChange) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("%s@%d:%s", n.Name, n.Rev, n.Author)
	}
	return out
}

// TestDeleteKeepsHistory: a deleted document leaves its workspace (no
// listing shows it, its path is free, its links and live copy are gone)
// and its history stays, readable, with its names up to the deletion,
// in the workspace's trash; restored under another name (its own path
// was taken meanwhile) it is whole again, links included, and takes
// edits; the journal tells each step.
func TestDeleteKeepsHistory(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := openTest(t, Config{Now: clk.Now})
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	meta, d := createOpen(t, m, CreateParams{Name: "a.go", Text: "package a\n", Workspace: ws.ID, Author: "ann"})
	for _, s := range []string{"// one\n", "// two\n"} {
		clk.advance(time.Second)
		insertEnd(t, d, "ann", s)
	}
	clk.advance(time.Minute)
	if _, err := m.Update(meta.ID, "src/a.go", "", By{Author: "bob"}); err != nil {
		t.Fatal(err)
	}
	insertEnd(t, d, "ann", "// three\n")
	closed := make(chan error, 1)
	if _, _, err := d.Join(func(e Event) {
		if e.Closed != nil {
			closed <- e.Closed
		}
	}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	deletedAt := clk.Now()
	if err := m.Delete(meta.ID, By{Author: "bob", OpID: "git-1"}); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, closed); !errors.Is(err, ErrDeleted) {
		t.Fatalf("the live copy was closed with %v", err)
	}
	// Gone from the workspace.
	if _, err := m.Open(meta.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open: %v", err)
	}
	if _, err := m.Store().Meta(meta.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Meta: %v", err)
	}
	for _, l := range []string{meta.EditLink, meta.ViewLink} {
		if got, err := m.ResolveLink(l); !errors.Is(err, ErrNotFound) {
			t.Errorf("link %s resolves to %+v, %v", l, got, err)
		}
		if got, err := m.ResolveDeletedLink(l); err != nil || got.Target != meta.ID || !got.Deleted {
			t.Errorf("ResolveDeletedLink(%s): %+v, %v", l, got, err)
		}
	}
	if list, _ := m.Store().List(ws.ID, "", "", 10); len(list) != 0 {
		t.Errorf("the workspace lists %+v", list)
	}
	if all, _ := m.Store().ListAll("", 10); len(all) != 0 {
		t.Errorf("ListAll lists %+v", all)
	}
	if _, err := m.Update(meta.ID, "b.go", "", By{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("renaming a deleted document: %v", err)
	}
	if err := m.Delete(meta.ID, By{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
	// Kept: its revisions, texts and names, in the trash.
	if revs, err := m.Store().Revisions(meta.ID, 0, 10); err != nil || len(revs) != 4 {
		t.Fatalf("its revisions: %d, %v", len(revs), err)
	}
	if text, err := m.Store().TextAt(meta.ID, 4); err != nil || text.String() != "package a\n// one\n// two\n// three\n" {
		t.Fatalf("its text: %q, %v", text.String(), err)
	}
	names, err := m.Store().Names(meta.ID, 0)
	if err != nil || !slices.Equal(nameList(names), []string{"a.go@0:", "src/a.go@3:bob", "@4:bob"}) {
		t.Fatalf("its names: %v, %v", nameList(names), err)
	}
	if !names[2].Time.Equal(deletedAt) || names[2].OpID != "git-1" {
		t.Fatalf("its deletion: %+v", names[2])
	}
	trash, err := m.Store().Deleted(ws.ID, 0, 10)
	if err != nil || len(trash) != 1 || trash[0].ID != meta.ID || !trash[0].Deleted.Equal(deletedAt) || trash[0].DeletedBy != "bob" || trash[0].Rev != 4 || trash[0].Name != "src/a.go" {
		t.Fatalf("the trash: %+v, %v", trash, err)
	}
	// Its path is free: another document takes it, and the restoration
	// must name another.
	other, err := m.Create(CreateParams{Name: "src/a.go", Text: "package other\n", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Undelete(meta.ID, "", By{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("restoring onto a taken path: %v", err)
	}
	if _, err := m.Undelete(other.ID, "", By{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restoring a live document: %v", err)
	}
	clk.advance(time.Minute)
	back, err := m.Undelete(meta.ID, "src/a_old.py", By{Author: "cat"})
	if err != nil || back.Name != "src/a_old.py" || back.Language != "python" || back.Rev != 4 || !back.Deleted.IsZero() {
		t.Fatalf("restored: %+v, %v", back, err)
	}
	if l, err := m.ResolveLink(meta.ViewLink); err != nil || l.Target != meta.ID {
		t.Fatalf("its view link after the restoration: %+v, %v", l, err)
	}
	if trash, _ := m.Store().Deleted(ws.ID, 0, 10); len(trash) != 0 {
		t.Fatalf("the trash after the restoration: %+v", trash)
	}
	d2, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Release()
	insertEnd(t, d2, "cat", "// four\n")
	if _, text, _ := m.Head(meta.ID); text.String() != "package a\n// one\n// two\n// three\n// four\n" {
		t.Fatalf("text after the restoration: %q", text.String())
	}
	names, _ = m.Store().Names(meta.ID, 3)
	if !slices.Equal(nameList(names), []string{"src/a_old.py@4:cat"}) {
		t.Fatalf("the names after the third: %v", nameList(names))
	}
	if got, _ := m.Store().Meta(meta.ID); got.Names != 4 {
		t.Fatalf("Names counts %d changes", got.Names)
	}
	// Purged from the live state; the journal tells it all.
	if err := m.Purge(meta.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store().Names(meta.ID, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("names after the purge: %v", err)
	}
	all, err := m.Journal(JournalQuery{Doc: meta.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"created:a.go:1-1", "changed:a.go:2-3", "renamed:src/a.go:3-3", "changed:src/a.go:4-4", "deleted:src/a.go:4-4",
		"restored:src/a_old.py:4-4", "changed:src/a_old.py:5-5", "deleted:src/a_old.py:5-5", "purged:src/a_old.py:5-5"}
	if got := kinds(all); !slices.Equal(got, want) {
		t.Fatalf("journal\n got %v\nwant %v", got, want)
	}
}

// TestDeleteStopsEdits: editors typing as fast as they can while the
// document is deleted: every edit acknowledged is in its history, and
// its history ends at the revision its deletion records. No edit is
// applied after it.
func TestDeleteStopsEdits(t *testing.T) {
	m := openTest(t, Config{})
	meta, err := m.Create(CreateParams{Name: "hot.txt", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uint64]bool{}
	typing := make(chan struct{}, 4)
	for k := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				d, err := m.Open(meta.ID)
				if err != nil {
					return // gone
				}
				text, rev, _ := d.Text()
				res, err := d.Submit(Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert("y"), Author: fmt.Sprint(k)})
				d.Release()
				if err == nil {
					mu.Lock()
					acked[res.Rev] = true
					mu.Unlock()
				}
				if i == 20 {
					typing <- struct{}{}
				}
			}
		}()
	}
	for range 4 {
		<-typing
	}
	if err := m.Delete(meta.ID, By{}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	names, err := m.Store().Names(meta.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := names[len(names)-1]
	revs, err := m.Store().Revisions(meta.ID, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if last.Name != "" || uint64(len(revs)) != last.Rev {
		t.Fatalf("the deletion records revision %d (%q); the history has %d", last.Rev, last.Name, len(revs))
	}
	for rev := range acked {
		if rev > last.Rev {
			t.Fatalf("revision %d was acknowledged after the deletion at %d", rev, last.Rev)
		}
	}
	if len(acked) < 80 {
		t.Fatalf("only %d edits acknowledged", len(acked))
	}
}

// TestAuthorNames: each name an author takes is kept with its time; a
// change of colour only is not a name; an author named before names were
// kept (a profile and no names) has that name from time zero.
func TestAuthorNames(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := openTest(t, Config{Now: clk.Now})
	meta, err := m.Create(CreateParams{Name: "a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	set := func(id string, p AuthorProfile) {
		t.Helper()
		if err := m.SetAuthor(meta.ID, id, p); err != nil {
			t.Fatal(err)
		}
	}
	set("ann", AuthorProfile{Name: "Ann", Color: "#111"})
	clk.advance(time.Hour)
	set("ann", AuthorProfile{Name: "Ann", Color: "#222"})
	set("ann", AuthorProfile{Name: "Anna", Color: "#222"})
	set("bob", AuthorProfile{Color: "#333"})
	// An old profile, from before names were kept.
	if err := m.Do(func(tx *kv.Tx) error {
		return tx.Bucket(bucketAuthors).Put(append(authorScope(meta), "cat"...), []byte(`{"name":"Cat"}`))
	}); err != nil {
		t.Fatal(err)
	}
	got, err := m.AuthorNames(meta.Workspace)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]AuthorName{
		"ann": {{t0, "Ann"}, {t0.Add(time.Hour), "Anna"}},
		"cat": {{time.UnixMilli(0).UTC(), "Cat"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("names\n got %v\nwant %v", got, want)
	}
	// The old profile's author renames: their old name stays, from time
	// zero, before the new one.
	set("cat", AuthorProfile{Name: "Catherine"})
	got, _ = m.AuthorNames(meta.Workspace)
	if fmt.Sprint(got["cat"]) != fmt.Sprint([]AuthorName{{time.UnixMilli(0).UTC(), "Cat"}, {t0.Add(time.Hour), "Catherine"}}) {
		t.Fatalf("cat's names: %v", got["cat"])
	}
}
