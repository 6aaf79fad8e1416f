package docs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	bolt "go.etcd.io/bbolt"
)

// naiveSessions groups a whole log as the documentation says, the newest
// session first: a revision more than SessionGap after the one before it
// starts a session.
func naiveSessions(log []Revision) []Session {
	var out []Session
	for i, r := range log {
		if i == 0 || r.Time.Sub(log[i-1].Time) > SessionGap {
			out = append(out, Session{First: r.Rev, Start: r.Time})
		}
		s := &out[len(out)-1]
		s.Last, s.End = r.Rev, r.Time
		if !slices.Contains(s.Authors, r.Author) {
			s.Authors = append(s.Authors, r.Author)
		}
	}
	slices.Reverse(out)
	return out
}

// checkSessions checks every way of paging through a document's sessions
// against the naive grouping of its log, and each session's line counts
// against a diff of its texts. rng picks the pages.
func checkSessions(t testing.TB, m *Manager, id string, rng *rand.Rand) []Session {
	t.Helper()
	log, err := m.Revisions(id, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	want := naiveSessions(log)
	labels, err := m.Labels(id)
	if err != nil {
		t.Fatal(err)
	}
	same := func(got Session, w Session) bool {
		if got.First != w.First || got.Last != w.Last || !got.Start.Equal(w.Start) || !got.End.Equal(w.End) || !slices.Equal(got.Authors, w.Authors) {
			return false
		}
		var ls []Label
		for _, l := range labels {
			if l.Rev >= w.First && l.Rev <= w.Last {
				ls = append(ls, l)
			}
		}
		return len(ls) == len(got.Labels) && slices.EqualFunc(ls, got.Labels, func(a, b Label) bool { return a.ID == b.ID })
	}
	// Page through all of them, newest first.
	var all []Session
	for before := uint64(0); ; {
		limit := 1 + rng.IntN(7)
		page, err := m.Sessions(id, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < limit || page[len(page)-1].First == 1 {
			break
		}
		before = page[len(page)-1].First
	}
	if len(all) != len(want) {
		t.Fatalf("%d sessions, want %d:\n%+v\nwant\n%+v", len(all), len(want), all, want)
	}
	for i := range all {
		if !same(all[i], want[i]) {
			t.Fatalf("session %d: %+v, want %+v", i, all[i], want[i])
		}
	}
	// Any page, from any revision.
	for range 5 {
		before := 1 + rng.Uint64N(uint64(len(log))+2)
		limit := 1 + rng.IntN(5)
		page, err := m.Sessions(id, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		var w []Session
		for _, s := range want {
			if s.First < before && len(w) < limit {
				w = append(w, s)
			}
		}
		if len(page) != len(w) || !slices.EqualFunc(page, w, same) {
			t.Fatalf("Sessions(before %d, limit %d) = %+v, want %+v", before, limit, page, w)
		}
	}
	// Line counts: those of the line diff of the session's texts.
	for _, s := range all {
		a, err := m.TextAt(id, s.First-1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.TextAt(id, s.Last)
		if err != nil {
			t.Fatal(err)
		}
		added, removed := unifiedCounts(t, a.String(), b.String())
		if s.Added != added || s.Removed != removed {
			t.Fatalf("session %d-%d: +%d -%d, the unified diff has +%d -%d", s.First, s.Last, s.Added, s.Removed, added, removed)
		}
	}
	return all
}

// unifiedCounts counts the added and removed lines of the unified diff
// from a to b.
func unifiedCounts(t testing.TB, a, b string) (added, removed int) {
	t.Helper()
	diff, err := Unified("a", "b", a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++ "), strings.HasPrefix(l, "--- "):
		case strings.HasPrefix(l, "+"):
			added++
		case strings.HasPrefix(l, "-"):
			removed++
		}
	}
	return added, removed
}

// TestSessionsGroupAsSpecified: random histories (typing by several
// authors, pauses shorter, as long as and longer than SessionGap, a clock
// that goes back, labels), with revisions pending in the revision log and
// checkpointed at random, group as naiveSessions does, on every page; and
// so again once the log is replayed after a crash.
func TestSessionsGroupAsSpecified(t *testing.T) {
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	cfg := Config{CheckpointEvery: time.Hour, SnapshotEvery: 8, Now: func() time.Time { return time.Unix(0, clock.Load()) }}
	path := filepath.Join(t.TempDir(), "s.db")
	m := openAt(t, path, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "s.go", Text: "package s\n", Author: "init"})
	authors := []string{"a1", "a2", "a3", "api"}
	gap := int64(SessionGap)
	for i := range 400 {
		var step int64
		switch r := rng.IntN(20); {
		case r < 12:
			step = rng.Int64N(int64(30 * time.Second))
		case r < 14:
			step = gap
		case r < 15:
			step = gap + int64(time.Millisecond)
		case r < 16:
			step = gap - int64(time.Millisecond)
		case r < 19:
			step = gap + rng.Int64N(int64(3*time.Hour))
		default:
			step = -rng.Int64N(int64(10 * time.Second))
		}
		clock.Add(step)
		text, rev, _ := d.Text()
		author := authors[rng.IntN(len(authors))]
		if _, err := d.Submit(Edit{Base: rev, Op: randomEdit(rng, text.String()), Author: author, OpID: fmt.Sprintf("%s:%d", author, i+1)}); err != nil {
			t.Fatal(err)
		}
		switch rng.IntN(40) {
		case 0:
			if err := m.store.checkpoint(); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := m.AddLabel(meta.ID, 1+rng.Uint64N(rev+1), fmt.Sprintf("v%d", i), author); err != nil {
				t.Fatal(err)
			}
		case 2:
			checkSessions(t, m, meta.ID, rng)
		}
	}
	want := checkSessions(t, m, meta.ID, rng)
	if len(want) < 10 {
		t.Fatalf("only %d sessions: the test makes too few pauses", len(want))
	}
	m2 := openAt(t, crashCopy(t, m, path), Config{})
	if got := checkSessions(t, m2, meta.ID, rng); len(got) != len(want) {
		t.Fatalf("after the crash: %d sessions, %d before", len(got), len(want))
	}
}

// TestSessionsOfRevisionsOnlyInTheLog: sessions of revisions acknowledged
// while only in the revision log (the newest bbolt session extended by
// some, new sessions started by others) are read without a checkpoint,
// and after a crash the replay of the log writes them to the index.
func TestSessionsOfRevisionsOnlyInTheLog(t *testing.T) {
	testHoldSessionJobs.Store(true) // its write would checkpoint
	defer testHoldSessionJobs.Store(false)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	cfg := noCheckpoints
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	path := filepath.Join(t.TempDir(), "s.db")
	m := openAt(t, path, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "s.go", Text: "package s\n", Author: "init"})
	typeAs := func(author string, n int) {
		for range n {
			clock.Add(int64(time.Second))
			text, rev, _ := d.Text()
			if _, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), text.Len(), "x\n"), Author: author}); err != nil {
				t.Fatal(err)
			}
		}
	}
	typeAs("ann", 3)
	clock.Add(int64(time.Hour))
	typeAs("bob", 2)
	typeAs("ann", 2)
	clock.Add(int64(time.Hour))
	typeAs("cid", 4)
	pending, pages := pendingRevs(m), pagesWritten(m)
	if pending < 10 {
		t.Fatalf("%d revisions pending in the log, want 10", pending)
	}
	want := []Session{
		{First: 9, Last: 12, Authors: []string{"cid"}, Added: 4},
		{First: 5, Last: 8, Authors: []string{"bob", "ann"}, Added: 4},
		{First: 1, Last: 4, Authors: []string{"init", "ann"}, Added: 4},
	}
	check := func(m *Manager) {
		t.Helper()
		got, err := m.Sessions(meta.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%+v, want %+v", got, want)
		}
		for i, w := range want {
			g := got[i]
			if g.First != w.First || g.Last != w.Last || !slices.Equal(g.Authors, w.Authors) || g.Added != w.Added || g.Removed != 0 {
				t.Errorf("session %d: %+v, want %+v", i, g, w)
			}
		}
	}
	check(m)
	if pendingRevs(m) != pending || pagesWritten(m) != pages {
		t.Fatalf("reading the sessions checkpointed")
	}
	m2 := openAt(t, crashCopy(t, m, path), Config{})
	check(m2)
	// The replay wrote the index: bbolt's records alone say the same.
	err := viewDB(m2.Store().DB(), func(tx *kv.Tx) error {
		log := tx.Bucket(bucketLog).Bucket([]byte(meta.ID))
		var firsts []uint64
		for k, v := log.Cursor().Seek(sessPrefix); ; {
			s, ok, err := decodeSession(k, v)
			if err != nil || !ok {
				break
			}
			firsts = append(firsts, s.first)
			k, v = log.Cursor().Seek(sessKey(s.first - 1))
			if s.first == 1 {
				break
			}
		}
		if !slices.Equal(firsts, []uint64{9, 5, 1}) {
			t.Errorf("the index after the replay starts sessions at %v, want [9 5 1]", firsts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSessionIndexerCountsClosedSessions: once a pause closes a session,
// the indexer keeps its line counts, and reads use them.
func TestSessionIndexerCountsClosedSessions(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	m := openTest(t, Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	meta, d := createOpen(t, m, CreateParams{Name: "s.go", Text: "one\ntwo\n", Author: "ann"})
	edit := func(op string) {
		text, rev, _ := d.Text()
		n := text.Len()
		if _, err := d.Submit(Edit{Base: rev, Op: insertAt(n, n, op), Author: "ann"}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(int64(time.Second))
	edit("three\n")
	clock.Add(int64(time.Hour))
	edit("four\n") // closes 1-2
	cached := func() (c lineCounts, ok bool) {
		m.store.view("", func(v *view) error {
			b, _ := docBucket(v.tx, meta.ID)
			if sl := b.Bucket(subSessLines); sl != nil {
				c, ok = decodeLineCounts(sl.Get(revKey(1)))
			}
			return nil
		})
		return c, ok
	}
	var (
		c  lineCounts
		ok bool
	)
	waitIndexed(t, m, "the counts of session 1-2", func() bool { c, ok = cached(); return ok })
	if c != (lineCounts{last: 2, added: 3, removed: 0}) {
		t.Fatalf("counts of session 1-2: %+v, %v; want +3 up to revision 2", c, ok)
	}
	ss, err := m.Sessions(meta.ID, 0, 10)
	if err != nil || len(ss) != 2 || ss[1].Added != 3 || ss[0].Added != 1 {
		t.Fatalf("%+v, %v", ss, err)
	}
}

// TestSessionsIndexedOnUpgrade: a file written before the index existed
// is indexed when opened.
func TestSessionsIndexedOnUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	m := openAt(t, path, Config{})
	meta, d := createOpen(t, m, CreateParams{Name: "s.go", Text: "a\n", Author: "ann"})
	typeInto(t, d, "c", 5)
	d.Release()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = updateDB(db, func(tx *kv.Tx) error {
		log := tx.Bucket(bucketLog).Bucket([]byte(meta.ID))
		c := log.Cursor()
		for k, _ := c.Seek(sessPrefix); k != nil && strings.HasPrefix(string(k), string(sessPrefix)); k, _ = c.Seek(sessPrefix) {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketLinks).Delete(keySessionsIndexed)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	m = openAt(t, path, Config{})
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		s, ok, err := newestSession(tx.Bucket(bucketLog).Bucket([]byte(meta.ID)))
		if err != nil || !ok || s.first != 1 || s.last != 6 {
			t.Errorf("after the upgrade the newest session is %+v, %v, %v", s, ok, err)
		}
		if tx.Bucket(bucketLinks).Get(keySessionsIndexed) == nil {
			t.Error("the upgrade is not recorded")
		}
		return nil
	})
}

// TestLabels: labels are made on durable revisions only, listed in
// revision order, deleted by id, and checked.
func TestLabels(t *testing.T) {
	m := openTest(t, Config{})
	meta, d := createOpen(t, m, CreateParams{Name: "l.go", Text: "a\n"})
	typeInto(t, d, "c", 3)
	v2, err := m.AddLabel(meta.ID, 2, "v2 sent to review", "ann")
	if err != nil {
		t.Fatal(err)
	}
	v1, err := m.AddLabel(meta.ID, 1, "first", "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.AddLabel(meta.ID, 2, "v2 sent to review", "bob")
	if err != nil || again.ID == v2.ID {
		t.Fatalf("a second label of the same name: %+v, %v", again, err)
	}
	for _, bad := range []struct {
		rev  uint64
		name string
		want error
	}{{5, "future", ErrNotFound}, {1, "", ErrInvalid}, {1, "tab\there", ErrInvalid}, {1, strings.Repeat("x", MaxLabelName+1), ErrInvalid}, {1, "\xff", ErrInvalid}} {
		if _, err := m.AddLabel(meta.ID, bad.rev, bad.name, ""); !errors.Is(err, bad.want) {
			t.Errorf("AddLabel(%d, %q): %v, want %v", bad.rev, bad.name, err, bad.want)
		}
	}
	got, err := m.Labels(meta.ID)
	if err != nil || len(got) != 3 || got[0].ID != v1.ID || got[1].ID != v2.ID || got[2].ID != again.ID || got[1].Author != "ann" || got[1].Name != "v2 sent to review" {
		t.Fatalf("Labels: %+v, %v", got, err)
	}
	if err := m.DeleteLabel(meta.ID, v2.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteLabel(meta.ID, v2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
	if got, _ := m.Labels(meta.ID); len(got) != 2 || got[1].ID != again.ID {
		t.Errorf("after the deletion: %+v", got)
	}
	ss, err := m.Sessions(meta.ID, 0, 10)
	if err != nil || len(ss) != 1 || len(ss[0].Labels) != 2 {
		t.Errorf("the session with the labels: %+v, %v", ss, err)
	}
	if _, err := m.Labels("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("labels of no document: %v", err)
	}
}

// TestAuthorProfiles: profiles are kept per workspace (shared by its
// documents), written only when they change, and those of a document
// without a workspace go with it.
func TestAuthorProfiles(t *testing.T) {
	m := openTest(t, Config{})
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Create(CreateParams{Name: "a.go", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(CreateParams{Name: "b.go", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Create(CreateParams{Name: "c.go"})
	if err != nil {
		t.Fatal(err)
	}
	ann := AuthorProfile{Name: "Ann", Color: "#e06c75"}
	if err := m.SetAuthor(a.ID, "a1", ann); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Authors(b.ID, []string{"a1", "a2", "a1"}); err != nil || len(got) != 1 || got["a1"] != ann {
		t.Errorf("from the other document of the workspace: %+v, %v", got, err)
	}
	if got, err := m.Authors(other.ID, []string{"a1"}); err != nil || len(got) != 0 {
		t.Errorf("from another workspace: %+v, %v", got, err)
	}
	pages := pagesWritten(m)
	if err := m.SetAuthor(b.ID, "a1", ann); err != nil || pagesWritten(m) != pages {
		t.Errorf("setting the same profile wrote %d pages (%v)", pagesWritten(m)-pages, err)
	}
	ann.Name = "Ann B."
	if err := m.SetAuthor(b.ID, "a1", ann); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Authors(a.ID, []string{"a1"}); got["a1"].Name != "Ann B." {
		t.Errorf("renamed: %+v", got)
	}
	if _, err := m.Authors("nope", []string{"a1"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("authors of no document: %v", err)
	}
}
