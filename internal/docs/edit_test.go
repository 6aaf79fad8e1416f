package docs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
)

// pieces are what randomEdit types or pastes: single characters, words,
// newlines, multi-byte code points and whole lines.
var pieces = []string{"a", "b", "xyz", " ", "\n", "\n", "\t", "é", "日本", "😀", "{\n}", "func f() {\n\treturn 1\n}\n", "x := 1\n"}

func randomText(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(3) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// randomEdit returns a small edit of text such as a person makes: typing,
// deleting, replacing a selection, pasting lines; sometimes two at once.
// It is never a no-op.
func randomEdit(rng *rand.Rand, text string) ot.Operation {
	n := utf8.RuneCountInString(text)
	var op ot.Operation
	pos := 0
	for range 1 + rng.IntN(2) {
		at := pos + rng.IntN(n-pos+1)
		op.Retain(at - pos)
		del := 0
		if at < n && rng.IntN(3) == 0 {
			del = 1 + rng.IntN(min(6, n-at))
		}
		if del == 0 || rng.IntN(2) == 0 {
			op.Insert(randomText(rng))
		}
		op.Delete(del)
		pos = at + del
	}
	op.Retain(n - pos)
	return op
}

// newSeed returns a seed for a property test and logs it, so a failure
// can be replayed by putting it back in place of the call.
func newSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

// checkLog reads a document's whole log and checks that its revisions are
// 1..head with no gap, that each op id appears once, and that replaying it
// from the empty text gives the head text, TextAt at every revision, and
// the text of the live document. It returns the log.
func checkLog(t testing.TB, m *Manager, id string) []Revision {
	t.Helper()
	meta, err := m.Store().Meta(id)
	if err != nil {
		t.Fatal(err)
	}
	log, err := m.Revisions(id, 0, int(meta.Rev)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != int(meta.Rev) {
		t.Fatalf("%s: %d revisions in the log, head is %d", id, len(log), meta.Rev)
	}
	seen := map[string]uint64{}
	text := ""
	for i, r := range log {
		if r.Rev != uint64(i+1) {
			t.Fatalf("%s: log entry %d is revision %d", id, i, r.Rev)
		}
		if r.OpID != "" {
			if prev, dup := seen[r.OpID]; dup {
				t.Fatalf("%s: op id %q at revisions %d and %d", id, r.OpID, prev, r.Rev)
			}
			seen[r.OpID] = r.Rev
		}
		if text, err = r.Op.Apply(text); err != nil {
			t.Fatalf("%s: replaying revision %d: %v", id, r.Rev, err)
		}
		got, err := m.TextAt(id, r.Rev)
		if err != nil || got.String() != text {
			t.Fatalf("%s: TextAt(%d) = %q, %v; replaying the log gives %q", id, r.Rev, got.String(), err, text)
		}
	}
	d, err := m.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	live, rev, _ := d.Text()
	if rev != meta.Rev || live.String() != text {
		t.Fatalf("%s: live text at %d is %q; replaying the log to %d gives %q", id, rev, live.String(), meta.Rev, text)
	}
	return log
}

// wait receives one value from c, or fails the test after a while.
func wait[T any](t testing.TB, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for an event")
	}
	panic("unreachable")
}

// TestConcurrentSubmitsConverge has writers submit edits to one document
// at once, each made against a random recent revision: some within the
// in-memory window of 8, most beyond it, so they are transformed over
// history read from disk. Everything must converge on the text the log
// replays to, each op exactly once; resending every op, before and after a
// restart, applies nothing.
func TestConcurrentSubmitsConverge(t *testing.T) {
	seed := newSeed(t)
	path := filepath.Join(t.TempDir(), "conv.db")
	cfg := Config{Window: 8, SnapshotEvery: 10}
	m := openAt(t, path, cfg)
	meta, err := m.Create(CreateParams{Name: "main.go", Text: "package main\n", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	events := subscribe(t, d, 1000)

	const writers, each = 8, 40
	// Even writers name their ops "<client>:<seq>" like realtime clients;
	// odd ones use opaque idempotency keys like REST clients.
	opID := func(w, k int) string {
		if w%2 == 0 {
			return fmt.Sprintf("w%d:%d", w, k)
		}
		return fmt.Sprintf("key-%d-%d", w, k)
	}
	type sent struct {
		e   Edit
		res Result
	}
	done := make([][]sent, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for k := 1; k <= each; k++ {
				_, head, _ := d.Text()
				base := head - uint64(rng.IntN(int(min(head, 40))+1))
				text, err := m.TextAt(meta.ID, base)
				if err != nil {
					t.Error(err)
					return
				}
				e := Edit{Base: base, Op: randomEdit(rng, text.String()), Author: fmt.Sprintf("w%d", w), OpID: opID(w, k)}
				res, err := d.Submit(e)
				if err != nil {
					t.Errorf("Submit(%s) against %d: %v", e.OpID, base, err)
					return
				}
				if res.Duplicate || res.Depth != int(res.Rev-1-base) {
					t.Errorf("Submit(%s) against %d = %+v", e.OpID, base, res)
				}
				done[w] = append(done[w], sent{e, res})
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	log := checkLog(t, m, meta.ID)
	if want := 1 + writers*each; len(log) != want {
		t.Fatalf("%d revisions, want %d", len(log), want)
	}
	deep := 0
	for w := range done {
		for _, s := range done[w] {
			r := log[s.res.Rev-1]
			if r.OpID != s.e.OpID || r.Author != s.e.Author || !r.Op.Equal(s.res.Op) {
				t.Errorf("revision %d is %s by %s %v; Submit(%s) said %v", r.Rev, r.OpID, r.Author, r.Op, s.e.OpID, s.res.Op)
			}
			if s.res.Depth > 16 {
				deep++
			}
		}
	}
	t.Logf("%d of %d edits were transformed over more revisions than the document keeps in memory", deep, writers*each)
	if deep == 0 {
		t.Error("no edit was transformed over history read from disk")
	}
	// Subscribers heard of every revision once, in order.
	for rev := uint64(2); rev <= uint64(len(log)); rev++ {
		if r := wait(t, events); r.Rev != rev || r.OpID != log[rev-1].OpID {
			t.Fatalf("event %d is revision %d (%s)", rev, r.Rev, r.OpID)
		}
	}

	resend := func(d *Document) {
		t.Helper()
		var wg sync.WaitGroup
		for w := range done {
			wg.Go(func() {
				for k, s := range done[w] {
					res, err := d.Submit(s.e)
					newest := k == len(done[w])-1
					switch {
					case w%2 == 0 && !newest:
						// A realtime client resends only its newest op.
						if !errors.Is(err, ErrStaleOp) {
							t.Errorf("resending %s: %+v, %v; want ErrStaleOp", s.e.OpID, res, err)
						}
					case err != nil || !res.Duplicate || res.Rev != s.res.Rev:
						t.Errorf("resending %s: %+v, %v; want a duplicate of revision %d", s.e.OpID, res, err, s.res.Rev)
					}
				}
			})
		}
		wg.Wait()
		if _, rev, _ := d.Text(); rev != uint64(len(log)) {
			t.Fatalf("resending applied something: head %d, was %d", rev, len(log))
		}
	}
	resend(d)
	d.Release()

	// Again from disk only.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(done[0][0].e); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	m = openAt(t, path, cfg)
	d, err = m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	resend(d)
	checkLog(t, m, meta.ID)
}

func TestSizeCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.db")
	m := openAt(t, path, Config{MaxBytes: 64})
	if _, err := m.Create(CreateParams{Name: "big.txt", Text: strings.Repeat("x", 65)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("creating 65 bytes: %v", err)
	}
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: strings.Repeat("x", 60)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 60 + two 2-byte code points: exactly the cap.
	if res, err := d.Submit(Edit{Base: 1, Op: insertAt(60, 60, "éé"), OpID: "c:1"}); err != nil || res.Rev != 2 {
		t.Fatalf("filling up to the cap: %+v, %v", res, err)
	}
	want := strings.Repeat("x", 60) + "éé"
	unchanged := func() {
		t.Helper()
		text, rev, _ := d.Text()
		if text.String() != want || rev != 2 {
			t.Fatalf("document changed: %q at %d", text.String(), rev)
		}
		if log, err := m.Revisions(meta.ID, 0, 10); err != nil || len(log) != 2 {
			t.Fatalf("log has %d revisions, %v", len(log), err)
		}
	}
	for _, e := range []Edit{
		{Base: 2, Op: insertAt(62, 62, "a"), OpID: "c:2"},
		{Base: 1, Op: insertAt(60, 0, "a"), OpID: "c:2"}, // stale base, transformed first
		{Base: 2, Op: *new(ot.Operation).Retain(61).Delete(1).Insert("😀")},
	} {
		if res, err := d.Submit(e); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Submit(%v) = %+v, %v; want ErrTooLarge", e.Op, res, err)
		}
		unchanged()
	}
	// A rejected op id was not recorded: sent again with an edit that
	// fits, it applies.
	res, err := d.Submit(Edit{Base: 2, Op: *new(ot.Operation).Retain(61).Delete(1).Insert("!"), OpID: "c:2"})
	if err != nil || res.Duplicate || res.Rev != 3 {
		t.Fatalf("Submit after rejections: %+v, %v", res, err)
	}
	d.Release()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// Lower the cap below the document's size: it may shrink, not grow.
	m = openAt(t, path, Config{MaxBytes: 10})
	d, err = m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if _, err := d.Submit(Edit{Base: 3, Op: insertAt(62, 0, "a")}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("growing an oversized document: %v", err)
	}
	if res, err := d.Submit(Edit{Base: 3, Op: *new(ot.Operation).Delete(1).Retain(61)}); err != nil || res.Rev != 4 {
		t.Errorf("shrinking an oversized document: %+v, %v", res, err)
	}
	checkLog(t, m, meta.ID)
}

func revNumbers(revs []Revision) []uint64 {
	out := make([]uint64, len(revs))
	for i, r := range revs {
		out[i] = r.Rev
	}
	return out
}

// TestJoinThenEveryRevisionOnce checks that a subscriber starts at the
// durable head and then hears of every later revision once, in order.
func TestJoinThenEveryRevisionOnce(t *testing.T) {
	m := openTest(t, Config{Window: 8})
	_, d := createOpen(t, m, CreateParams{Name: "r.txt", Text: "r"})
	for rev := uint64(1); rev <= 40; rev++ {
		if _, err := d.Submit(Edit{Base: rev, Op: insertAt(int(rev), int(rev), "x"), OpID: fmt.Sprintf("c:%d", rev)}); err != nil {
			t.Fatal(err)
		}
	}
	events := make(chan []Revision, 10)
	st, cancel, err := d.Join(func(e Event) { events <- e.Revisions })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if st.Rev != 41 || st.Text.String() != "r"+strings.Repeat("x", 40) {
		t.Fatalf("joined at %d with %q", st.Rev, st.Text.String())
	}
	for rev := uint64(41); rev < 44; rev++ {
		if _, err := d.Submit(Edit{Base: rev, Op: insertAt(int(rev), 0, "y")}); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	for len(got) < 3 {
		got = append(got, revNumbers(wait(t, events))...)
	}
	if fmt.Sprint(got) != "[42 43 44]" {
		t.Errorf("joined at 41, then got %v", got)
	}
}

// TestPurgeRemovesEverything purges a document with history, op ids,
// blame checkpoints, chat, presence and rotated links, and checks that no
// key or value in any bucket still names it, that its subscribers were
// told, and that its neighbour in the workspace is untouched. The journal
// is the exception: it tells what happened to the document, its deletion
// last, by the ids its readers know it by (links that no longer grant
// anything), until it forgets its entries (see journal.go).
func TestPurgeRemovesEverything(t *testing.T) {
	m := openTest(t, Config{SnapshotEvery: 4})
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	gone, err := m.Create(CreateParams{Name: "src/gone.go", Text: "package gone\n", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := m.Create(CreateParams{Name: "src/kept.go", Text: "package kept\n", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		text, rev, _ := d.Text()
		opID := fmt.Sprintf("c:%d", i+1)
		if i%2 == 1 {
			opID = fmt.Sprintf("idem-%d", i)
		}
		if _, err := d.Submit(Edit{Base: rev, Op: randomEdit(rng, text.String()), Author: "ann", OpID: opID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Blame(gone.ID, 13); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AppendChat(gone.ID, ChatMessage{User: "u1", Name: "Ann", Text: "hi"}, 10); err != nil {
		t.Fatal(err)
	}
	if err := m.PutPresence(gone.ID, map[string][]byte{"u1": []byte(`{"line":3}`)}); err != nil {
		t.Fatal(err)
	}
	oldEdit, oldView, newEdit, newView, err := m.RotateLinks("doc", gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	_, _, err = d.Join(func(e Event) {
		if e.Closed != nil {
			closed <- e.Closed
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// A document deleted first (in the trash, renamed before) is purged
	// from the trash as completely.
	trashed, err := m.Create(CreateParams{Name: "src/trashed.go", Text: "package trashed\n", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(trashed.ID, "src/trashed2.go", "", By{Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(trashed.ID, By{Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Purge(trashed.ID); err != nil {
		t.Fatal(err)
	}

	if err := m.Purge(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, closed); !errors.Is(err, ErrDeleted) || !errors.Is(err, ErrClosed) {
		t.Errorf("subscriber was told %v", err)
	}
	names := map[string]string{"id": gone.ID, "old edit link": oldEdit, "old view link": oldView, "edit link": newEdit, "view link": newView,
		"trashed id": trashed.ID, "trashed view link": trashed.ViewLink}
	err = viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		return tx.ForEach(func(name []byte, b *kv.Bucket) error {
			if bytes.HasPrefix(name, bucketJournal) {
				return nil
			}
			return walkBucket(string(name), b, func(where string, k, v []byte) {
				for what, s := range names {
					if strings.Contains(string(k), s) || strings.Contains(string(v), s) {
						t.Errorf("%s: %q -> %q still holds the deleted document's %s", where, k, v, what)
					}
				}
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := m.Open(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after Purge: %v", err)
	}
	if _, err := m.Revisions(gone.ID, 0, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revisions after Purge: %v", err)
	}
	if _, err := d.Submit(Edit{Base: 13, Op: *new(ot.Operation).Retain(1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit to a deleted document: %v", err)
	}
	if err := m.Purge(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Purge: %v", err)
	}
	if l, err := m.ResolveLink(newView); !errors.Is(err, ErrNotFound) {
		t.Errorf("view link of a deleted document resolves to %+v, %v", l, err)
	}
	// The neighbour and the workspace stay; the name is free again.
	if _, text, err := m.Head(kept.ID); err != nil || text.String() != "package kept\n" {
		t.Errorf("the other document: %q, %v", text.String(), err)
	}
	if l, err := m.ResolveLink(kept.ViewLink); err != nil || l.Target != kept.ID {
		t.Errorf("the other document's link: %+v, %v", l, err)
	}
	if list, err := m.Store().List(ws.ID, "", "", 10); err != nil || len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("workspace lists %+v, %v", list, err)
	}
	if list, err := m.Store().Deleted(ws.ID, 0, 10); err != nil || len(list) != 0 {
		t.Errorf("the workspace's trash lists %+v, %v", list, err)
	}
	if _, err := m.Create(CreateParams{Name: "src/gone.go", Workspace: ws.ID}); err != nil {
		t.Errorf("reusing the deleted document's name: %v", err)
	}
}

// walkBucket calls fn for every key and value in b and its nested buckets
// (a nested bucket is reported as its key with a nil value).
func walkBucket(where string, b *kv.Bucket, fn func(where string, k, v []byte)) error {
	return b.ForEach(func(k, v []byte) error {
		fn(where, k, v)
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				return walkBucket(where+"/"+string(k), sub, fn)
			}
		}
		return nil
	})
}

func TestUpdateNotifies(t *testing.T) {
	m := openTest(t, Config{})
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := m.Create(CreateParams{Name: "a/x.go", Text: "package x\n", Workspace: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(CreateParams{Name: "a/y.go", Workspace: ws.ID}); err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	events := make(chan Event, 10)
	_, cancel, err := d.Join(func(e Event) { events <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	got, err := m.Update(meta.ID, "b/z.py", "", By{})
	if err != nil || got.Name != "b/z.py" || got.Language != "python" {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	if e := wait(t, events); e.Meta == nil || e.Meta.Name != "b/z.py" || e.Meta.Language != "python" || e.Meta.Rev != 1 {
		t.Fatalf("event after rename: %+v", e)
	}
	// Renaming onto another document fails and tells no one.
	if _, err := m.Update(meta.ID, "a/y.go", "", By{}); !errors.Is(err, ErrConflict) {
		t.Errorf("rename onto a/y.go: %v", err)
	}
	if got, err := m.Update(meta.ID, "", "rust", By{}); err != nil || got.Name != "b/z.py" || got.Language != "rust" {
		t.Fatalf("language: %+v, %v", got, err)
	}
	if e := wait(t, events); e.Meta == nil || e.Meta.Name != "b/z.py" || e.Meta.Language != "rust" {
		t.Fatalf("event after the language change: %+v", e)
	}
	if _, _, live := d.Text(); live.Name != "b/z.py" || live.Language != "rust" {
		t.Errorf("live metadata: %+v", live)
	}
	if stored, err := m.Store().Meta(meta.ID); err != nil || stored.Name != "b/z.py" || stored.Language != "rust" || stored.Rev != 1 {
		t.Errorf("stored metadata: %+v, %v", stored, err)
	}
	list, err := m.Store().List(ws.ID, "", "", 10)
	if err != nil || len(list) != 2 || list[0].Name != "a/y.go" || list[1].Name != "b/z.py" {
		t.Errorf("workspace lists %+v, %v", list, err)
	}
	if _, err := m.Create(CreateParams{Name: "a/x.go", Workspace: ws.ID}); err != nil {
		t.Errorf("the old name is not free: %v", err)
	}
	select {
	case e := <-events:
		t.Errorf("unexpected event %+v", e)
	default:
	}
}

// TestSameOpIDAtOnce sends one edit from many goroutines at once, as a
// client that resends before its first attempt was acknowledged: it is
// applied once, and every attempt gets its revision.
func TestSameOpIDAtOnce(t *testing.T) {
	m := openTest(t, Config{})
	for _, opID := range []string{"client:1", "idempotency-key"} {
		meta, err := m.Create(CreateParams{Name: opID + ".txt", Text: "abc"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.Open(meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		results := make(chan Result, 16)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				<-start
				res, err := d.Submit(Edit{Base: 1, Op: insertAt(3, 0, "x"), OpID: opID})
				if err != nil {
					t.Error(err)
				}
				results <- res
			})
		}
		close(start)
		wg.Wait()
		close(results)
		applied := 0
		for res := range results {
			if !res.Duplicate {
				applied++
			}
			if res.Rev != 2 {
				t.Errorf("%s: %+v", opID, res)
			}
		}
		if text, rev, _ := d.Text(); applied != 1 || text.String() != "xabc" || rev != 2 {
			t.Errorf("%s: applied %d times: %q at %d", opID, applied, text.String(), rev)
		}
		d.Release()
	}
}

// TestForeignWriter appends a revision behind a live document's back
// (through Manager.Do, as another package's write would): the document's
// next commit fails with ErrConflict, the document is closed, and the next
// Open reloads it from disk, where the rejected edit can be sent again.
// The revision log must not take that commit: after a foreign write the
// committer no longer knows the log's head.
func TestForeignWriter(t *testing.T) {
	m := openTest(t, Config{})
	meta, err := m.Create(CreateParams{Name: "f.txt", Text: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	if _, _, err := d.Join(func(e Event) {
		if e.Closed != nil {
			closed <- e.Closed
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(Edit{Base: 1, Op: insertAt(3, 3, "1"), OpID: "c:1"}); err != nil {
		t.Fatal(err)
	}
	// A second edit first, so that the log knows the document's head.
	if _, err := d.Submit(Edit{Base: 2, Op: insertAt(4, 3, "1"), OpID: "c:2"}); err != nil {
		t.Fatal(err)
	}
	err = m.Do(func(tx *kv.Tx) error {
		r := Revision{Rev: 4, Op: insertAt(5, 0, "Z"), Author: "elsewhere", Time: time.Now()}
		return m.store.appendRevision(tx, meta.ID, r, rope.New("Zabc11"))
	})
	if err != nil {
		t.Fatal(err)
	}
	again := Edit{Base: 3, Op: insertAt(5, 5, "2"), OpID: "c:3"}
	if res, err := d.Submit(again); !errors.Is(err, ErrConflict) {
		t.Fatalf("Submit over a foreign revision: %+v, %v", res, err)
	}
	if err := wait(t, closed); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrConflict) {
		t.Errorf("subscriber told %v", err)
	}
	if _, err := d.Submit(again); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit to the closed document: %v", err)
	}
	d.Release()

	d, err = m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if text, rev, _ := d.Text(); text.String() != "Zabc11" || rev != 4 {
		t.Fatalf("reloaded: %q at %d", text.String(), rev)
	}
	if res, err := d.Submit(again); err != nil || res.Duplicate || res.Rev != 5 || res.Depth != 1 {
		t.Fatalf("sending the rejected edit again: %+v, %v", res, err)
	}
	if text, _, _ := d.Text(); text.String() != "Zabc112" {
		t.Errorf("text %q", text.String())
	}
	checkLog(t, m, meta.ID)
}

// TestPublishedOpJSON: a published revision carries its operation's JSON
// from the revision log's record, the same bytes AppendJSON writes.
func TestPublishedOpJSON(t *testing.T) {
	m := openTest(t, Config{})
	_, d := createOpen(t, m, CreateParams{Name: "j.txt", Text: "abc"})
	events := make(chan []Revision, 4)
	_, cancel, err := d.Join(func(e Event) { events <- e.Revisions })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	op := *new(ot.Operation).Retain(1).Insert("\"q\"\n").Delete(1).Retain(1)
	if _, err := d.Submit(Edit{Base: 1, Op: op, OpID: "c:1"}); err != nil {
		t.Fatal(err)
	}
	revs := <-events
	if len(revs) != 1 || revs[0].opJSON == nil {
		t.Fatalf("published %+v: want one revision with its JSON", revs)
	}
	if got, want := string(revs[0].OpJSON()), string(op.AppendJSON(nil)); got != want {
		t.Errorf("OpJSON = %s, want %s", got, want)
	}
	if got := string(Revision{Op: op}.OpJSON()); got != string(op.AppendJSON(nil)) {
		t.Errorf("OpJSON of a revision read back = %s", got)
	}
}
