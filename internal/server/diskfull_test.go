//go:build linux

package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
)

// TestDiskFullRefusesEditsServesReadsAndRecovers: with the data files'
// disk full, an edit is answered storage_full and not applied, the Go
// client keeps it and resends it, reads are served, and /metrics and
// /readyz say so; once space returns the resent edit is applied once.
func TestDiskFullRefusesEditsServesReadsAndRecovers(t *testing.T) {
	dir := t.TempDir()
	mgr, err := docs.Open(filepath.Join(dir, "full.db"), docs.Config{MaxBytes: 1 << 20, CheckpointEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, base := serveManager(t, Config{}, mgr, nil)
	id := mkdoc(t, base, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refused := make(chan string, 16)
	c, err := client.Dial(ctx, client.Config{URL: base, Doc: id, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnError: func(code, _ string) { refused <- code }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	restore := fillDisk(t, dir)
	if err := c.Insert(1, "b"); err != nil {
		t.Fatal(err)
	}
	if code := <-refused; code != "storage_full" {
		t.Fatalf("refused with %q", code)
	}
	if text, _ := restText(t, base, id); text != "a" {
		t.Fatalf("read while full: %q", text)
	}
	if m := metricsText(t, base); !strings.Contains(m, "collab_storage_failing 1") || strings.Contains(m, "collab_storage_write_failures_total 0") {
		t.Errorf("metrics while full:\n%s", grepLines(m, "collab_storage"))
	}
	restore()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if text, rev := restText(t, base, id); text != "ab" || rev != 2 {
		t.Fatalf("after space returned: %q at %d", text, rev)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// fillDisk points every descriptor of this process open on a file in dir
// at /dev/full, where every write fails with ENOSPC as on a full disk
// (reads through bbolt's memory map go on), and returns the function that
// gives the space back.
func fillDisk(t *testing.T, dir string) (restore func()) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	var fds, saved []int
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(target, dir+string(os.PathSeparator)) {
			continue
		}
		var fd int
		for _, ch := range e.Name() {
			fd = fd*10 + int(ch-'0')
		}
		s, err := syscall.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Dup3(int(full.Fd()), fd, syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		fds, saved = append(fds, fd), append(saved, s)
	}
	if len(fds) < 2 {
		t.Fatalf("found %d data file descriptors, want the database and its log", len(fds))
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		for i, fd := range fds {
			syscall.Dup3(saved[i], fd, syscall.O_CLOEXEC)
			syscall.Close(saved[i])
		}
	}
	t.Cleanup(restore)
	return restore
}
