package natsembed

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestStartLocalCluster forms a three-node cluster and checks that it has
// exactly one meta leader, that every node takes client connections, and
// that a replicated stream gets a leader.
func TestStartLocalCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	servers, err := StartLocal(ctx, t.TempDir(), "t", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster ready in %v", time.Since(start))
	defer func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}()
	leaders := 0
	for _, s := range servers {
		if s.IsMetaLeader() {
			leaders++
		}
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		nc.Close()
	}
	if leaders != 1 {
		t.Fatalf("%d meta leaders, want 1", leaders)
	}

	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitStreamLeader(ctx, "S", servers...); err != nil {
		t.Fatal(err)
	}
}

func TestStartBadConfig(t *testing.T) {
	if _, err := Start(Config{}, 0); !errors.Is(err, ErrConfig) {
		t.Fatalf("no StoreDir: %v, want ErrConfig", err)
	}
	if _, err := Start(Config{StoreDir: t.TempDir(), Cluster: "c"}, 0); !errors.Is(err, ErrConfig) {
		t.Fatalf("cluster without name: %v, want ErrConfig", err)
	}
	if _, err := Start(Config{StoreDir: t.TempDir(), Name: "a", Cluster: "c", Routes: []string{"::bad"}}, 0); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad route: %v, want ErrConfig", err)
	}
}

// TestWaitReadyTimesOut checks that a lone node of a three-node cluster
// never reports the cluster formed, and that the wait ends with ctx.
func TestWaitReadyTimesOut(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Config{Name: "alone", StoreDir: t.TempDir(), Cluster: "c", ClusterPort: ports[0], Routes: LocalRoutes(ports)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := WaitReady(ctx, s); !errors.Is(err, ErrNotReady) {
		t.Fatalf("WaitReady of a lone node: %v, want ErrNotReady", err)
	}
}

// TestSingleSyncAlways runs one server that fsyncs every write and stores
// a message on it.
func TestSingleSyncAlways(t *testing.T) {
	s, err := Start(Config{StoreDir: t.TempDir(), SyncAlways: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if !s.Ready() {
		t.Fatal("a single server with JetStream is not ready")
	}
	if s.srv.JetStreamConfig() == nil || !s.srv.JetStreamConfig().SyncAlways {
		t.Fatal("SyncAlways is not on")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	if ack, err := js.Publish("s", []byte("x")); err != nil || ack.Sequence != 1 {
		t.Fatalf("publish: %+v, %v", ack, err)
	}
}

// TestStartPortTaken: a port in use fails the start at once, naming it,
// rather than after the wait for a server that never listens.
func TestStartPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	if _, err := Start(Config{StoreDir: t.TempDir(), Port: port}, 0); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("client port taken: %v, want ErrUnavailable naming %d", err, port)
	}
	if _, err := Start(Config{StoreDir: t.TempDir(), Name: "a", Cluster: "c", ClusterPort: port}, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("route port taken: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v to fail", took)
	}
}

// TestStartLocalChoosesAgain: a port taken between its choice and its
// server's bind (here, on the first choice, by a listener of the test's)
// costs StartLocal a second choice, not the cluster.
func TestStartLocalChoosesAgain(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	choices := 0
	choosePorts = func(n int) ([]int, error) {
		choices++
		ports, err := FreePorts(n)
		if choices == 1 && err == nil {
			ports[n-1] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	defer func() { choosePorts = FreePorts }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	servers, err := StartLocal(ctx, t.TempDir(), "t", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		s.Shutdown()
	}
	if choices != 2 {
		t.Fatalf("ports chosen %d times, want 2", choices)
	}
}

// TestFreePorts: distinct ports, free once it returns, and, where the
// kernel's ephemeral range is known, below it (where no connection's
// local port lands).
func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	low, high := quietPorts()
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		if high > low && (p < low || p >= high) {
			t.Errorf("port %d outside [%d, %d)", p, low, high)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
	}
	t.Logf("ports below %d: %v", high, ports[:5])
}
