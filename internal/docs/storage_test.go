//go:build linux

package docs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// diskFull puts the files under f out of space, as a full disk does:
// every write to them fails with ENOSPC (syncs and resizes fail too),
// while reads through bbolt's memory map go on. Each file's descriptor is
// pointed at /dev/full, and back at the file when space returns. bbolt's
// Options.OpenFile hands bbolt an *os.File, which cannot be wrapped; this
// is the seam that fails its writes with the real error.
type diskFull struct {
	t     *testing.T
	files []*os.File
	saved []int
}

func fillDisk(t *testing.T, files ...*os.File) *diskFull {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	d := &diskFull{t: t, files: files}
	for _, f := range files {
		saved, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		d.saved = append(d.saved, saved)
		if err := syscall.Dup3(int(full.Fd()), int(f.Fd()), syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(d.free)
	return d
}

// free gives the files their space back.
func (d *diskFull) free() {
	for i, f := range d.files {
		if d.saved[i] < 0 {
			continue
		}
		if err := syscall.Dup3(d.saved[i], int(f.Fd()), syscall.O_CLOEXEC); err != nil {
			d.t.Fatal(err)
		}
		syscall.Close(d.saved[i])
		d.saved[i] = -1
	}
}

// TestDiskFull: while the disk is full, edits (and creates) fail with
// ErrStorage and change nothing, the document stays open for its
// subscribers, every read is served with every acknowledged revision, the
// failure is logged once; once space returns, edits succeed again by
// themselves, and reopening the files finds every acknowledged edit once
// and no refused one.
func TestDiskFull(t *testing.T) {
	for _, logRoom := range []bool{false, true} {
		name := "log full too"
		if logRoom {
			name = "log has room"
		}
		t.Run(name, func(t *testing.T) { testDiskFull(t, logRoom) })
	}
}

func testDiskFull(t *testing.T, logRoom bool) {
	path := filepath.Join(t.TempDir(), "test.db")
	var logs logBuffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := noCheckpoints
	cfg.Logger = logs.logger()
	cfg.Now = func() time.Time { return now }
	m := openAt(t, path, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	closed := make(chan error, 1)
	if _, cancel, err := d.Join(func(e Event) {
		if e.Closed != nil {
			closed <- e.Closed
		}
	}); err != nil {
		t.Fatal(err)
	} else {
		defer cancel()
	}
	typeInto(t, d, "c", 5) // acknowledged: revisions 2 to 6, 3 to 6 pending in the log
	acked := "abc" + "abcde"
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}

	files := []*os.File{m.store.file}
	if !logRoom {
		files = append(files, m.store.wal.f)
	}
	full := fillDisk(t, files...)
	if err := m.store.checkpoint(); !errors.Is(err, ErrStorage) {
		t.Fatalf("a checkpoint on a full disk: %v", err)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="storage: the database file refuses writes`) || !strings.Contains(logs.String(), `write="checkpoint into the database file"`) {
		t.Errorf("the failed checkpoint was not logged:\n%s", logs.String())
	}
	if st := m.Storage(); !st.Failing || !errors.Is(st.Err, ErrStorage) || st.Failures == 0 {
		t.Errorf("Storage() = %+v while the disk is full", st)
	}

	edit := func(opID string) (Result, error) {
		text, rev, _ := d.Text()
		return d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), text.Len(), "X"), OpID: opID})
	}
	var refused []string
	lastOp, lastRev := "c:5", uint64(6)
	logFull := full
	if logRoom {
		// The log takes edits while bbolt refuses its checkpoints.
		if _, err := edit("c:6"); err != nil {
			t.Fatalf("an edit with room in the log: %v", err)
		}
		acked += "X"
		lastOp, lastRev = "c:6", 7
		// Once the log is out of room too, edits are refused.
		logFull = fillDisk(t, m.store.wal.f)
	}

	for i := range 3 {
		opID := fmt.Sprintf("r:%d", i+1)
		if res, err := edit(opID); !errors.Is(err, ErrStorage) {
			t.Fatalf("an edit on a full disk: %+v, %v; want ErrStorage", res, err)
		}
		refused = append(refused, opID)
	}
	if _, err := m.Create(CreateParams{Name: "b.txt", Text: "b"}); !errors.Is(err, ErrStorage) {
		t.Errorf("Create on a full disk: %v; want ErrStorage", err)
	}
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Errorf("the failed log write was not logged with its cause:\n%s", logs.String())
	}
	if text, _, _ := d.Text(); text.String() != acked {
		t.Errorf("after refused edits the document reads %q, want %q", text.String(), acked)
	}
	select {
	case err := <-closed:
		t.Fatalf("the document was closed: %v", err)
	default:
	}
	// One error line per part that turned failing (the database file, the
	// log), not one per failure.
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2:\n%s", n, logs.String())
	}

	// Reads are served, with every acknowledged revision.
	headRev := uint64(len([]rune(acked)) - 2)
	for _, read := range []struct {
		name string
		fn   func() error
	}{
		{"Meta", func() error {
			got, err := m.Store().Meta(meta.ID)
			if err == nil && got.Rev != headRev {
				err = fmt.Errorf("rev %d, want %d", got.Rev, headRev)
			}
			return err
		}},
		{"Revisions", func() error {
			revs, err := m.Store().Revisions(meta.ID, 0, 100)
			if err == nil && uint64(len(revs)) != headRev {
				err = fmt.Errorf("%d revisions, want %d", len(revs), headRev)
			}
			return err
		}},
		{"TextAt", func() error {
			text, err := m.Store().TextAt(meta.ID, headRev)
			if err == nil && text.String() != acked {
				err = fmt.Errorf("%q, want %q", text.String(), acked)
			}
			return err
		}},
		{"List", func() error {
			list, err := m.Store().List(meta.Workspace, "", "", 10)
			if err == nil && (len(list) != 1 || list[0].Rev != headRev) {
				err = fmt.Errorf("%+v", list)
			}
			return err
		}},
		{"ListAll", func() error {
			list, err := m.Store().ListAll("", 10)
			if err == nil && (len(list) != 1 || list[0].Rev != headRev) {
				err = fmt.Errorf("%+v", list)
			}
			return err
		}},
		{"Head", func() error {
			_, text, err := m.Head(meta.ID)
			if err == nil && text.String() != acked {
				err = fmt.Errorf("%q, want %q", text.String(), acked)
			}
			return err
		}},
	} {
		if err := read.fn(); err != nil {
			t.Errorf("%s on a full disk: %v", read.name, err)
		}
	}
	// A document loaded while the disk is full has every acknowledged
	// revision, and knows their op ids.
	d.Release()
	m.mu.Lock()
	delete(m.live, meta.ID)
	m.mu.Unlock()
	if d, err := m.Open(meta.ID); err != nil {
		t.Errorf("Open on a full disk: %v", err)
	} else {
		if text, _, _ := d.Text(); text.String() != acked {
			t.Errorf("loaded on a full disk: %q, want %q", text.String(), acked)
		}
		if res, err := d.Submit(Edit{OpID: lastOp, Op: insertAt(0, 0, "")}); err != nil || !res.Duplicate || res.Rev != lastRev {
			t.Errorf("resending %s on a full disk: %+v, %v; want a duplicate of %d", lastOp, res, err, lastRev)
		}
		d.Release()
	}
	d, err := m.Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Release)

	// Space returns: the next checkpoint (the Manager's tick) succeeds,
	// and so do edits, among them the refused ones sent again.
	full.free()
	logFull.free()
	if err := m.store.checkpoint(); err != nil {
		t.Fatalf("a checkpoint once space returned: %v", err)
	}

	for _, opID := range refused {
		if res, err := edit(opID); err != nil || res.Duplicate {
			t.Fatalf("resending %s once space returned: %+v, %v", opID, res, err)
		}
		acked += "X"
	}
	typeInto(t, d, "c2", 3)
	acked += "abc"
	if pendingRevs(m) == 0 {
		t.Errorf("the revision log is not in use again")
	}
	if _, err := m.Create(CreateParams{Name: "b.txt", Text: "b"}); err != nil {
		t.Errorf("Create once space returned: %v", err)
	}
	if st := m.Storage(); st.Failing {
		t.Errorf("Storage() = %+v once space returned", st)
	}
	if n := strings.Count(logs.String(), "writes succeed again"); n != 2 {
		t.Errorf("%d recoveries logged, want 2 (the database file, the log):\n%s", n, logs.String())
	}

	// Reopen a crash's copy: every acknowledged edit, once each.
	m2 := openAt(t, crashCopy(t, m, path), Config{Logger: cfg.Logger})
	log := checkLog(t, m2, meta.ID)
	text, err := m2.Store().TextAt(meta.ID, uint64(len(log)))
	if err != nil || text.String() != acked {
		t.Fatalf("after reopening: %q, %v; want %q", text.String(), err, acked)
	}
	seen := map[string]bool{}
	for _, r := range log {
		if r.OpID != "" && seen[r.OpID] {
			t.Errorf("op %s applied twice", r.OpID)
		}
		seen[r.OpID] = true
	}
}

// TestDiskFullPipeline: edits queued behind one the disk refuses, from
// many writers at once, fail with ErrStorage too and none is applied; the
// document stays open, and once space returns every writer's edits
// succeed and a reopened copy has each once.
func TestDiskFullPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	cfg := noCheckpoints
	cfg.Logger = discard()
	m := openAt(t, path, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 3)
	full := fillDisk(t, m.store.file, m.store.wal.f)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*5)
	for w := range writers {
		wg.Go(func() {
			for i := range 5 {
				_, rev, _ := d.Text()
				_, err := d.Submit(Edit{Base: rev, Op: insertAt(int(rev)+2, 0, "w"), OpID: fmt.Sprintf("w%d:%d", w, i+1)})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrStorage) {
			t.Fatalf("an edit on a full disk: %v; want ErrStorage", err)
		}
	}
	if text, rev, _ := d.Text(); text.String() != "abcabc" || rev != 4 {
		t.Fatalf("after refused edits: %q at %d, want \"abcabc\" at 4", text.String(), rev)
	}
	full.free()
	if err := m.store.checkpoint(); err != nil {
		t.Fatal(err)
	}
	want := "abcabc"
	for w := range writers {
		for i := range 5 {
			text, rev, _ := d.Text()
			if _, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), 0, "w"), OpID: fmt.Sprintf("w%d:%d", w, i+1)}); err != nil {
				t.Fatalf("once space returned: %v", err)
			}
			want = "w" + want
		}
	}
	m2 := openAt(t, crashCopy(t, m, path), Config{Logger: discard()})
	log := checkLog(t, m2, meta.ID)
	if text, err := m2.Store().TextAt(meta.ID, uint64(len(log))); err != nil || text.String() != want || len(log) != 4+writers*5 {
		t.Fatalf("after reopening: %d revisions, %q, %v; want %d, %q", len(log), text.String(), err, 4+writers*5, want)
	}
}

// TestDiskFullHistoryReads: the reads that go past what a live document
// holds in memory — blame, Head of an unloaded document, op id lookups,
// and the exactly-once checks of a keyed Put and of a plain op id — are
// served with the revisions only the revision log holds, both before the
// full disk is noticed (without trying the write that would notice it)
// and while checkpoints fail. A retry of a keyed Put or of an op whose
// revision left memory is answered as a replay, never applied again,
// though the log has room for it. Once space returns, the answers stand.
func TestDiskFullHistoryReads(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	var logs logBuffer
	cfg := noCheckpoints
	cfg.Window = 2
	cfg.Logger = logs.logger()
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	m := openTest(t, cfg)
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: "start\n"})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.ID
	d, err := m.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	// Revision n adds the line "line n" (the first, "start") by authors[n].
	authors := []string{1: ""}
	want := "start\n"
	line := func(author, opID string) Result {
		t.Helper()
		text, rev, _ := d.Text()
		add := fmt.Sprintf("line %d\n", rev+1)
		res, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), text.Len(), add), Author: author, OpID: opID})
		if err != nil {
			t.Fatal(err)
		}
		authors = append(authors, author)
		want += add
		return res
	}
	for i := range 5 {
		line("ann", fmt.Sprintf("c:%d", i+1)) // 2 to 6; the first goes to bbolt
	}
	plain := line("bob", "plain-1")
	k := Key{"link", "retry-1"}
	keyedText := want + "line 8\n"
	keyed := putOK(t, m, id, keyedText, k, nil)
	authors, want = append(authors, "api"), keyedText
	for i := range 6 {
		line("cat", fmt.Sprintf("c2:%d", i+1)) // 9 to 14
	}
	const head = 14
	if plain.Rev != 7 || keyed.Rev != 8 || len(authors) != head+1 {
		t.Fatalf("revisions %d and %d, %d in all", plain.Rev, keyed.Rev, len(authors)-1)
	}
	if _, ok := d.Revisions(plain.Rev-1, keyed.Rev); ok {
		t.Fatal("the keyed and plain revisions are still in memory")
	}
	d.Release()
	unload := func() {
		clock.Add(int64(time.Hour))
		m.Sweep()
		if m.loaded(id) != nil {
			t.Fatal("the document was not unloaded")
		}
	}
	unload()
	if pendingRevs(m) != head-2 {
		t.Errorf("%d revisions pending in the log, want %d: an op id lookup checkpointed", pendingRevs(m), head-2)
	}

	reads := []struct {
		name string
		fn   func() error
	}{
		{"Blame", func() error {
			lines, err := m.Blame(id, head)
			if err != nil {
				return err
			}
			if len(lines) < head {
				return fmt.Errorf("%d lines, want %d", len(lines), head+1)
			}
			for i, l := range lines[:head] {
				if l.Rev != uint64(i+1) || l.Author != authors[i+1] {
					return fmt.Errorf("line %d: %+v, want revision %d by %q", i+1, l, i+1, authors[i+1])
				}
			}
			return nil
		}},
		{"Head", func() error {
			unload()
			got, text, err := m.Head(id)
			if err == nil && (got.Rev != head || text.String() != want) {
				err = fmt.Errorf("%q at %d, want %q at %d", text.String(), got.Rev, want, head)
			}
			return err
		}},
		{"LookupOpID", func() error {
			for opID, rev := range map[string]uint64{"c:5": 6, "c:3": 4, "plain-1": 7, k.opID(putFingerprint(keyedText, nil)): 8, "c2:6": 14, "c2:1": 9} {
				got, ok, err := m.Store().LookupOpID(id, opID)
				if err != nil || !ok || got != rev {
					return fmt.Errorf("%s: %d, %v, %v; want %d", opID, got, ok, err, rev)
				}
			}
			return nil
		}},
		{"keyed Put retry", func() error {
			defer unload()
			res, err := m.Put(id, keyedText, "api", k, nil)
			if err != nil || !res.Duplicate || res.Rev != keyed.Rev || !res.Op.Equal(keyed.Op) {
				return fmt.Errorf("%+v, %v; want a replay of revision %d, %v", res, err, keyed.Rev, keyed.Op)
			}
			if _, err := m.Put(id, "other\n", "api", k, nil); !errors.Is(err, ErrKeyReused) {
				return fmt.Errorf("the key for another request: %v, want ErrKeyReused", err)
			}
			return nil
		}},
		{"op id retry", func() error {
			defer unload()
			d, err := m.Open(id)
			if err != nil {
				return err
			}
			defer d.Release()
			text, rev, _ := d.Text()
			res, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), text.Len(), "again\n"), OpID: "plain-1"})
			if err != nil || !res.Duplicate || res.Rev != plain.Rev {
				return fmt.Errorf("%+v, %v; want a duplicate of revision %d", res, err, plain.Rev)
			}
			return nil
		}},
	}
	run := func(phase string, unnoticed bool) {
		t.Helper()
		for _, read := range reads {
			if unnoticed {
				m.store.health.ok(partDB) // the disk filled since the last write
			}
			failures := m.Storage().Failures
			if err := read.fn(); err != nil {
				t.Errorf("%s, %s: %v", phase, read.name, err)
			}
			if n := m.Storage().Failures - failures; unnoticed && n != 0 {
				t.Errorf("%s, %s tried %d writes", phase, read.name, n)
			}
		}
		if got, err := m.Store().Meta(id); err != nil || got.Rev != head {
			t.Errorf("%s: the document is at %d, %v; want %d (nothing applied twice)", phase, got.Rev, err, head)
		}
	}

	full := fillDisk(t, m.store.file)
	run("a full disk not noticed yet", true)
	if err := m.store.checkpoint(); !errors.Is(err, ErrStorage) {
		t.Fatalf("a checkpoint on a full disk: %v", err)
	}
	run("while checkpoints fail", false)
	full.free()
	if err := m.store.checkpoint(); err != nil {
		t.Fatalf("a checkpoint once space returned: %v", err)
	}
	run("once space returned", false)
	if log := checkLog(t, m, id); len(log) != head {
		t.Errorf("%d revisions, want %d", len(log), head)
	}
}

// TestDiskFullOtherData: chat, presence, links, workspaces and settings
// are read from the database file as it is, without trying the write that
// would notice the full disk, and while it refuses writes; writing them
// fails with ErrStorage that wraps the disk's error and says what was not
// saved; once space returns, writes succeed again.
func TestDiskFullOtherData(t *testing.T) {
	var logs logBuffer
	cfg := noCheckpoints
	cfg.Logger = logs.logger()
	m := openTest(t, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	id := meta.ID
	for _, text := range []string{"one", "two"} {
		if _, err := m.AppendChat(id, ChatMessage{User: "u", Name: "U", Text: text}, 10); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.PutPresence(id, map[string][]byte{"u": []byte(`{"line":1}`)}); err != nil {
		t.Fatal(err)
	}
	oldEdit, _, newEdit, _, err := m.RotateLinks("doc", id)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := m.CreateWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := m.Setting("secret", func() []byte { return []byte("s3cret") })
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Create(CreateParams{Name: "b.txt"})
	if err != nil {
		t.Fatal(err)
	}
	typeInto(t, d, "c", 4)
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}

	reads := []struct {
		name string
		fn   func() error
	}{
		{"Chat", func() error {
			msgs, err := m.Chat(id, 0, 10)
			if err == nil && (len(msgs) != 2 || msgs[0].Text != "one" || msgs[1].Text != "two" || msgs[1].Seq != 2) {
				err = fmt.Errorf("%+v, want one, two", msgs)
			}
			return err
		}},
		{"Presence", func() error {
			pres, err := m.Presence(id)
			if err == nil && (len(pres) != 1 || string(pres["u"]) != `{"line":1}`) {
				err = fmt.Errorf("%q", pres)
			}
			return err
		}},
		{"ResolveLink", func() error {
			if l, err := m.ResolveLink(newEdit); err != nil || l != (Link{Kind: "doc", Target: id, Mode: ModeEdit}) {
				return fmt.Errorf("the edit link: %+v, %v", l, err)
			}
			if l, err := m.ResolveLink(oldEdit); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("the rotated edit link: %+v, %v; want ErrNotFound", l, err)
			}
			if l, err := m.ResolveLink(ws.ViewLink); err != nil || l != (Link{Kind: "workspace", Target: ws.ID, Mode: ModeView}) {
				return fmt.Errorf("the workspace's view link: %+v, %v", l, err)
			}
			return nil
		}},
		{"GetWorkspace", func() error {
			got, err := m.GetWorkspace(ws.ID)
			if err == nil && got.ViewLink != ws.ViewLink {
				err = fmt.Errorf("%+v, want %+v", got, ws)
			}
			return err
		}},
		{"Setting", func() error {
			v, err := m.Setting("secret", func() []byte { return []byte("another") })
			if err == nil && !bytes.Equal(v, secret) {
				err = fmt.Errorf("%q, want %q", v, secret)
			}
			return err
		}},
	}
	run := func(phase string, unnoticed bool) {
		t.Helper()
		for _, read := range reads {
			if unnoticed {
				m.store.health.ok(partDB) // the disk filled since the last write
			}
			failures := m.Storage().Failures
			if err := read.fn(); err != nil {
				t.Errorf("%s, %s: %v", phase, read.name, err)
			}
			if n := m.Storage().Failures - failures; unnoticed && n != 0 {
				t.Errorf("%s, %s tried %d writes", phase, read.name, n)
			}
		}
	}

	full := fillDisk(t, m.store.file)
	run("a full disk not noticed yet", true)
	writes := []struct {
		name, says string
		fn         func() error
	}{
		{"AppendChat", "the chat message", func() error {
			_, err := m.AppendChat(id, ChatMessage{User: "u", Name: "U", Text: "three"}, 10)
			return err
		}},
		{"PutPresence", "the presence", func() error {
			return m.PutPresence(id, map[string][]byte{"u": []byte(`{"line":2}`)})
		}},
		{"RotateLinks", "the new links", func() error {
			_, _, _, _, err := m.RotateLinks("doc", id)
			return err
		}},
		{"Setting", "the setting", func() error {
			_, err := m.Setting("another", func() []byte { return []byte("x") })
			return err
		}},
		{"CreateWorkspace", "the new workspace", func() error {
			_, err := m.CreateWorkspace()
			return err
		}},
		{"Update", "the new name or language", func() error {
			_, err := m.Update(id, "renamed.txt", "", By{})
			return err
		}},
		{"Create", "the new document", func() error {
			_, err := m.Create(CreateParams{Name: "c.txt", Text: "c"})
			return err
		}},
		{"Delete", "the deletion", func() error {
			return m.Delete(other.ID, By{})
		}},
		{"Purge", "the purge", func() error {
			return m.Purge(other.ID)
		}},
	}
	for _, w := range writes {
		err := w.fn()
		cause := diskError(err)
		if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), w.says+" could not be saved") || cause == nil || !strings.HasSuffix(err.Error(), ": "+cause.Error()) {
			t.Errorf("%s on a full disk: %v; want ErrStorage, saying %q could not be saved, and the disk's error", w.name, err, w.says)
		}
	}
	run("while writes fail", false)

	full.free()
	if err := m.store.checkpoint(); err != nil {
		t.Fatalf("a checkpoint once space returned: %v", err)
	}
	for _, w := range writes {
		if err := w.fn(); err != nil {
			t.Errorf("%s once space returned: %v", w.name, err)
		}
	}
	if msgs, err := m.Chat(id, 2, 10); err != nil || len(msgs) != 1 || msgs[0].Text != "three" || msgs[0].Seq != 3 {
		t.Errorf("the chat once space returned: %+v, %v", msgs, err)
	}
}

// diskError returns the error err wraps that is not this package's: the
// disk's (nil if there is none).
func diskError(err error) error {
	switch u := err.(type) {
	case nil:
		return nil
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if d := diskError(e); d != nil {
				return d
			}
		}
		return nil
	}
	if strings.HasPrefix(err.Error(), "docs: ") {
		return diskError(errors.Unwrap(err))
	}
	return err
}
