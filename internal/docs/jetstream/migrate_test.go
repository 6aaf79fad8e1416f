package jetstream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/nats-io/nats.go"
)

// clock is a test's time: each reading a millisecond after the one
// before, and jumps at will (revisions far apart make separate sessions).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) jump(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// typeAs makes n edits on d by author, as client (op ids client:1 to
// client:n), each against the head it knows, at random places.
func typeAs(d *docs.Document, author, client string, n int, rng *rand.Rand) error {
	for i := 1; i <= n; i++ {
		text, rev, _ := d.Text()
		pos := rng.IntN(text.Len() + 1)
		op := new(ot.Operation).Retain(pos).Insert(fmt.Sprintf("<%s%d>", author, i)).Retain(text.Len() - pos)
		if _, err := d.Submit(docs.Edit{Base: rev, Op: *op, Author: author, OpID: fmt.Sprintf("%s:%d", client, i)}); err != nil {
			return fmt.Errorf("%s edit %d: %w", client, i, err)
		}
	}
	return nil
}

// source is a single-node database with a bit of everything: ids are its
// documents (the first with 3,001 revisions by three authors, renamed
// twice, labelled, with chat and author profiles; the second deleted),
// workspaces its two workspaces.
type source struct {
	path       string
	ids        []string
	workspaces []string
	key        []byte // the server's embed-key setting
}

func makeSource(t *testing.T) source {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	s := source{path: filepath.Join(t.TempDir(), "collab.db")}
	m, err := docs.Open(s.path, docs.Config{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	big, err := m.Create(docs.CreateParams{Name: "main.go", Text: "package main\n", Author: "alice"})
	must(err)
	d, err := m.Open(big.ID)
	must(err)
	// Two bursts of 500 edits by each of three authors at once, an hour
	// apart.
	for burst := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for i, who := range []string{"alice", "bob", "carol"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- typeAs(d, who, fmt.Sprint(who, "-", burst), 500, rand.New(rand.NewPCG(uint64(burst), uint64(i))))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(err)
		}
		clk.jump(time.Hour)
	}
	d.Release()
	_, err = m.Update(big.ID, "cmd/main.go", "", docs.By{Author: "alice"})
	must(err)
	_, err = m.Update(big.ID, "cmd/app/main.go", "", docs.By{Author: "bob"})
	must(err)
	_, err = m.AddLabel(big.ID, 1500, "v1", "carol")
	must(err)
	for i := range 3 {
		// Two kept: the first goes, the numbering goes on.
		_, err = m.AppendChat(big.ID, docs.ChatMessage{User: "alice", Name: "Alice", Text: fmt.Sprint("hello ", i)}, 2)
		must(err)
	}
	must(m.SetAuthor(big.ID, "alice", docs.AuthorProfile{Name: "Alice", Color: "#ff0000"}))
	must(m.SetAuthor(big.ID, "bob", docs.AuthorProfile{Name: "Bob"}))

	gone, err := m.Create(docs.CreateParams{Name: "old.txt", Text: "bye\n", Workspace: big.Workspace, Author: "bob"})
	must(err)
	d, err = m.Open(gone.ID)
	must(err)
	must(typeAs(d, "bob", "bob", 20, rand.New(rand.NewPCG(7, 7))))
	d.Release()
	must(m.Delete(gone.ID, docs.By{Author: "carol"}))
	// A live document takes the deleted one's path.
	again, err := m.Create(docs.CreateParams{Name: "old.txt", Text: "hello again\n", Workspace: big.Workspace})
	must(err)

	ws, err := m.CreateWorkspace()
	must(err)
	readme, err := m.Create(docs.CreateParams{Name: "README.md", Text: "# B\n", Workspace: ws.ID, Author: "dave"})
	must(err)
	empty, err := m.Create(docs.CreateParams{Name: "empty.txt", Workspace: ws.ID})
	must(err)

	// Enough to need more than one change set and more than one run:
	// 400 KB of revisions, 640 KB in another package's bucket.
	bulk, err := m.Create(docs.CreateParams{Name: "bulk.txt", Workspace: ws.ID, Author: "dave"})
	must(err)
	d, err = m.Open(bulk.ID)
	must(err)
	for i := range 40 {
		text, rev, _ := d.Text()
		op := new(ot.Operation).Retain(text.Len()).Insert(strings.Repeat(string(rune('a'+i%26)), 10_000))
		_, err := d.Submit(docs.Edit{Base: rev, Op: *op, Author: "dave"})
		must(err)
	}
	d.Release()
	must(m.Write("another package's data", func(tx *kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("extra"))
		if err != nil {
			return err
		}
		nested, err := b.CreateBucketIfNotExists([]byte("nested"))
		if err != nil {
			return err
		}
		for i := range 80 {
			seq, err := nested.NextSequence()
			if err != nil {
				return err
			}
			if err := nested.Put(binary.BigEndian.AppendUint64(nil, seq*2), bytes.Repeat([]byte{byte(i)}, 8<<10)); err != nil {
				return err
			}
		}
		return b.Put([]byte("empty"), []byte{})
	}))

	s.ids = []string{big.ID, gone.ID, again.ID, readme.ID, empty.ID, bulk.ID}
	s.workspaces = []string{big.Workspace, ws.ID}
	_, err = m.NoteChanges(s.ids)
	must(err)
	s.key, err = m.Setting("embed-key", func() []byte { return []byte("the server's own key") })
	must(err)
	return s
}

// dump reads from m everything a client can see of the source's
// workspaces and documents, as text.
func dump(t *testing.T, m *docs.Manager, s source) string {
	t.Helper()
	var b strings.Builder
	put := func(what string, v any, err error) {
		j, jerr := json.Marshal(v)
		if jerr != nil {
			t.Fatal(jerr)
		}
		fmt.Fprintf(&b, "%s: %s (%v)\n", what, j, err)
	}
	for _, id := range s.workspaces {
		w, err := m.GetWorkspace(id)
		put("workspace", w, err)
		l, err := m.ResolveLink(w.ViewLink)
		put("its view link", l, err)
		list, err := m.Store().List(id, "", "", 100)
		put("list", list, err)
		all, err := m.Store().Documents(id)
		put("documents", all, err)
		trash, err := m.Store().Deleted(id, 0, 100)
		put("trash", trash, err)
		names, err := m.AuthorNames(id)
		put("author names", names, err)
	}
	for _, id := range s.ids {
		meta, err := m.Store().Meta(id)
		if errors.Is(err, docs.ErrNotFound) {
			meta, err = m.Store().DeletedMeta(id)
		}
		put("meta", meta, err)
		for _, link := range []string{meta.EditLink, meta.ViewLink} {
			l, err := m.ResolveLink(link)
			put("link", l, err)
			l, err = m.ResolveDeletedLink(link)
			put("deleted link", l, err)
		}
		revs, err := m.Store().Revisions(id, 0, 10_000)
		put("revisions", revs, err)
		for _, rev := range []uint64{0, 1, meta.Rev / 3, meta.Rev / 2, meta.Rev - 1, meta.Rev} {
			text, err := m.TextAt(id, rev)
			put(fmt.Sprint("text at ", rev), text.String(), err)
		}
		labels, err := m.Labels(id)
		put("labels", labels, err)
		chat, err := m.Chat(id, 0, 100)
		put("chat", chat, err)
		names, err := m.Store().Names(id, 0)
		put("names", names, err)
		authors, err := m.Authors(id, []string{"alice", "bob", "carol"})
		put("authors", authors, err)
		sessions, err := m.Sessions(id, 0, 100)
		put("sessions", sessions, err)
		blame, err := m.Blame(id, meta.Rev)
		put("blame", blame, err)
		for _, op := range []string{"bob:20", "carol-1:500"} {
			rev, ok, err := m.Store().LookupOpID(id, op)
			put("op "+op, []any{rev, ok}, err)
		}
	}
	err := m.View(func(tx *kv.Tx) error {
		b := tx.Bucket([]byte("extra"))
		if b == nil {
			return errors.New("no bucket extra")
		}
		nested := b.Bucket([]byte("nested"))
		h := sha256.New()
		nested.ForEach(func(k, v []byte) error {
			h.Write(k)
			h.Write(v)
			return nil
		})
		put("extra", []any{b.Get([]byte("empty")), nested.Sequence(), nested.Stats().KeyN, h.Sum(nil)}, nil)
		return nil
	})
	put("extra read", nil, err)
	journal, err := m.Journal(docs.JournalQuery{Limit: 1000})
	put("journal", journal, err)
	key, err := m.Setting("embed-key", func() []byte { return []byte("a key made anew") })
	put("embed key", string(key), err)
	return b.String()
}

// A single-node database migrated into a new cluster: three nodes that
// start on it, with new replica files, read the same workspaces,
// documents, histories, links, trash, chat, labels, authors, journal and
// settings as the database; then they edit on from there.
func TestMigrate(t *testing.T) {
	s := makeSource(t)
	logs, _ := cluster(t)
	var out bytes.Buffer
	start := time.Now()
	if err := docs.Migrate(s.path, logs[0], &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("migrated in %v:\n%s", time.Since(start).Round(time.Millisecond), out.String())

	ref, err := docs.Open(s.path, docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := dump(t, ref, s)
	goneText, err := ref.TextAt(s.ids[1], 21)
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	if meta := strings.Count(want, `"rev":`); meta < 3000 {
		t.Fatalf("the source has only %d revisions:\n%s", meta, want)
	}
	if !strings.Contains(want, `"deletedBy":"carol"`) || !strings.Contains(want, "the server's own key") {
		t.Fatalf("the source lacks its deleted document or its key:\n%s", want)
	}
	ms := nodes(t, logs)
	for i, m := range ms {
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, m, s); got != want {
			t.Fatalf("node %d differs from the source:\n%s", i, lineDiff(want, got))
		}
	}

	// The cluster goes on from there: an edit on one node, a chat message
	// on another (numbered after the source's), the deleted document
	// restored on the third.
	big, gone := s.ids[0], s.ids[1]
	d, err := ms[0].Open(big)
	if err != nil {
		t.Fatal(err)
	}
	text, rev, _ := d.Text()
	res, err := d.Submit(docs.Edit{Base: rev, Op: *new(ot.Operation).Retain(text.Len()).Insert("// end\n"), Author: "erin", OpID: "erin:1"})
	d.Release()
	if err != nil || res.Rev != rev+1 {
		t.Fatalf("edit after the migration: %+v, %v", res, err)
	}
	msg, err := ms[1].AppendChat(big, docs.ChatMessage{User: "bob", Text: "after"}, 1000)
	if err != nil || msg.Seq != 4 {
		t.Fatalf("chat after the migration: %+v, %v", msg, err)
	}
	if _, err := ms[2].Undelete(gone, "restored.txt", docs.By{Author: "alice"}); err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		got, err := m.TextAt(big, rev+1)
		if err != nil || got.String() != text.String()+"// end\n" {
			t.Fatalf("node %d: text after the edit: %v", i, err)
		}
		if text, err := m.TextAt(gone, 21); err != nil || text.String() != goneText.String() {
			t.Fatalf("node %d: the restored document's text %q, %v", i, text.String(), err)
		}
		if meta, err := m.Store().Meta(gone); err != nil || meta.Name != "restored.txt" {
			t.Fatalf("node %d: the restored document: %+v, %v", i, meta, err)
		}
	}
}

// lineDiff shows where got first differs from want: the line, and the
// bytes around the first difference.
func lineDiff(want, got string) string {
	at := 0
	for at < len(want) && at < len(got) && want[at] == got[at] {
		at++
	}
	line := strings.Count(want[:at], "\n") + 1
	from := max(0, at-300)
	return fmt.Sprintf("line %d, byte %d:\nwant …%s…\ngot  …%s…", line, at, want[from:min(len(want), at+300)], got[from:min(len(got), at+300)])
}

// Migrate refuses a Log that has entries, and a cluster node's replica
// for a database.
func TestMigrateRefuses(t *testing.T) {
	src := filepath.Join(t.TempDir(), "collab.db")
	m, err := docs.Open(src, docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(docs.CreateParams{Name: "a.txt", Text: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	logs, srvs := cluster(t)
	ms := nodes(t, logs[:1])
	if _, err := ms[0].CreateWorkspace(); err != nil {
		t.Fatal(err)
	}
	err = docs.Migrate(src, logs[1], &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("migrating into a log with entries: %v", err)
	}
	// Another stream, empty; node 0's replica is no database to migrate.
	nc, err := nats.Connect(srvs[1].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := Open(ctx, nc, Config{Stream: "OTHER", Prefix: "other", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	replica := ms[0].Store().DB().Path()
	ms[0].Close()
	err = docs.Migrate(replica, other, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("migrating a replica: %v", err)
	}
	if last, err := other.Last(); err != nil || last != 0 {
		t.Fatalf("the refused migration wrote to the log: %d, %v", last, err)
	}
}
