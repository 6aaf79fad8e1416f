package gitrepo

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// clock is the clock of a test's history, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newWorkspace opens a store, file in a temporary folder, on a clock
// that starts at 1 January 2026, 08:00 UTC and moves when the test moves
// it, and creates a workspace in it.
func newWorkspace(tb testing.TB, file string) (m *docs.Manager, clk *clock, ws string) {
	tb.Helper()
	clk = &clock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	m, err := docs.Open(filepath.Join(tb.TempDir(), file), docs.Config{Now: clk.now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	w, err := m.CreateWorkspace()
	if err != nil {
		tb.Fatal(err)
	}
	return m, clk, w.ID
}

// stableHistory makes a workspace whose history does not depend on
// anything random (no two events of one millisecond).
func stableHistory(t *testing.T) (*docs.Manager, *clock, string, []string) {
	m, clk, ws := newWorkspace(t, "stable.db")
	var ids []string
	for i := range 4 {
		clk.advance(time.Second)
		meta, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("dir%d/file%d.go", i%2, i), Workspace: ws, Text: "package x\n", Author: fmt.Sprintf("a%d", i%3)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	if err := m.SetAuthor(ids[0], "a1", docs.AuthorProfile{Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	for s := range 3 {
		clk.advance(10 * time.Minute)
		for r := range 12 {
			k := (r + s) % len(ids)
			clk.advance(time.Second)
			d, err := m.Open(ids[k])
			if err != nil {
				t.Fatal(err)
			}
			text, rev, _ := d.Text()
			_, err = d.Submit(docs.Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert(fmt.Sprintf("// %d.%d\n", s, r)), Author: fmt.Sprintf("a%d", (k+r)%3)})
			d.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return m, clk, ws, ids
}

// TestCommitIDsStayTheSame: the commits of a history that does not depend
// on chance have the ids they had before files' names, deletions and
// authors' names joined the history (a server upgraded keeps its clones'
// ids); renaming a file, an author's new name, deleting a file and
// restoring it change no commit made before them; and the ids made
// incrementally, request by request, are those made from nothing.
func TestCommitIDsStayTheSame(t *testing.T) {
	m, clk, ws, ids := stableHistory(t)
	r := New(m, Config{})
	snap, err := r.current(ws)
	if err != nil {
		t.Fatal(err)
	}
	// Made by the code before names joined the history.
	if got := snap.head().String(); got != "b8fac0e8a5f38a1a7b9534f7fa305e7212ba245c" {
		t.Fatalf("the head is %s, not the id it always had", got)
	}
	before := slices.Clone(snap.hist.commits)
	edit := func(k int, s, author string) {
		t.Helper()
		clk.advance(time.Second)
		d, err := m.Open(ids[k])
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		text, rev, _ := d.Text()
		if _, err := d.Submit(docs.Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert(s), Author: author}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []func(){
		func() {
			if _, err := m.Update(ids[0], "cmd/main.go", "", docs.By{Author: "a2"}); err != nil {
				t.Fatal(err)
			}
			edit(0, "// moved\n", "a2")
		},
		func() {
			if err := m.SetAuthor(ids[0], "a1", docs.AuthorProfile{Name: "Anne"}); err != nil {
				t.Fatal(err)
			}
			edit(1, "// Anne\n", "a1")
		},
		func() {
			if err := m.Delete(ids[2], docs.By{Author: "a0"}); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if _, err := m.Undelete(ids[2], "dir0/back.go", docs.By{Author: "a1"}); err != nil {
				t.Fatal(err)
			}
			edit(2, "// back\n", "a1")
		},
	}
	for _, step := range steps {
		clk.advance(10 * time.Minute)
		step()
		snap, err := r.current(ws)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range before {
			if snap.hist.commits[i].hash != c.hash {
				t.Fatalf("commit %d changed id: %s, then %s", i, c.hash, snap.hist.commits[i].hash)
			}
		}
		before = slices.Clone(snap.hist.commits)
	}
	incremental, err := r.current(ws)
	if err != nil {
		t.Fatal(err)
	}
	scratch, err := New(m, Config{}).current(ws)
	if err != nil {
		t.Fatal(err)
	}
	if incremental.head() != scratch.head() {
		t.Fatalf("made request by request, the head is %s; from nothing, %s", incremental.head(), scratch.head())
	}
	// And what the renamed, deleted and restored files look like.
	var subjects []string
	for _, c := range scratch.hist.commits[len(scratch.hist.commits)-3:] {
		hdr, err := readCommit(scratch.objs, c.hash)
		if err != nil {
			t.Fatal(err)
		}
		subject, _, _ := strings.Cut(hdr.message, "\n")
		subjects = append(subjects, hdr.author.name+": "+subject)
	}
	hdr, err := readCommit(scratch.objs, scratch.head())
	if err != nil {
		t.Fatal(err)
	}
	subject, _, _ := strings.Cut(hdr.message, "\n")
	subjects = append(subjects, hdr.author.name+": "+subject)
	want := []string{"a2: Edit cmd/main.go; Rename dir0/file0.go to cmd/main.go", "Anne: Edit dir1/file1.go", "a0: Delete dir0/file2.go", "Anne: Edit dir0/back.go; Restore dir0/back.go"}
	if !slices.Equal(subjects, want) {
		t.Fatalf("the last commits are\n%s\nwant\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
	if got := scratch.head().String(); got != stableHead {
		t.Fatalf("the head is %s, not %s", got, stableHead)
	}
}

// stableHead is the id of TestCommitIDsStayTheSame's last commit: a
// change to it is a change of every clone's history.
const stableHead = "a8cf8061e535a789409255275243725fda2d98a1"
