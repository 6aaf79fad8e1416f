package jetstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// nodes opens a docs.Manager on each Log, each with a bbolt file of its
// own.
func nodes[L docs.Log](t testing.TB, logs []L) []*docs.Manager {
	t.Helper()
	dir := t.TempDir()
	var ms []*docs.Manager
	for i, l := range logs {
		m, err := docs.Open(filepath.Join(dir, fmt.Sprintf("node%d.db", i)), docs.Config{Log: l})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	return ms
}

// opRevisions reads document doc's history on node i of ms, fails if an
// op id is in it twice, and returns each op id's revision.
func opRevisions(t testing.TB, ms []*docs.Manager, i int, doc string) map[string]uint64 {
	t.Helper()
	if err := ms[i].Sync(); err != nil {
		t.Fatal(err)
	}
	revs, err := ms[i].Store().Revisions(doc, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]uint64{}
	for _, r := range revs {
		if _, twice := at[r.OpID]; twice && r.OpID != "" {
			t.Fatalf("node %d: op %s applied twice", i, r.OpID)
		}
		at[r.OpID] = r.Rev
	}
	return at
}

// converged syncs every node of ms and checks that each has document doc
// at revision rev, with the same text.
func converged(t testing.TB, ms []*docs.Manager, doc string, rev uint64) {
	t.Helper()
	var want string
	for i, m := range ms {
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		d, err := m.Open(doc)
		if err != nil {
			t.Fatal(err)
		}
		text, at, _ := d.Text()
		d.Release()
		if at != rev {
			t.Fatalf("node %d at revision %d, want %d", i, at, rev)
		}
		if i == 0 {
			want = text.String()
		} else if text.String() != want {
			t.Fatalf("node %d's text differs:\n%s\nnode 0's:\n%s", i, text.String(), want)
		}
	}
}

// typeInto makes n edits on d as client, each against the head it knows,
// at random places.
func typeInto(d *docs.Document, client string, n int, rng *rand.Rand) error {
	for i := 1; i <= n; i++ {
		if err := typeInto1(d, client, i, rng); err != nil {
			return err
		}
	}
	return nil
}

// typeInto1 is client's edit number i.
func typeInto1(d *docs.Document, client string, i int, rng *rand.Rand) error {
	text, rev, _ := d.Text()
	pos := rng.IntN(text.Len() + 1)
	op := new(ot.Operation).Retain(pos).Insert(fmt.Sprintf("<%s%d>", client, i)).Retain(text.Len() - pos)
	if _, err := d.Submit(docs.Edit{Base: rev, Op: *op, Author: client, OpID: fmt.Sprintf("%s:%d", client, i)}); err != nil {
		return fmt.Errorf("%s edit %d: %w", client, i, err)
	}
	return nil
}

// readsCounted is a Log that counts the reads of a document's runs from
// the stream's leader (Since).
type readsCounted struct {
	*Log
	reads *atomic.Int64
}

func (l readsCounted) Since(doc string, rev uint64) ([]docs.Run, error) {
	l.reads.Add(1)
	return l.Log.Since(doc, rev)
}

// Three nodes edit one document at once: every edit is applied exactly
// once, in one order, and every node ends with the same text and history.
// A node whose edit lost a race takes the winner from its follower, not
// by reading the stream's leader.
func TestNodesEditOneDocument(t *testing.T) {
	logs, _ := cluster(t)
	var reads atomic.Int64
	counted := make([]readsCounted, len(logs))
	for i, l := range logs {
		counted[i] = readsCounted{l, &reads}
	}
	ms := nodes(t, counted)
	meta, err := ms[0].Create(docs.CreateParams{Name: "main.go", Text: "package main\n", Author: "a"})
	if err != nil {
		t.Fatal(err)
	}
	const each = 60
	var wg sync.WaitGroup
	errs := make(chan error, len(ms))
	for i, m := range ms {
		d, err := m.Open(meta.ID) // created on node 0: found everywhere
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer d.Release()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- typeInto(d, fmt.Sprint("n", i), each, rand.New(rand.NewPCG(uint64(i), 1)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// One read per node, opening the document; two to spare for a
	// follower slow to bring a winner on a loaded machine.
	if n := reads.Load(); n > int64(len(ms))+2 {
		t.Errorf("%d reads of the document from the stream's leader, want at most %d", n, len(ms)+2)
	}
	converged(t, ms, meta.ID, 1+3*each)
	for i := range ms {
		if at := opRevisions(t, ms, i, meta.ID); len(at) != 1+3*each {
			t.Fatalf("node %d history: %d revisions", i, len(at))
		}
	}
}

// Metadata written on one node is read on the others: a rename, a new
// document in the same workspace; a node restarted catches up.
func TestNodesShareMetadata(t *testing.T) {
	logs, _ := cluster(t)
	dir := t.TempDir()
	open := func(i int) *docs.Manager {
		m, err := docs.Open(filepath.Join(dir, fmt.Sprintf("node%d.db", i)), docs.Config{Log: logs[i]})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := open(0), open(1)
	defer a.Close()
	meta, err := a.Create(docs.CreateParams{Name: "a.txt", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(meta.ID, "b.txt", "", docs.By{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := a.Store().Meta(meta.ID)
	if err != nil || got.Name != "b.txt" {
		t.Fatalf("node 0 sees %+v, %v", got, err)
	}
	// A name taken: the new document is refused, and its text's revision
	// is not left behind in the stream.
	if _, err := a.Create(docs.CreateParams{Name: "b.txt", Text: "taken", Workspace: meta.Workspace}); !errors.Is(err, docs.ErrConflict) {
		t.Fatalf("a second b.txt: %v", err)
	}
	if n := revSubjects(t, logs[0]); n != 1 {
		t.Fatalf("revisions of %d documents in the stream, want 1", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	other, err := a.Create(docs.CreateParams{Name: "c.txt", Text: "y", Workspace: meta.Workspace})
	if err != nil {
		t.Fatal(err)
	}
	b = open(1) // caught up at start
	defer b.Close()
	list, err := b.Store().List(meta.Workspace, "", "", 10)
	if err != nil || len(list) != 2 || list[0].Name != "b.txt" || list[1].ID != other.ID {
		t.Fatalf("restarted node lists %+v, %v", list, err)
	}
	// A purge on one node removes the document everywhere, and its
	// revisions from the stream.
	if err := b.Purge(other.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store().Meta(other.ID); !errors.Is(err, docs.ErrNotFound) {
		t.Fatalf("purged document on node 0: %v", err)
	}
	if runs, err := logs[2].Since(other.ID, 0); err != nil || len(runs) != 0 {
		t.Fatalf("purged document's revisions: %v, %d runs", err, len(runs))
	}
}

// A revision from another node reaches subscribers with its operation's
// JSON exactly as the writer encoded it, whatever the text holds.
func TestRemoteRevisionsKeepTheirJSON(t *testing.T) {
	logs, _ := cluster(t)
	ms := nodes(t, logs[:2])
	meta, err := ms[0].Create(docs.CreateParams{Name: "u.txt", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ms[1].Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	got := make(chan docs.Revision, 10)
	_, cancel, err := b.Join(func(e docs.Event) {
		for _, r := range e.Revisions {
			got <- r
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	a, err := ms[0].Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	for i, s := range []string{"é\"\\\n\t", "\u2028<>&\x01", "日本語 🎉"} {
		text, rev, _ := a.Text()
		op := new(ot.Operation).Retain(text.Len()).Insert(s)
		if _, err := a.Submit(docs.Edit{Base: rev, Op: *op, OpID: fmt.Sprintf("c:%d", i+1)}); err != nil {
			t.Fatal(err)
		}
		r := <-got
		want := string(op.AppendJSON(nil))
		if string(r.OpJSON()) != want {
			t.Fatalf("revision %d: JSON %q, want %q", r.Rev, r.OpJSON(), want)
		}
	}
}

// An edit sent twice at once (a client's resend after a reconnect, while
// its first copy is still on its way) on a node whose edits keep losing
// races to another's: both copies answer with the revision that holds
// the edit, which the log has once, even when the first copy's revision
// is rolled back and another edit takes its place meanwhile.
func TestResendsRaceRollbacks(t *testing.T) {
	logs, _ := cluster(t)
	ms := nodes(t, logs[:2])
	meta, err := ms[0].Create(docs.CreateParams{Name: "r.go", Text: "package r\n", Author: "a"})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := ms[0].Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Release()
	other, err := ms[1].Open(meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	done := make(chan struct{})
	var typists sync.WaitGroup
	for k := range 2 {
		typists.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(k), 3))
			for i := 1; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if err := typeInto1(busy, fmt.Sprint("busy", k), i, rng); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	type answer struct {
		id  string
		rev uint64
	}
	var answers []answer
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 1; i <= 100; i++ {
		text, rev, _ := other.Text()
		pos := rng.IntN(text.Len() + 1)
		e := docs.Edit{Base: rev, Op: *new(ot.Operation).Retain(pos).Insert(fmt.Sprintf("<o%d>", i)).Retain(text.Len() - pos), Author: "o", OpID: fmt.Sprintf("o:%d", i)}
		var copies sync.WaitGroup
		results := make([]docs.Result, 2)
		errs := make([]error, 2)
		for c := range 2 {
			copies.Go(func() { results[c], errs[c] = other.Submit(e) })
		}
		copies.Wait()
		for c := range 2 {
			if errs[c] != nil {
				t.Fatalf("%s, copy %d: %v", e.OpID, c, errs[c])
			}
			answers = append(answers, answer{e.OpID, results[c].Rev})
		}
		if results[0].Rev != results[1].Rev {
			t.Fatalf("%s answered at revisions %d and %d", e.OpID, results[0].Rev, results[1].Rev)
		}
	}
	close(done)
	typists.Wait()
	for i := range ms {
		at := opRevisions(t, ms, i, meta.ID)
		for _, a := range answers {
			if at[a.id] != a.rev {
				t.Fatalf("node %d: %s answered at revision %d, in the log at %d", i, a.id, a.rev, at[a.id])
			}
		}
	}
}

// An edit handed to another node (Forwarder, docs.Manager.SubmitHere) is
// applied there once, at a revision every node then has: sent again, it
// is a duplicate of that revision; an edit that cannot apply anywhere
// fails the same way it would here; a node that is not there leaves the
// edit to the asking node.
func TestForwardedEdits(t *testing.T) {
	logs, srvs := cluster(t)
	dir := t.TempDir()
	var ms []*docs.Manager
	var fwds []*Forwarder
	for i, l := range logs[:2] {
		nc, err := nats.Connect(srvs[i].ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		fwd := NewForwarder(nc, Config{Timeout: 2 * time.Second})
		node := fmt.Sprint("node", i)
		m, err := docs.Open(filepath.Join(dir, node+".db"), docs.Config{Log: l, Node: node, Forward: fwd.Forward})
		if err != nil {
			t.Fatal(err)
		}
		stop, err := fwd.Serve(m, node)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stop(); m.Close() })
		ms, fwds = append(ms, m), append(fwds, fwd)
	}
	meta, err := ms[0].Create(docs.CreateParams{Name: "f.go", Text: "package f\n", Author: "a"})
	if err != nil {
		t.Fatal(err)
	}
	op := *new(ot.Operation).Retain(10).Insert("// hi\n")
	e := docs.Edit{Base: 1, Op: op, Author: "b", OpID: "b:1"}
	res, err := fwds[1].Forward("node0", meta.ID, e)
	if err != nil || res.Rev != 2 || res.Duplicate {
		t.Fatalf("handed over: %+v, %v", res, err)
	}
	again, err := fwds[1].Forward("node0", meta.ID, e)
	if err != nil || !again.Duplicate || again.Rev != 2 {
		t.Fatalf("handed over again: %+v, %v; want a duplicate of revision 2", again, err)
	}
	for i, m := range ms {
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		_, text, err := m.Head(meta.ID)
		if err != nil || text.String() != "package f\n// hi\n" {
			t.Fatalf("node %d: %q, %v", i, text.String(), err)
		}
	}
	bad := docs.Edit{Base: 2, Op: *new(ot.Operation).Retain(99), Author: "b", OpID: "b:2"}
	if _, err := fwds[1].Forward("node0", meta.ID, bad); !errors.Is(err, docs.ErrBadOperation) {
		t.Fatalf("an edit that does not fit, handed over: %v; want ErrBadOperation", err)
	}
	if _, err := fwds[1].Forward("node9", meta.ID, e); err == nil || errors.Is(err, docs.ErrBadOperation) || !errors.Is(err, docs.ErrNotHandedOver) {
		t.Fatalf("handed to a node that is not there: %v; want a failure to reach it (ErrNotHandedOver)", err)
	}
}

// revSubjects is how many documents have revisions in l's stream.
func revSubjects(t *testing.T, l *Log) int {
	t.Helper()
	info, err := l.stream.Info(context.Background(), jetstream.WithSubjectFilter(l.cfg.Prefix+".rev.*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(info.State.Subjects)
}

// With the stream's majority gone, what a node cannot save is refused as
// a storage failure that names the cluster's log, not a database file:
// a new document's text (an append) and one without (a change set).
func TestRefusalsNameTheLog(t *testing.T) {
	logs, srvs := cluster(t)
	ms := nodes(t, logs[:1])
	srvs[1].Shutdown()
	srvs[2].Shutdown()
	logs[0].Abandon() // refused at once, not after the Log's deadline
	for _, p := range []docs.CreateParams{{Name: "a.txt", Text: "x"}, {Name: "b.txt"}} {
		_, err := ms[0].Create(p)
		if !errors.Is(err, docs.ErrStorage) || !strings.Contains(err.Error(), "the cluster's log") || strings.Contains(err.Error(), "database file") {
			t.Errorf("creating %s: %v", p.Name, err)
		}
	}
}
