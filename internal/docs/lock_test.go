package docs

import (
	"fmt"
	"testing"
)

// TestDiskReadsHoldNoLock: an edit whose base is older than the history
// kept in memory, from a client the document has no mark of, reads both
// from disk; while it does (held up here), the document's lock is free:
// the text is read, and another edit is applied and published.
func TestDiskReadsHoldNoLock(t *testing.T) {
	m := openTest(t, Config{Window: 4})
	_, d := createOpen(t, m, CreateParams{Name: "l.txt", Text: "l"})
	for rev := uint64(1); rev <= 20; rev++ {
		if _, err := d.Submit(Edit{Base: rev, Op: insertAt(int(rev), int(rev), "x"), OpID: fmt.Sprintf("a:%d", rev)}); err != nil {
			t.Fatal(err)
		}
	}
	// Unload and reload, so that no client's mark is in memory.
	d.Release()
	m.Sweep()
	d, err := m.Open(d.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	events := subscribe(t, d, 4)

	reading, release := make(chan struct{}, 8), make(chan struct{})
	testHookRead = func() { reading <- struct{}{}; <-release }
	defer func() { testHookRead = nil }()
	done := make(chan error, 1)
	go func() {
		_, err := d.Submit(Edit{Base: 1, Op: insertAt(1, 0, "old "), OpID: "b:1"})
		done <- err
	}()
	<-reading // the old edit is reading from disk
	if _, rev, _ := d.Text(); rev != 21 {
		t.Fatalf("text at %d", rev)
	}
	if _, err := d.Submit(Edit{Base: 21, Op: insertAt(21, 21, "!")}); err != nil {
		t.Fatal(err)
	}
	if r := <-events; r.Rev != 22 {
		t.Fatalf("published %d", r.Rev)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if text, rev, _ := d.Text(); rev != 23 || text.String() != "old l"+"xxxxxxxxxxxxxxxxxxxx!" {
		t.Fatalf("text %q at %d", text.String(), rev)
	}
}
