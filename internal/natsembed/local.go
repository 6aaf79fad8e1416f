package natsembed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	routes := LocalRoutes(ports)
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

// LocalRoutes are the route URLs of servers on 127.0.0.1 listening for
// routes on ports, for every one's Config.Routes.
func LocalRoutes(ports []int) []string {
	routes := make([]string, len(ports))
	for i, p := range ports {
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	return routes
}

// choosePorts is FreePorts; a test hands StartLocal a taken port first.
var choosePorts = FreePorts

// FreePorts finds n distinct ports free on 127.0.0.1 now, and holds them
// all until it returns. On Linux it takes them below the range the kernel
// hands out as outgoing connections' local ports, so that no connection
// on the machine takes one between its choice and its server's bind (or
// while a test's node is down and about to start again on it); another
// process may still bind one, and the server then fails to start with
// ErrUnavailable.
func FreePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	low, high := quietPorts()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if high > low && tries < 100*n {
			addr = "127.0.0.1:" + strconv.Itoa(low+rand.IntN(high-low))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr != "127.0.0.1:0" {
				continue // taken: another
			}
			return nil, fmt.Errorf("natsembed: no free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// quietPorts is the range of ports FreePorts chooses from: from 10000 to
// the first port of the kernel's ephemeral range (Linux's
// ip_local_port_range), or none (low == high) where that range is not
// known or leaves too little room below it.
func quietPorts() (low, high int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	first, err := strconv.Atoi(f[0])
	if err != nil || first < 11000 {
		return 0, 0
	}
	return 10000, first
}
