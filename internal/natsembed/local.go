package natsembed

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// StartLocal starts an n-node cluster named cluster on 127.0.0.1, with
// free ports, server names <cluster>-1 … <cluster>-n and store
// directories under dir, and waits (bounded by ctx) until its JetStream
// meta leader is elected and every node is current. It is what tests use;
// the nodes behave as separate machines' would, only in one process.
// On error it stops whatever it started.
func StartLocal(ctx context.Context, dir, cluster string, n int, syncAlways bool) ([]*Server, error) {
	ports, err := freePorts(n)
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
		name := fmt.Sprintf("%s-%d", cluster, i+1)
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

// freePorts finds n ports free on 127.0.0.1 now, by listening on port 0.
// Another process may take one before the server does; the server then
// fails to start with an error that says so.
func freePorts(n int) ([]int, error) {
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
