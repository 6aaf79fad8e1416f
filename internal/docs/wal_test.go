package docs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// crashCopy copies m's database and revision log as a crash would leave
// them (the process gone, the files as written) and returns the copy's
// path. It holds off bbolt writes while it copies.
func crashCopy(t *testing.T, m *Manager, path string) string {
	t.Helper()
	m.store.ckMu.Lock()
	defer m.store.ckMu.Unlock()
	dst := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", ".wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// noCheckpoints keeps revisions in the log for the length of a test, and
// snapshots often (every 100 bytes of log), so that replaying the log
// writes some. Snapshots by bytes, not by revisions: a snapshot every
// SnapshotEvery revisions also starts the blame indexer, whose write would
// checkpoint.
var noCheckpoints = Config{CheckpointEvery: time.Hour, SnapshotBytes: 100}

// typeInto submits n one-character inserts to d, each acknowledged before
// the next, with op ids client:1..n.
func typeInto(t *testing.T, d *Document, client string, n int) {
	t.Helper()
	for i := range n {
		text, rev, _ := d.Text()
		op := insertAt(text.Len(), text.Len(), string(rune('a'+i%26)))
		if _, err := d.Submit(Edit{Base: rev, Op: op, OpID: fmt.Sprintf("%s:%d", client, i+1)}); err != nil {
			t.Fatal(err)
		}
	}
}

func pendingRevs(m *Manager) int {
	m.store.pmu.Lock()
	defer m.store.pmu.Unlock()
	n := 0
	for _, batch := range m.store.pending {
		n += len(batch)
	}
	return n
}

// TestLogRecovers: revisions acknowledged while only in the log are in
// bbolt after a crash, once each, with their op ids, snapshots and text;
// those of a document purged meanwhile are skipped.
func TestLogRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	m := openAt(t, path, noCheckpoints)
	metaA, a := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	metaB, b := createOpen(t, m, CreateParams{Name: "b.txt", Text: "xyz"})
	typeInto(t, a, "ca", 30)
	typeInto(t, b, "cb", 5)
	if err := m.Purge(metaB.ID); err != nil {
		t.Fatal(err)
	}
	typeInto(t, a, "ca2", 10)
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}
	gen := m.store.wal.gen
	m2 := openAt(t, crashCopy(t, m, path), Config{})
	log := checkLog(t, m2, metaA.ID)
	if len(log) != 41 {
		t.Fatalf("after recovery: %d revisions, want 41", len(log))
	}
	for _, r := range log[1:] {
		if rev, dup, err := m2.Store().LookupOpID(metaA.ID, r.OpID); err != nil || !dup || rev != r.Rev {
			t.Errorf("op id %s: %d %v %v; want revision %d", r.OpID, rev, dup, err, r.Rev)
		}
	}
	snaps := 0
	viewDB(m2.Store().DB(), func(tx *kv.Tx) error {
		snaps = tx.Bucket(bucketDoc).Bucket([]byte(metaA.ID)).Bucket(subSnap).Stats().KeyN
		return nil
	})
	if snaps < 3 {
		t.Errorf("%d snapshots after replaying 40 revisions with a snapshot every 100 bytes of log", snaps)
	}
	if _, err := m2.Store().Meta(metaB.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the deleted document after recovery: %v", err)
	}
	// The recovered file starts a new generation: reopening replays nothing.
	w := m2.store.wal
	if w.gen != gen+1 || w.off != walHeaderLen {
		t.Errorf("after recovery the log is at generation %d, offset %d", w.gen, w.off)
	}
}

// TestCheckpointKeepsNewestMarks: a checkpoint that copies many revisions
// of a document at once leaves each client's newest op id as its mark, and
// indexes every other op id.
func TestCheckpointKeepsNewestMarks(t *testing.T) {
	m := openTest(t, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	// The first revision commits to bbolt (the log takes a document's
	// revisions once it knows its head); a plain op id is looked up on disk,
	// which checkpoints, so it goes first.
	ids := []string{"plain", "a:1", "b:1", "a:2", "b:2", "a:3", "c:7", "b:3", "a:4"}
	want := map[string]clientMark{}
	for _, id := range ids {
		text, rev, _ := d.Text()
		res, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), 0, "x"), OpID: id})
		if err != nil {
			t.Fatal(err)
		}
		if client, seq, ok := parseOpID(id); ok {
			want[client] = clientMark{seq: seq, rev: res.Rev}
		} else {
			want[id] = clientMark{rev: res.Rev}
		}
	}
	if n := pendingRevs(m); n != len(ids)-1 {
		t.Fatalf("%d revisions pending, want %d", n, len(ids)-1)
	}
	if err := m.store.checkpoint(); err != nil {
		t.Fatal(err)
	}
	for key, w := range want {
		if w.seq == 0 {
			rev, dup, err := m.Store().LookupOpID(meta.ID, key)
			if err != nil || !dup || rev != w.rev {
				t.Errorf("op id %s: %d %v %v; want revision %d", key, rev, dup, err, w.rev)
			}
			continue
		}
		got, ok, err := m.store.clientMark(meta.ID, key)
		if err != nil || !ok || got != w {
			t.Errorf("client %s: mark %+v %v %v; want %+v", key, got, ok, err, w)
		}
	}
	got, err := m.Store().Meta(meta.ID)
	if err != nil || got.Rev != uint64(len(ids)+1) {
		t.Errorf("Meta: rev %d, %v; want %d", got.Rev, err, len(ids)+1)
	}
	checkLog(t, m, meta.ID)
}

// TestLogReadsSeeEveryRevision: a read of the store while revisions are
// only in the log sees them, without a checkpoint.
func TestLogReadsSeeEveryRevision(t *testing.T) {
	m := openTest(t, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 12)
	pending := pendingRevs(m)
	if pending == 0 {
		t.Fatal("no revision is pending in the log")
	}
	got, err := m.Store().Meta(meta.ID)
	if err != nil || got.Rev != 13 {
		t.Fatalf("Meta: rev %d, %v; want 13", got.Rev, err)
	}
	if n := pendingRevs(m); n != pending {
		t.Errorf("%d revisions pending after a read, want %d: a read does not checkpoint", n, pending)
	}
	revs, err := m.Store().Revisions(meta.ID, 0, 100)
	if err != nil || len(revs) != 13 || revs[12].Rev != 13 {
		t.Fatalf("Revisions: %d, %v; want 13", len(revs), err)
	}
	text, err := m.Store().TextAt(meta.ID, 13)
	if want, _, _ := d.Text(); err != nil || text.String() != want.String() {
		t.Errorf("TextAt(13) = %q, %v; want %q", text.String(), err, want.String())
	}
	checkLog(t, m, meta.ID)
}

// TestLogTornTail: a record cut short or damaged (a crash in the middle
// of its write, before it was acknowledged) ends the log; everything
// before it is recovered.
func TestLogTornTail(t *testing.T) {
	for _, damage := range []string{"cut", "flip"} {
		t.Run(damage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.db")
			// No snapshot, so no blame indexer writing (and checkpointing).
			m := openAt(t, path, Config{CheckpointEvery: time.Hour})
			meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
			typeInto(t, d, "c", 10)
			end := m.store.wal.off
			typeInto(t, d, "c2", 1) // one record: the one damaged
			last := m.store.wal.off
			if pendingRevs(m) == 0 {
				t.Fatal("no revision is pending in the log")
			}
			cp := crashCopy(t, m, path)
			f, err := os.OpenFile(cp+".wal", os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "cut":
				err = f.Truncate(end + (last-end)/2)
			case "flip":
				b := []byte{0}
				f.ReadAt(b, last-1)
				b[0] ^= 1
				_, err = f.WriteAt(b, last-1)
			}
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			m2 := openAt(t, cp, Config{})
			if log := checkLog(t, m2, meta.ID); len(log) != 11 {
				t.Fatalf("%d revisions recovered, want 11", len(log))
			}
		})
	}
}

// TestLogStartsOver: a small log starts over many times (checkpointing
// all of it first); stale records of older generations are never
// replayed, and a crash at any point loses nothing.
func TestLogStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	cfg := noCheckpoints
	cfg.LogBytes = 2 << 10
	m := openAt(t, path, cfg)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 200)
	if m.store.wal.gen < 5 {
		t.Fatalf("the log started over %d times; want several", m.store.wal.gen-1)
	}
	_, entries, err := openWAL(crashCopy(t, m, path) + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	// The current generation holds at least what is pending (a commit to
	// bbolt, such as the blame indexer's, checkpoints without starting
	// over) and none of the older generations' records.
	if n := len(entries); n < pendingRevs(m) || n > 60 || entries[n-1].rev != 201 {
		t.Errorf("the log's current generation has %d revisions, the last %d; %d are pending", n, entries[n-1].rev, pendingRevs(m))
	}
	m2 := openAt(t, crashCopy(t, m, path), Config{})
	if log := checkLog(t, m2, meta.ID); len(log) != 201 {
		t.Fatalf("%d revisions recovered, want 201", len(log))
	}
}

// TestLogWritesAfterOtherWrites: a write that is not a revision commits
// to bbolt after every revision pending in the log, in queue order.
func TestLogWritesAfterOtherWrites(t *testing.T) {
	m := openTest(t, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 5)
	var head uint64
	err := m.Do(func(tx *kv.Tx) error {
		h, _ := readHead(tx.Bucket(bucketLog).Bucket([]byte(meta.ID)))
		head = h.rev
		return nil
	})
	if err != nil || head != 6 {
		t.Fatalf("a write after 6 revisions saw head %d, %v", head, err)
	}
	if _, err := m.AppendChat(meta.ID, ChatMessage{User: "u", Name: "U", Text: "hi"}, 10); err != nil {
		t.Fatal(err)
	}
	typeInto(t, d, "c2", 5)
	checkLog(t, m, meta.ID)
}

// TestLogReplayGap: a log whose revisions do not follow bbolt's head is
// not silently skipped: opening fails.
func TestLogReplayGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	m := openAt(t, path, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 3)
	cp := crashCopy(t, m, path)
	w, entries, err := openWAL(cp + ".wal")
	if err != nil || len(entries) == 0 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	e := entries[len(entries)-1]
	if err := w.append(appendWALEntry(newWALRecord(1, 0), meta.ID, e.rev+5, e.rec)); err != nil {
		t.Fatal(err)
	}
	w.close()
	if m2, err := Open(cp, Config{}); !errors.Is(err, ErrConflict) {
		if err == nil {
			m2.Close()
		}
		t.Fatalf("opening a log with a gap: %v", err)
	}
}

func FuzzWALPayload(f *testing.F) {
	f.Add(appendWALEntry([]byte{1}, "doc", 7, []byte("rec")))
	f.Add(appendWALEntry(appendWALEntry([]byte{2}, "a", 1, nil), "b", 2, []byte{0, 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		entries, err := decodeWALPayload(p)
		if err != nil {
			return
		}
		again := []byte{}
		again = binary.AppendUvarint(again, uint64(len(entries)))
		for _, e := range entries {
			again = appendWALEntry(again, e.doc, e.rev, e.rec)
		}
		back, err := decodeWALPayload(again)
		if err != nil || len(back) != len(entries) {
			t.Fatalf("re-encoded payload: %d entries, %v", len(back), err)
		}
		for i := range back {
			if back[i].doc != entries[i].doc || back[i].rev != entries[i].rev || !bytes.Equal(back[i].rec, entries[i].rec) {
				t.Fatalf("entry %d: %+v, then %+v", i, entries[i], back[i])
			}
		}
	})
}

// TestLogFailureFallsBack: when the log cannot be written, the batch and
// every later one commit to bbolt instead; nothing acknowledged is lost,
// and the database reopens with everything.
func TestLogFailureFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	m := openAt(t, path, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 5)
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}
	m.store.wal.f.Close() // every write to the log fails from here on
	typeInto(t, d, "c2", 5)
	if n := pendingRevs(m); n != 0 {
		t.Errorf("%d revisions pending after the log failed", n)
	}
	checkLog(t, m, meta.ID)
	if err := m.Close(); err == nil {
		t.Error("Close did not report the failed log")
	}
	m2 := openAt(t, path, Config{})
	if log := checkLog(t, m2, meta.ID); len(log) != 11 {
		t.Fatalf("%d revisions after reopening, want 11", len(log))
	}
}

// FuzzWALFile: whatever follows a valid header, reading the log neither
// panics nor returns a record that is not whole and of its generation.
func FuzzWALFile(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.wal")
	w, _, err := openWAL(good)
	if err != nil {
		f.Fatal(err)
	}
	w.append(appendWALEntry(newWALRecord(1, 0), "doc", 2, []byte("rec")))
	w.append(appendWALEntry(newWALRecord(1, 0), "doc", 3, []byte("rec3")))
	w.close()
	b, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[walHeaderLen:w.off])
	f.Add(b[walHeaderLen : w.off-3])
	f.Add([]byte{})
	header := b[:walHeaderLen]
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(t.TempDir(), "f.wal")
		if err := os.WriteFile(path, append(append([]byte(nil), header...), body...), 0o600); err != nil {
			t.Fatal(err)
		}
		w, entries, err := openWAL(path)
		if err != nil {
			return // a checksummed record that does not decode: refused, not skipped
		}
		defer w.close()
		if w.off > walHeaderLen+int64(len(body)) {
			t.Fatalf("read to %d of %d bytes", w.off, walHeaderLen+len(body))
		}
		if w.off == walHeaderLen && len(entries) != 0 {
			t.Fatalf("%d entries from no record", len(entries))
		}
	})
}

// TestReadsNeverCheckpoint: no read copies the log into bbolt (a
// checkpoint is a write, which may wait on a slow or full disk): with
// revisions pending in the log, each read leaves them pending and writes
// no page of bbolt, and sees the newest of them. Before each read the
// document gets a new revision in the log and is unloaded, so that the
// read goes to the store.
func TestReadsNeverCheckpoint(t *testing.T) {
	// Each edit comes an hour after the one before it, so each closes an
	// edit session, which the session indexer counts and writes down: a
	// write of its own, at any time.
	testHoldSessionJobs.Store(true)
	defer testHoldSessionJobs.Store(false)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg := noCheckpoints
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	m := openTest(t, cfg)
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	id := meta.ID
	if _, err := m.AppendChat(id, ChatMessage{User: "u", Name: "U", Text: "hi"}, 10); err != nil {
		t.Fatal(err)
	}
	if err := m.PutPresence(id, map[string][]byte{"u": []byte(`{"line":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setting("secret", func() []byte { return []byte("s") }); err != nil {
		t.Fatal(err)
	}
	key := Key{"link", "k1"}
	keyed := putOK(t, m, id, "abc\nkeyed\n", key, nil) // the first commit of the document goes to bbolt
	keyedOpID := key.opID(putFingerprint("abc\nkeyed\n", nil))

	// edit gives the document a new revision, which only the log holds,
	// with op id opID (a client's "c:<n>" if empty), then unloads it; it
	// returns the revision.
	n := 0
	edit := func(opID string) uint64 {
		t.Helper()
		d, err := m.Open(id)
		if err != nil {
			t.Fatal(err)
		}
		n++
		text, rev, _ := d.Text()
		if opID == "" {
			opID = fmt.Sprintf("c:%d", n)
		}
		if _, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), text.Len(), "x\n"), Author: "ann", OpID: opID}); err != nil {
			t.Fatal(err)
		}
		d.Release()
		clock.Add(int64(time.Hour))
		if m.Sweep() != 1 {
			t.Fatal("the document was not unloaded")
		}
		return rev + 1
	}
	edit("")
	if pendingRevs(m) == 0 {
		t.Fatal("no revision is pending in the log")
	}
	for _, read := range []struct {
		name string
		fn   func(head uint64) error
	}{
		{"Meta", func(head uint64) error {
			got, err := m.Store().Meta(id)
			if err == nil && got.Rev != head {
				err = fmt.Errorf("rev %d, want %d", got.Rev, head)
			}
			return err
		}},
		{"Revisions", func(head uint64) error {
			revs, err := m.Revisions(id, 0, 1000)
			if err == nil && uint64(len(revs)) != head {
				err = fmt.Errorf("%d revisions, want %d", len(revs), head)
			}
			return err
		}},
		{"TextAt", func(head uint64) error {
			_, err := m.TextAt(id, head)
			return err
		}},
		{"List", func(head uint64) error {
			list, err := m.Store().List(meta.Workspace, "", "", 10)
			if err == nil && (len(list) != 1 || list[0].Rev != head) {
				err = fmt.Errorf("%+v, want one document at %d", list, head)
			}
			return err
		}},
		{"ListAll", func(head uint64) error {
			list, err := m.Store().ListAll("", 10)
			if err == nil && (len(list) != 1 || list[0].Rev != head) {
				err = fmt.Errorf("%+v, want one document at %d", list, head)
			}
			return err
		}},
		{"Open", func(head uint64) error {
			d, err := m.Open(id)
			if err != nil {
				return err
			}
			defer d.Release()
			if _, rev, _ := d.Text(); rev != head {
				return fmt.Errorf("loaded at %d, want %d", rev, head)
			}
			return nil
		}},
		{"Head", func(head uint64) error {
			got, text, err := m.Head(id)
			if err == nil && (got.Rev != head || strings.Count(text.String(), "x\n") != int(head-keyed.Rev)) {
				err = fmt.Errorf("%d, %q, want revision %d", got.Rev, text.String(), head)
			}
			return err
		}},
		{"Blame", func(head uint64) error {
			lines, err := m.Blame(id, head)
			if err == nil && (len(lines) < 2 || lines[len(lines)-2].Rev != head || lines[len(lines)-2].Author != "ann") {
				err = fmt.Errorf("%+v, want the last line by ann at %d", lines, head)
			}
			return err
		}},
		{"Sessions", func(head uint64) error {
			ss, err := m.Sessions(id, 0, 100)
			if err == nil && (len(ss) == 0 || ss[0].Last != head || ss[0].Added != 1) {
				err = fmt.Errorf("%+v, want the newest session at %d, adding a line", ss, head)
			}
			return err
		}},
		{"Labels", func(uint64) error {
			_, err := m.Labels(id)
			return err
		}},
		{"Authors", func(uint64) error {
			_, err := m.Authors(id, []string{"ann"})
			return err
		}},
		{"LookupOpID client", func(head uint64) error {
			rev, ok, err := m.Store().LookupOpID(id, fmt.Sprintf("c:%d", n))
			if err == nil && (!ok || rev != head) {
				err = fmt.Errorf("%d, %v, want %d", rev, ok, head)
			}
			return err
		}},
		{"LookupOpID plain", func(head uint64) error {
			rev, ok, err := m.Store().LookupOpID(id, "plain")
			if err == nil && (!ok || rev != head) {
				err = fmt.Errorf("%d, %v, want %d", rev, ok, head)
			}
			return err
		}},
		{"LookupOpID keyed", func(uint64) error {
			rev, ok, err := m.Store().LookupOpID(id, keyedOpID)
			if err == nil && (!ok || rev != keyed.Rev) {
				err = fmt.Errorf("%d, %v, want %d", rev, ok, keyed.Rev)
			}
			return err
		}},
		{"Chat", func(uint64) error {
			msgs, err := m.Chat(id, 0, 10)
			if err == nil && len(msgs) != 1 {
				err = fmt.Errorf("%+v", msgs)
			}
			return err
		}},
		{"Presence", func(uint64) error {
			pres, err := m.Presence(id)
			if err == nil && len(pres) != 1 {
				err = fmt.Errorf("%q", pres)
			}
			return err
		}},
		{"ResolveLink", func(uint64) error {
			l, err := m.ResolveLink(meta.ViewLink)
			if err == nil && l.Target != id {
				err = fmt.Errorf("%+v", l)
			}
			return err
		}},
		{"GetWorkspace", func(uint64) error {
			_, err := m.GetWorkspace(meta.Workspace)
			return err
		}},
		{"Setting", func(uint64) error {
			v, err := m.Setting("secret", func() []byte { return []byte("other") })
			if err == nil && string(v) != "s" {
				err = fmt.Errorf("%q", v)
			}
			return err
		}},
	} {
		t.Run(read.name, func(t *testing.T) {
			opID := ""
			if read.name == "LookupOpID plain" {
				opID = "plain"
			}
			head := edit(opID)
			pending, pages := pendingRevs(m), pagesWritten(m)
			if err := read.fn(head); err != nil {
				t.Errorf("%s: %v", read.name, err)
			}
			if now := pendingRevs(m); now != pending {
				t.Errorf("%s checkpointed: %d revisions pending before it, %d after", read.name, pending, now)
			}
			if now := pagesWritten(m); now != pages {
				t.Errorf("%s wrote %d pages of the database file", read.name, now-pages)
			}
		})
	}
}

// pagesWritten is how many pages the writes to m's database file wrote.
func pagesWritten(m *Manager) int64 {
	st := m.store.db.Stats()
	return st.TxStats.GetWrite()
}

// TestWriteKeepsEditsInTheLog: a Write (the webhooks' state, the journal's
// summaries) commits beside the group commit, so the edits after it still
// go to the revision log, not to bbolt; it sees every durable revision;
// and an error of its own rolls it back without calling the disk failing.
func TestWriteKeepsEditsInTheLog(t *testing.T) {
	m := openTest(t, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 5) // the log learns the document's head
	var head uint64
	err := m.Write("a test's bucket", func(tx *kv.Tx) error {
		h, _ := readHead(tx.Bucket(bucketLog).Bucket([]byte(meta.ID)))
		head = h.rev
		_, err := tx.CreateBucketIfNotExists([]byte("a test's bucket"))
		return err
	})
	if err != nil || head != 6 {
		t.Fatalf("Write saw head %d, %v; want 6", head, err)
	}
	if m.store.hasPending() {
		t.Fatal("the revisions before the Write are still pending: it did not checkpoint them")
	}
	typeInto(t, d, "c2", 5)
	if n := len(m.store.pendingOf(meta.ID)); n != 5 {
		t.Fatalf("%d of the 5 edits after a Write are in the revision log, want all", n)
	}
	refusal := errors.New("refused by fn")
	err = m.Write("nothing", func(tx *kv.Tx) error {
		if _, err := tx.CreateBucket([]byte("rolled back")); err != nil {
			return err
		}
		return refusal
	})
	if err != refusal {
		t.Fatalf("Write returned %v, want fn's own error", err)
	}
	if st := m.Storage(); st.Failing {
		t.Fatalf("an error of fn's made the storage failing: %+v", st)
	}
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		if tx.Bucket([]byte("rolled back")) != nil {
			t.Error("fn's refused transaction was committed")
		}
		return nil
	})
	checkLog(t, m, meta.ID)
}
