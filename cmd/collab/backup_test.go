package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
)

// TestBackupUnderLoadAndRestore: while several clients edit two documents,
// "collab backup" copies the store of the running server; the restore of
// docs/OPERATIONS.md (the copy as collab.db, no collab.db.wal) starts, and
// every edit acknowledged before the backup began is in it exactly once,
// at its revision, with texts that are the replay of their histories.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "collab.db")
	const token = "backup-token"
	// No checkpoint on its own: what the backup needs is in the log only.
	base, stop := startRun(t, data, "", "-ops-per-second", "1000", "-api-token", token, "-checkpoint-every", "1h")
	ids := []string{createDoc(t, base, "a.go", "package a\n"), createDoc(t, base, "b.md", "# b\n")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	// doc, op id: rev; the store keeps the id as the client sent it, the
	// REST history shows the public one.
	acked := map[string]map[string]uint64{ids[0]: {}, ids[1]: {}}
	public := map[string]map[string]uint64{ids[0]: {}, ids[1]: {}}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked[ids[0]]) + len(acked[ids[1]])
	}
	ackedSome := newAckSignal()
	seed := seedOf(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		id := ids[i%2]
		c, err := client.Dial(ctx, client.Config{URL: base, Doc: id, Name: fmt.Sprintf("bot%d", i),
			OnAck: func(a client.Ack) {
				mu.Lock()
				acked[id][a.ID], public[id][a.Public] = a.Rev, a.Rev
				mu.Unlock()
				ackedSome.note()
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := randomEdit(rng, c); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond) // think time: the workload, not synchronisation
			}
		}()
	}
	waitAcks := func(n int) {
		t.Helper()
		ackedSome.wait(ctx, t, count, n)
	}
	waitAcks(150)

	// Every edit acknowledged before the backup starts must be in it.
	mu.Lock()
	before, beforePublic := map[string]map[string]uint64{}, map[string]map[string]uint64{}
	for _, id := range ids {
		before[id], beforePublic[id] = maps.Clone(acked[id]), maps.Clone(public[id])
	}
	mu.Unlock()
	backup := filepath.Join(t.TempDir(), "backup.db")
	var out bytes.Buffer
	err := run(ctx, []string{"backup", "-o", backup, "-url", base, "-token", token}, func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatalf("collab backup: %v", err)
	}
	if !strings.HasPrefix(out.String(), "backup: wrote ") {
		t.Fatalf("collab backup printed %q", out.String())
	}
	if _, err := os.Stat(backup + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left behind: %v", err)
	}
	after := count()
	waitAcks(after + 100) // edits go on after the backup
	close(done)
	wg.Wait()

	// The copy opens on its own, with no revision log.
	m, err := docs.Open(backup, docs.Config{})
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	for _, id := range ids {
		checkHistory(t, m, id, before[id])
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// The documented restore: stop, the copy in place as collab.db, no
	// collab.db.wal, start.
	stop()
	if err := os.Rename(backup, data); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(data + ".wal"); err != nil {
		t.Fatal(err)
	}
	base, _ = startRun(t, data, "", "-api-token", token)
	for _, id := range ids {
		checkExactlyOnce(t, base, id, beforePublic[id])
		if d := getDoc(t, base, id); d.Rev < uint64(len(before[id])) {
			t.Fatalf("restored %s at revision %d, with %d edits acknowledged before the backup", id, d.Rev, len(before[id]))
		}
	}
	t.Logf("%d edits acknowledged before the backup, %d by its end, %d in all", len(before[ids[0]])+len(before[ids[1]]), after, count())
}

// checkHistory: every op in acked is in document id's history once, at
// its revision, and the text is the replay of the history.
func checkHistory(t *testing.T, m *docs.Manager, id string, acked map[string]uint64) {
	t.Helper()
	seen := map[string]uint64{}
	text := ""
	var last uint64
	for {
		revs, err := m.Revisions(id, last, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range revs {
			if r.Rev != last+1 {
				t.Fatalf("%s: revision %d after %d", id, r.Rev, last)
			}
			if text, err = r.Op.Apply(text); err != nil {
				t.Fatalf("%s: revision %d does not apply: %v", id, r.Rev, err)
			}
			if r.OpID != "" {
				if prev, dup := seen[r.OpID]; dup {
					t.Fatalf("%s: op %s at %d and %d", id, r.OpID, prev, r.Rev)
				}
				seen[r.OpID] = r.Rev
			}
			last = r.Rev
		}
		if len(revs) < 1000 {
			break
		}
	}
	for opID, rev := range acked {
		if seen[opID] != rev {
			t.Fatalf("%s: op %s acknowledged at %d, the backup has it at %d", id, opID, rev, seen[opID])
		}
	}
	meta, head, err := m.Head(id)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Rev != last || head.String() != text {
		t.Fatalf("%s: head at %d is %q, the history replays to %d %q", id, meta.Rev, head.String(), last, text)
	}
}

func TestBackupCommandRefusals(t *testing.T) {
	base, _ := startRun(t, filepath.Join(t.TempDir(), "c.db"), "", "-api-token", "right")
	out := filepath.Join(t.TempDir(), "b.db")
	env := func(string) string { return "" }
	err := run(context.Background(), []string{"backup", "-o", out, "-url", base, "-token", "wrong"}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v, want a 401", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left %s: %v", out, err)
	}
	if err := run(context.Background(), []string{"backup", "-url", base, "-token", "right"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("no -o: want an error")
	}
	if err := run(context.Background(), []string{"backup", "-o", out, "-url", base}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("no token: want an error")
	}
	// The token from the server's own variable.
	env = func(k string) string {
		if k == "COLLAB_API_TOKEN" {
			return "right"
		}
		return ""
	}
	if err := run(context.Background(), []string{"backup", "-o", out, "-url", base}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	resp, err := apiClient(t).Get(base + "/api/admin/backup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s", resp.Status)
	}
}
