package docs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// crashCopy copies the database and its revision log as a crash would
// leave them (the process gone, the files as written) and returns the
// copy's path.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
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

// noCheckpoints keeps revisions in the log for the length of a test.
var noCheckpoints = Config{CheckpointEvery: time.Hour}

func TestLogRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	m := openAt(t, path, noCheckpoints)
	meta, d := createOpen(t, m, CreateParams{Name: "a.txt", Text: "abc"})
	for i := range 20 {
		if _, err := d.Submit(Edit{Base: uint64(i + 1), Op: insertAt(3+i, 0, "x"), OpID: "c:" + itoa(i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	m.store.pmu.Lock()
	pending := len(m.store.pending)
	m.store.pmu.Unlock()
	if pending == 0 {
		t.Fatal("no revision is pending in the log")
	}
	copyPath := crashCopy(t, path)
	m2 := openAt(t, copyPath, Config{})
	checkLog(t, m2, meta.ID)
	got, err := m2.Store().Meta(meta.ID)
	if err != nil || got.Rev != 21 {
		t.Fatalf("after recovery: rev %d, %v (want 21, %d were pending)", got.Rev, err, pending)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }
