package docs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/ot"
)

// The crash test runs this test binary again as a child (see TestMain)
// that edits a database as fast as it can and prints each edit Submit
// acknowledged; the parent kills it with SIGKILL and checks that every
// acknowledged edit survived, once, where it was acknowledged.
const (
	crashChildEnv   = "COLLAB_CRASH_CHILD"   // "1" in the child
	crashDBEnv      = "COLLAB_CRASH_DB"      // the database file
	crashRunEnv     = "COLLAB_CRASH_RUN"     // which run: op ids are unique across runs
	crashBackendEnv = "COLLAB_CRASH_BACKEND" // the name of the crashBackend
	crashDocs       = 4
	crashWriters    = 8
	crashAcks       = 300 // acknowledged edits to wait for before each kill
	crashRuns       = 3
)

// The child's configuration: small, so that snapshots and the in-memory
// window are crossed often.
var crashConfig = Config{Window: 16, SnapshotEvery: 16}

// A CrashBackend is where the crash test keeps its documents. The test
// runs on each: the local revision log (here), and a cluster's Log on
// NATS JetStream (crash_cluster_test.go, a test of package docs_test,
// which may import the cluster's packages: this one may not).
type CrashBackend struct {
	Name string
	// Start, in the test, starts what every run's child uses (the
	// cluster's servers) and returns the environment the child and
	// Config need to reach it; it stops at the test's end.
	Start func(t *testing.T) (env []string)
	// Config, in the child and in the test's checks, returns the
	// Config's storage fields for the environment, and what releases
	// them once the Manager is closed.
	Config func(env func(string) string) (cfg Config, release func(), err error)
}

var crashBackends = []CrashBackend{{
	Name:   "local",
	Start:  func(*testing.T) []string { return nil },
	Config: func(func(string) string) (Config, func(), error) { return Config{}, func() {}, nil },
}}

// AddCrashBackend adds a backend for the crash test to run on.
func AddCrashBackend(b CrashBackend) { crashBackends = append(crashBackends, b) }

// crashOpen opens the database at path on backend b, with crashConfig.
func crashOpen(b CrashBackend, path string, env func(string) string) (*Manager, func(), error) {
	cfg, release, err := b.Config(env)
	if err != nil {
		return nil, nil, err
	}
	cfg.Window, cfg.SnapshotEvery = crashConfig.Window, crashConfig.SnapshotEvery
	m, err := Open(path, cfg)
	if err != nil {
		release()
		return nil, nil, err
	}
	return m, func() { m.Close(); release() }, nil
}

// crashBackendNamed is the backend the child was started for.
func crashBackendNamed(name string) (CrashBackend, error) {
	for _, b := range crashBackends {
		if b.Name == name {
			return b, nil
		}
	}
	return CrashBackend{}, fmt.Errorf("no crash backend %q", name)
}

// crashOpID names writer w's seq-th op of a run: "<client>:<seq>" for even
// writers, an opaque key for odd ones.
func crashOpID(run string, w, seq int) string {
	if w%2 == 0 {
		return fmt.Sprintf("r%sw%d:%d", run, w, seq)
	}
	return fmt.Sprintf("r%s-w%d-%d", run, w, seq)
}

// crashChild is the child: it opens the database, creates the documents
// if they are not there yet, and has writers submit random edits to them
// until it is killed, printing "ack <doc> <op id> <rev>" to stdout after
// each Submit returns. It returns only on an error.
func crashChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	run := os.Getenv(crashRunEnv)
	b, err := crashBackendNamed(os.Getenv(crashBackendEnv))
	if err != nil {
		return fail(err)
	}
	m, _, err := crashOpen(b, os.Getenv(crashDBEnv), os.Getenv)
	if err != nil {
		return fail(err)
	}
	metas, err := m.Store().ListAll("", crashDocs)
	if err != nil {
		return fail(err)
	}
	for i := len(metas); i < crashDocs; i++ {
		meta, err := m.Create(CreateParams{Name: fmt.Sprintf("f%d.go", i), Text: "package main\n", Workspace: "crash", Author: "init"})
		if err != nil {
			return fail(err)
		}
		metas = append(metas, meta)
	}
	docs := make([]*Document, len(metas))
	for i, meta := range metas {
		if docs[i], err = m.Open(meta.ID); err != nil {
			return fail(err)
		}
	}
	// The parent kills us; this is in case it died first.
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) })

	var out sync.Mutex
	errc := make(chan error, crashWriters)
	for w := range crashWriters {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for seq := 1; ; seq++ {
				d := docs[rng.IntN(len(docs))]
				text, base, _ := d.Text()
				if rng.IntN(4) == 0 {
					// A client a little behind: transformed, sometimes
					// over history read from disk.
					base -= uint64(rng.IntN(int(min(base, 40)) + 1))
					old, err := m.TextAt(d.ID(), base)
					if err != nil {
						errc <- err
						return
					}
					text = old
				}
				opID := crashOpID(run, w, seq)
				res, err := d.Submit(Edit{Base: base, Op: randomEdit(rng, text.String()), Author: fmt.Sprintf("w%d", w), OpID: opID})
				if err != nil {
					errc <- fmt.Errorf("Submit(%s): %w", opID, err)
					return
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %s %s %d\n", d.ID(), opID, res.Rev)
				out.Unlock()
			}
		}()
	}
	return fail(<-errc)
}

// crashAck is one acknowledged edit, as the child printed it.
type crashAck struct {
	doc, opID string
	rev       uint64
}

// TestCrashSafety kills a child process that is busy editing, crashRuns
// times over the same database, and after each kill checks on the
// reopened database that every acknowledged edit is in the log at the
// revision it was acknowledged at, that the logs have no gaps and no op id
// twice, that replaying each log gives the document's text, and that
// resending any acknowledged op applies nothing.
// It runs on every backend: in a cluster, the child is a node (its
// replica the database file), the NATS servers run in the test and
// outlive it, and the checks open the replica on the cluster's Log.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	for _, b := range crashBackends {
		t.Run(b.Name, func(t *testing.T) { crashSafety(t, b) })
	}
}

func crashSafety(t *testing.T, b CrashBackend) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := b.Start(t)
	lookup := func(key string) string {
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				return v
			}
		}
		return ""
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	var acks []crashAck
	for run := range crashRuns {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDBEnv+"="+path, crashRunEnv+"="+strconv.Itoa(run), crashBackendEnv+"="+b.Name)
		cmd.Env = append(cmd.Env, env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timeout := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
		// Read every line, including those written after the kill was
		// sent: each is an acknowledged edit.
		n, killed := 0, false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			rev, err := strconv.ParseUint(f[len(f)-1], 10, 64)
			if len(f) != 4 || f[0] != "ack" || err != nil {
				t.Errorf("the child printed %q", sc.Text())
				continue
			}
			acks = append(acks, crashAck{f[1], f[2], rev})
			if n++; n == crashAcks {
				killed = cmd.Process.Kill() == nil
			}
		}
		timeout.Stop()
		err = cmd.Wait()
		if !killed {
			t.Fatalf("run %d: the child stopped after %d acknowledged edits: %v\n%s", run, n, err, stderr.Bytes())
		}
		if bytes.Contains(stderr.Bytes(), []byte("DATA RACE")) {
			t.Errorf("run %d: the child found a data race:\n%s", run, stderr.Bytes())
		}
		t.Logf("run %d: killed after %d acknowledged edits (%v): %v", run, n, time.Since(start).Round(time.Millisecond), err)
		checkAfterCrash(t, acks, func() (*Manager, func(), error) { return crashOpen(b, path, lookup) })
		if t.Failed() {
			t.FailNow()
		}
	}
}

// checkAfterCrash reopens the database with open and checks it against
// every edit acknowledged so far.
func checkAfterCrash(t *testing.T, acks []crashAck, open func() (*Manager, func(), error)) {
	t.Helper()
	m, closeDB, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	metas, err := m.Store().ListAll("", 100)
	if err != nil || len(metas) != crashDocs {
		t.Fatalf("%d documents, %v", len(metas), err)
	}
	logs := map[string][]Revision{}
	owner := map[string]string{} // op id -> document
	newest := map[string]uint64{}
	rng := rand.New(rand.NewPCG(uint64(len(acks)), 3))
	for _, meta := range metas {
		log := checkLog(t, m, meta.ID)
		logs[meta.ID] = log
		checkSessions(t, m, meta.ID, rng) // the edit sessions' index, replayed with the log
		for _, r := range log {
			if r.OpID == "" {
				continue
			}
			if other, dup := owner[r.OpID]; dup {
				t.Errorf("op id %s is in %s and %s", r.OpID, other, meta.ID)
			}
			owner[r.OpID] = meta.ID
			if client, seq, ok := parseOpID(r.OpID); ok {
				newest[meta.ID+" "+client] = max(newest[meta.ID+" "+client], seq)
			}
		}
	}

	last := map[string]uint64{} // document and writer -> last acknowledged revision
	for _, a := range acks {
		log := logs[a.doc]
		if a.rev == 0 || a.rev > uint64(len(log)) {
			t.Errorf("%s acknowledged at revision %d of %s, which has %d revisions", a.opID, a.rev, a.doc, len(log))
			continue
		}
		if got := log[a.rev-1].OpID; got != a.opID {
			t.Errorf("%s acknowledged at revision %d of %s, which is %q", a.opID, a.rev, a.doc, got)
		}
		if rev, ok, err := m.Store().LookupOpID(a.doc, a.opID); err != nil || !ok || rev != a.rev {
			t.Errorf("LookupOpID(%s) = %d, %v, %v; acknowledged at %d", a.opID, rev, ok, err, a.rev)
		}
		// Each writer waits for one edit before the next, so its
		// revisions of a document grow.
		writer := a.opID[:strings.LastIndexAny(a.opID, ":-")]
		if k := a.doc + " " + writer; a.rev <= last[k] {
			t.Errorf("%s acknowledged at %d, after an earlier op of its writer at %d", a.opID, a.rev, last[k])
		} else {
			last[k] = a.rev
		}
	}

	// Exactly once across the crash: resending any acknowledged op id
	// returns its revision, or, for a client's older op, ErrStaleOp.
	for _, a := range acks {
		d, err := m.Open(a.doc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Submit(Edit{OpID: a.opID, Op: ot.Operation{}})
		d.Release()
		client, seq, isClient := parseOpID(a.opID)
		if isClient && seq < newest[a.doc+" "+client] {
			if !errors.Is(err, ErrStaleOp) {
				t.Errorf("resending %s (not its client's newest): %+v, %v", a.opID, res, err)
			}
			continue
		}
		if err != nil || !res.Duplicate || res.Rev != a.rev {
			t.Errorf("resending %s: %+v, %v; want a duplicate of revision %d", a.opID, res, err, a.rev)
		}
	}
	for id, log := range logs {
		if meta, err := m.Store().Meta(id); err != nil || meta.Rev != uint64(len(log)) {
			t.Errorf("%s: head %d after resending, was %d (%v)", id, meta.Rev, len(log), err)
		}
	}
	total := 0
	for _, log := range logs {
		total += len(log)
	}
	t.Logf("%d revisions in %d documents hold all %d acknowledged edits", total, len(logs), len(acks))
}
