package docs

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// damaged writes a database with a few documents whose newest revisions
// are only in the revision log, and returns a copy as a crash would leave
// it, the documents' ids, and the log's generation.
func damaged(t *testing.T) (path string, ids []string, gen uint64) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.db")
	m := openAt(t, src, noCheckpoints)
	for _, name := range []string{"a.go", "b.go", "c.go"} {
		meta, d := createOpen(t, m, CreateParams{Name: name, Text: strings.Repeat("package x\n", 50)})
		typeInto(t, d, "c", 8)
		ids = append(ids, meta.ID)
	}
	if pendingRevs(m) < 5 {
		t.Fatalf("%d revisions pending in the log", pendingRevs(m))
	}
	return crashCopy(t, m, src), ids, m.store.wal.gen
}

// openErr opens path, which must fail with ErrCorrupt whose text has
// every one of want (and names the recovery command); a panic fails the
// test too.
func openErr(t *testing.T, path string, want ...string) {
	t.Helper()
	m, err := Open(path, Config{Logger: discard()})
	if err == nil {
		m.Close()
		t.Fatalf("opening a damaged database succeeded")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("opening a damaged database: %v; want ErrCorrupt", err)
	}
	for _, w := range append(want, "collab recover -data "+path) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q: %v", w, err)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logBuffer collects a logger's lines for a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// walRecords returns the whole records of the log at path of generation
// gen, in order.
func walRecords(t *testing.T, path string, gen uint64) []walRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return recordsFrom(b, walHeaderLen, gen)
}

func patchFile(t *testing.T, path string, off int64, fn func(b []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fn(b[off:])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedBoltPages: overwriting any one page of the bbolt file with
// garbage never panics at open: a page in use is an ErrCorrupt that names
// the page, its byte offset and the recovery command; a free page opens.
func TestDamagedBoltPages(t *testing.T) {
	path, _, _ := damaged(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 1 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for page := 2; page < len(orig)/pageSize; page++ {
		b := append([]byte(nil), orig...)
		for i := page * pageSize; i < (page+1)*pageSize; i++ {
			b[i] = byte(rng.Uint32())
		}
		cp := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(cp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		wal, _ := os.ReadFile(path + ".wal")
		os.WriteFile(cp+".wal", wal, 0o600)
		m, err := Open(cp, Config{Logger: discard()})
		if err == nil {
			m.Close()
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "byte offset") || !strings.Contains(err.Error(), "collab recover") {
			t.Fatalf("page %d overwritten: %v", page, err)
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("no overwritten page was noticed")
	}
	t.Logf("%d of %d pages are in use and refused when overwritten", refused, len(orig)/pageSize-2)
}

// TestTruncatedBolt: a bbolt file shorter than its meta page says is an
// ErrCorrupt, not a fault on a page past its end.
func TestTruncatedBolt(t *testing.T) {
	path, _, _ := damaged(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, ok := boltMeta(b)
	if !ok {
		t.Fatal("no valid first meta page")
	}
	// One page short of what the meta counts (bbolt grows a file ahead
	// of its pages), and half of it.
	pages := int64(boltOrder.Uint64(meta[40:]))
	for _, size := range []int64{(pages - 1) << 10, pages << 9} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		openErr(t, path, "truncated", path)
	}
}

// TestEmptyBoltBesideLog: an empty or missing bbolt file beside a log
// that holds revisions is refused, and left as it was, rather than
// started anew with every document gone.
func TestEmptyBoltBesideLog(t *testing.T) {
	for _, how := range []string{"empty", "missing"} {
		t.Run(how, func(t *testing.T) {
			path, _, _ := damaged(t)
			if how == "empty" {
				os.Truncate(path, 0)
			} else {
				os.Remove(path)
			}
			openErr(t, path, "empty or missing", path+".wal")
			fi, err := os.Stat(path)
			if how == "empty" && (err != nil || fi.Size() != 0) || how == "missing" && err == nil {
				t.Errorf("the bbolt file was changed: %v", err)
			}
		})
	}
}

// TestLogCorruptRecord: a damaged record followed by whole records is
// not a torn tail: opening fails, naming the record and its offset,
// instead of dropping every record after it.
func TestLogCorruptRecord(t *testing.T) {
	path, _, gen := damaged(t)
	recs := walRecords(t, path+".wal", gen)
	if len(recs) < 4 {
		t.Fatalf("%d records", len(recs))
	}
	bad := recs[1]
	patchFile(t, path+".wal", bad.off+walRecordHdr+2, func(b []byte) { b[0] ^= 0x40 })
	openErr(t, path, path+".wal", "record 2 ", "byte offset "+itoa(bad.off), "whole record follows at byte offset "+itoa(recs[2].off))
}

// TestLogBadHeader: a damaged header in front of records that are not in
// bbolt yet is refused; once every record is in bbolt, the log starts
// over.
func TestLogBadHeader(t *testing.T) {
	path, _, _ := damaged(t)
	patchFile(t, path+".wal", 3, func(b []byte) { b[0] ^= 1 })
	openErr(t, path, path+".wal", "header")

	// After a clean close every record is in bbolt.
	m := openAt(t, filepath.Join(t.TempDir(), "clean.db"), noCheckpoints)
	_, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 5)
	clean := crashCopy(t, m, m.store.path)
	m2, err := Open(clean, Config{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	m2.Close()
	patchFile(t, clean+".wal", 3, func(b []byte) { b[0] ^= 1 })
	m3 := openAt(t, clean, Config{Logger: discard()})
	if list, err := m3.Store().ListAll("", 10); err != nil || len(list) != 1 || list[0].Rev != 6 {
		t.Fatalf("after a damaged header over checkpointed records: %+v, %v", list, err)
	}
}

// TestLogTornTailLogged: a torn record at the end of the log is dropped,
// cut off the file, and logged with its offset; what came before it is
// kept.
func TestLogTornTailLogged(t *testing.T) {
	path, ids, gen := damaged(t)
	recs := walRecords(t, path+".wal", gen)
	last := recs[len(recs)-1]
	if err := os.Truncate(path+".wal", last.off+last.n-3); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	m := openAt(t, path, Config{Logger: logs.logger()})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn record") || !strings.Contains(logs.String(), "offset="+itoa(last.off)) {
		t.Errorf("the torn tail was not logged with its offset:\n%s", logs.String())
	}
	total := 0
	for _, id := range ids {
		total += len(checkLog(t, m, id))
	}
	if want := 3*9 - len(last.entries); total != want {
		t.Errorf("%d revisions after dropping the torn record, want %d", total, want)
	}
	if fi, err := os.Stat(path + ".wal"); err != nil || fi.Size() > last.off+walChunk {
		t.Errorf("the log was not cut at the torn record: %v", err)
	}
}

// TestLogFromAnotherMoment: a bbolt file restored from an older copy
// beside the current log (or the other way round) is refused: their
// generations do not pair.
func TestLogFromAnotherMoment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "test.db")
	cfg := noCheckpoints
	cfg.LogBytes = 2 << 10
	m := openAt(t, path, cfg)
	_, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	typeInto(t, d, "c", 5)
	old := crashCopy(t, m, path)
	typeInto(t, d, "c2", 100) // the log starts over a few times
	now := crashCopy(t, m, path)
	b, err := os.ReadFile(now + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old+".wal", b, 0o600); err != nil {
		t.Fatal(err)
	}
	openErr(t, old, "generation", "not from the same moment")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRecover: the recovery command repairs what opening refused. A
// damaged bbolt page: the documents it does not hold are salvaged whole,
// the damaged file is kept beside, and the database opens. A damaged log
// record: every whole record around it is replayed where it fits, the
// skipped bytes are reported, and the database opens.
func TestRecover(t *testing.T) {
	t.Run("bolt page", func(t *testing.T) {
		path, ids, _ := damaged(t)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The first page whose damage is refused.
		var cp string
		for page := 2; cp == "" && page < len(orig)>>10; page++ {
			b := append([]byte(nil), orig...)
			clear(b[page<<10 : (page+1)<<10])
			dir := t.TempDir()
			try := filepath.Join(dir, "copy.db")
			os.WriteFile(try, b, 0o600)
			if checkBolt(try) != nil {
				cp = try
			}
		}
		if cp == "" {
			t.Fatal("no page's damage is refused")
		}
		var out bytes.Buffer
		now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := Recover(cp, &out, now); err != nil {
			t.Fatalf("Recover: %v\n%s", err, out.String())
		}
		t.Logf("Recover printed:\n%s", out.String())
		if _, err := os.Stat(cp + ".damaged-20260506T070809Z"); err != nil {
			t.Errorf("the damaged file was not kept: %v", err)
		}
		m := openAt(t, cp, Config{Logger: discard()})
		kept := 0
		for _, id := range ids {
			if _, err := m.Store().Meta(id); errors.Is(err, ErrNotFound) {
				if !strings.Contains(out.String(), id) {
					t.Errorf("document %s is gone, and Recover did not say so", id)
				}
				continue
			}
			checkLog(t, m, id)
			kept++
		}
		if kept == 0 && !strings.Contains(out.String(), "salvaged") {
			t.Errorf("nothing salvaged:\n%s", out.String())
		}
	})
	t.Run("log record", func(t *testing.T) {
		path, ids, gen := damaged(t)
		// A record whose revisions are only in the log (the last
		// document's; the earlier ones were checkpointed as the next
		// document was created), with two after it.
		recs := walRecords(t, path+".wal", gen)
		i := len(recs) - 3
		bad := recs[i]
		patchFile(t, path+".wal", bad.off+walRecordHdr+2, func(b []byte) { b[0] ^= 0x40 })
		var out bytes.Buffer
		if err := Recover(path, &out, time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil {
			t.Fatalf("Recover: %v\n%s", err, out.String())
		}
		t.Logf("Recover printed:\n%s", out.String())
		for _, want := range []string{"skipped bytes " + itoa(bad.off), "kept as " + path + ".wal.damaged-20260506T070809Z", "revisions replayed"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("Recover did not say %q", want)
			}
		}
		m := openAt(t, path, Config{Logger: discard()})
		total := 0
		for _, id := range ids {
			total += len(checkLog(t, m, id))
		}
		// The damaged record's revisions are lost, and those after it of
		// its document, which do not follow; nothing else is.
		want := 0
		for _, r := range recs[i:] {
			want += len(r.entries)
		}
		if lost := 3*9 - total; lost != want {
			t.Errorf("%d revisions lost, want %d", lost, want)
		}
		if !strings.Contains(out.String(), "2 that did not fit") {
			t.Errorf("Recover did not report the 2 revisions that did not fit")
		}
		if _, err := os.Stat(path + ".wal.damaged-20260506T070809Z"); err != nil {
			t.Errorf("the damaged log was not kept: %v", err)
		}
	})
}

// BenchmarkCheckBolt is what opening a database adds before bbolt maps
// it: the walk of every page of the 100,000-revision history's file.
func BenchmarkCheckBolt(b *testing.B) {
	h := sharedHistory(b)
	path := filepath.Join(shared.dir, "hist.db")
	h.m.Store().DB() // everything checkpointed
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		if err := checkBolt(path); err != nil {
			b.Fatal(err)
		}
	}
}
