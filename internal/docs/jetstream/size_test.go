package jetstream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/nats-io/nats.go"
)

// smallServer starts one NATS server that takes messages of at most
// maxPayload bytes, and returns n Logs on it, each on a connection of its
// own.
func smallServer(t *testing.T, maxPayload int32, n int) []*Log {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), MaxPayload: maxPayload}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var logs []*Log
	for range n {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		l, err := Open(ctx, nc, Config{Replicas: 1, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	return logs
}

// noise is n bytes of text that does not compress.
func noise(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)[:n]
}

// The NATS servers' largest message bounds what one entry of the stream
// carries: an edit or a new document too large for one is refused as too
// large (not as a storage failure), nothing of it kept; edits that fit,
// however many a group commit gathers, all go through, and every node
// ends with the same text.
func TestEditsLargerThanAMessage(t *testing.T) {
	const most = 64 << 10
	logs := smallServer(t, most, 2)
	ms := nodes(t, logs)
	rng := rand.New(rand.NewPCG(1, 2))

	if _, err := ms[0].Create(docs.CreateParams{Name: "big.txt", Text: noise(rng, 100<<10)}); !errors.Is(err, docs.ErrTooLarge) || errors.Is(err, docs.ErrStorage) {
		t.Fatalf("a new document larger than a message: %v, want ErrTooLarge", err)
	}
	// A change set larger than a message.
	blob := func(n int) func(tx *kv.Tx) error {
		return func(tx *kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("test"))
			if err != nil {
				return err
			}
			return b.Put([]byte("blob"), []byte(noise(rng, n)))
		}
	}
	if err := ms[0].Write("the blob", blob(100<<10)); !errors.Is(err, docs.ErrTooLarge) || errors.Is(err, docs.ErrStorage) {
		t.Fatalf("a change set larger than a message: %v, want ErrTooLarge", err)
	}
	if err := ms[0].Write("the blob", blob(1<<10)); err != nil {
		t.Fatalf("a change set after one too large: %v", err)
	}
	meta, err := ms[0].Create(docs.CreateParams{Name: "a.txt", Text: "start\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Sync(); err != nil {
		t.Fatal(err)
	}
	if all, err := ms[0].Store().ListAll("", 10); err != nil || len(all) != 1 {
		t.Fatalf("documents after two refused: %v, %v; want only %s", all, err, meta.ID)
	}

	d, err := ms[0].Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	text, rev, _ := d.Text()
	tooBig := *new(ot.Operation).Insert(noise(rng, 70<<10)).Retain(text.Len())
	if _, err := d.Submit(docs.Edit{Base: rev, Op: tooBig, OpID: "c1:1"}); !errors.Is(err, docs.ErrTooLarge) || errors.Is(err, docs.ErrStorage) {
		t.Fatalf("an edit larger than a message: %v, want ErrTooLarge", err)
	}
	if _, after, _ := d.Text(); after != rev {
		t.Fatalf("the refused edit moved the document from revision %d to %d", rev, after)
	}

	// Edits of 20 KB, eight at a time on each node: three or more in a
	// group commit do not fit in one message together.
	const each = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for n, m := range ms {
		for k := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := m.Open(meta.ID)
				if err != nil {
					errs <- err
					return
				}
				defer d.Release()
				piece := noise(rand.New(rand.NewPCG(uint64(n), uint64(k))), 20<<10)
				for {
					text, rev, _ := d.Text()
					_, err := d.Submit(docs.Edit{Base: rev, Op: *new(ot.Operation).Insert(piece).Retain(text.Len()), OpID: fmt.Sprintf("n%dk%d:1", n, k)})
					if !errors.Is(err, docs.ErrConflict) {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	converged(t, ms, meta.ID, 1+2*each)
}

// The journal's summaries and trims of many documents at once, larger
// than one change set, go in parts.
func TestJournalWritesLargerThanAMessage(t *testing.T) {
	logs := smallServer(t, 16<<10, 1)
	m, err := docs.Open(filepath.Join(t.TempDir(), "node.db"), docs.Config{Log: logs[0], JournalMax: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const n = 200
	var ids []string
	for i := range n {
		meta, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("f%03d.txt", i), Text: "x", Author: "a"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.Open(meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Submit(docs.Edit{Base: 1, Op: *new(ot.Operation).Retain(1).Insert("y"), Author: "b", OpID: fmt.Sprintf("c%d:1", i)})
		d.Release()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	entries, err := m.NoteChanges(ids)
	if err != nil || len(entries) != n {
		t.Fatalf("NoteChanges: %d entries, %v; want %d", len(entries), err, n)
	}
	for range 2 * n {
		k, err := m.TrimJournal()
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	trimmed, last, err := m.JournalBounds()
	if err != nil || last-trimmed != 10 {
		t.Fatalf("journal: entries %d to %d kept (%v), want the newest 10", trimmed+1, last, err)
	}
}
