package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/roombus"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// A backend is where a test server's documents are kept. The protocol
// and REST tests run on every backend (forBackends), as subtests named
// for it: the same test, not a copy of it.
type backend struct {
	name string
	// open returns a Manager, configured by dcfg, on a store of its own
	// for t, and the Bus its server needs (nil for none). What it starts
	// is stopped when t ends, after the server's own cleanup.
	open func(t testing.TB, dcfg docs.Config) (*docs.Manager, Bus)
}

var (
	// localBackend is the single-node default: a bbolt file.
	localBackend = backend{name: "local", open: openLocal}
	// jetstreamBackend is one node of a cluster: a replica bbolt file following a Log
	// on a JetStream stream of its own on the package's NATS server, and
	// a roombus Bus on the same server.
	jetstreamBackend = backend{name: "jetstream", open: openJetStream}

	backends = []backend{localBackend, jetstreamBackend}
)

// forBackends runs fn as a subtest on each backend.
func forBackends(t *testing.T, fn func(t *testing.T, bk backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// testServer starts the real server on an httptest listener, over the
// backend's documents.
func (b backend) testServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	return b.serveTest(t, cfg, docs.Config{MaxBytes: 1 << 20}, nil)
}

// serveTest starts a server on the test's own documents, on the backend,
// with the backend's Bus unless cfg has one, its handler wrapped by wrap
// when set (outside the check of every API exchange against
// openapi.yaml: checkAPI), and stops it (drained, documents closed) when
// the test ends.
func (b backend) serveTest(t testing.TB, cfg Config, dcfg docs.Config, wrap func(http.Handler) http.Handler) (*Server, string) {
	t.Helper()
	mgr, bus := b.open(t, dcfg)
	if cfg.Bus == nil && bus != nil {
		cfg.Bus = bus
	}
	return serveManager(t, cfg, mgr, wrap)
}

func openLocal(t testing.TB, dcfg docs.Config) (*docs.Manager, Bus) {
	t.Helper()
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "test.db"), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	return mgr, nil
}

// testNATS is the package's NATS server, started by the first test that
// needs it and stopped by TestMain.
var testNATS struct {
	once sync.Once
	srv  *natsembed.Server
	dir  string
	err  error
	seq  atomic.Int64 // numbers each test's stream, subjects and node
}

func natsURL(t testing.TB) string {
	t.Helper()
	testNATS.once.Do(func() {
		testNATS.dir, testNATS.err = os.MkdirTemp("", "collab-server-test-nats-")
		if testNATS.err != nil {
			return
		}
		testNATS.srv, testNATS.err = natsembed.Start(natsembed.Config{StoreDir: testNATS.dir}, 10*time.Second)
	})
	if testNATS.err != nil {
		t.Fatal(testNATS.err)
	}
	return testNATS.srv.ClientURL()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testNATS.srv != nil {
		testNATS.srv.Shutdown()
	}
	if testNATS.dir != "" {
		os.RemoveAll(testNATS.dir)
	}
	os.Exit(code)
}

// openJetStream opens a Manager in cluster mode, alone in its cluster:
// its Log is a stream of one replica with a name and subjects no other
// test uses, deleted when t ends.
func openJetStream(t testing.TB, dcfg docs.Config) (*docs.Manager, Bus) {
	t.Helper()
	nc, err := nats.Connect(natsURL(t))
	if err != nil {
		t.Fatal(err)
	}
	n := testNATS.seq.Add(1)
	stream := fmt.Sprintf("T%d", n)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if jsc, err := natsjs.New(nc); err == nil {
			jsc.DeleteStream(ctx, stream)
		}
		nc.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := jetstream.Open(ctx, nc, jetstream.Config{Stream: stream, Prefix: fmt.Sprintf("t%d", n), Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	bus := roombus.New(nc, fmt.Sprintf("node%d", n))
	t.Cleanup(bus.Close)
	dcfg.Log = l
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "replica.db"), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	return mgr, bus
}
