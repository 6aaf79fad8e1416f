package docs

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCloseWhileSubmitting closes the manager while writers are
// submitting: Close returns, every Submit returns, every edit that was
// acknowledged is on disk and none that failed is.
func TestCloseWhileSubmitting(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "close.db")
		m, err := Open(path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []*Document
		for i := range 4 {
			meta, err := m.Create(CreateParams{Name: fmt.Sprintf("f%d.txt", i), Text: "x"})
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.Open(meta.ID)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		var mu sync.Mutex
		acked := map[string]uint64{} // "<doc> <op id>" -> revision
		var failed []string
		var wg sync.WaitGroup
		started := make(chan struct{}, 8)
		for w := range 8 {
			wg.Go(func() {
				d := docs[w%len(docs)]
				for k := 1; ; k++ {
					text, rev, _ := d.Text()
					opID := fmt.Sprintf("w%d:%d", w, k)
					res, err := d.Submit(Edit{Base: rev, Op: insertAt(text.Len(), 0, "y"), OpID: opID})
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							t.Errorf("Submit: %v", err)
						}
						mu.Lock()
						failed = append(failed, d.ID()+" "+opID)
						mu.Unlock()
						return
					}
					mu.Lock()
					acked[d.ID()+" "+opID] = res.Rev
					mu.Unlock()
					if k == 3 {
						started <- struct{}{}
					}
				}
			})
		}
		for range 8 {
			<-started
		}
		closed := make(chan error)
		go func() { closed <- m.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Close did not return", round)
		}
		wg.Wait()

		m, err = Open(path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for k, rev := range acked {
			var id, opID string
			fmt.Sscan(k, &id, &opID)
			if got, ok, err := m.Store().LookupOpID(id, opID); err != nil || !ok || got != rev {
				t.Errorf("%s acknowledged at %d, found at %d, %v, %v", opID, rev, got, ok, err)
			}
		}
		for _, k := range failed {
			var id, opID string
			fmt.Sscan(k, &id, &opID)
			if rev, ok, err := m.Store().LookupOpID(id, opID); err != nil || ok {
				t.Errorf("%s failed, but is at revision %d (%v)", opID, rev, err)
			}
		}
		for _, d := range docs {
			checkLog(t, m, d.ID())
		}
		m.Close()
	}
}
