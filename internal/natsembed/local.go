package natsembed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// localAttempts is how many times StartLocal chooses ports.
const localAttempts = 3

// StartLocal starts a new n-node cluster named cluster on 127.0.0.1, with
// free ports, server names <cluster>-1 … <cluster>-n and store
// directories under dir, and waits (bounded by ctx) until its JetStream
// meta leader is elected and every node is current. It is what tests use;
// the nodes behave as separate machines' would, only in one process.
//
// The ports are free when chosen, and something else on the machine (a
// connection's local port, another process's listener) may take one
// before its server binds it: StartLocal then stops what it started,
// clears the store directories it made and starts the cluster again on
// other ports, up to three times. On error it stops whatever it started.
func StartLocal(ctx context.Context, dir, cluster string, n int, syncAlways bool) ([]*Server, error) {
	for attempt := 1; ; attempt++ {
		servers, err := startLocal(ctx, dir, cluster, n, syncAlways)
		if !errors.Is(err, ErrUnavailable) || attempt == localAttempts {
			return servers, err
		}
		for i := range n {
			if err := os.RemoveAll(filepath.Join(dir, localName(cluster, i))); err != nil {
				return nil, err
			}
		}
	}
}

func localName(cluster string, i int) string { return fmt.Sprintf("%s-%d", cluster, i+1) }

func startLocal(ctx context.Context, dir, cluster string, n int, syncAlways bool) ([]*Server, error) {
	ports, err := choosePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	servers := make([]*Server, 0, n)
	stop := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for i := range n {
		name := localName(cluster, i)
		s, err := Start(Config{
			Name:        name,
			StoreDir:    filepath.Join(dir, name),
			Cluster:     cluster,
			ClusterPort: ports[i],
			Routes:      routes,
			SyncAlways:  syncAlways,
		}, 10*time.Second)
		if err != nil {
			stop()
			return nil, err
		}
		servers = append(servers, s)
	}
	if err := WaitReady(ctx, servers...); err != nil {
		stop()
		return nil, err
	}
	return servers, nil
}

// choosePorts is FreePorts; a test hands StartLocal a taken port first.
var choosePorts = FreePorts

// FreePorts finds n distinct ports free on 127.0.0.1 now, by listening on
// port 0 n times at once. Another process may take one before the server
// does; the server then fails to start with ErrUnavailable.
func FreePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("natsembed: no free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
