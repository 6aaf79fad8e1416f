package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProbe runs the three nodes in this process for a moment: each
// publishes its share, and each follows every node's messages, all of
// them; the summary counts them.
func TestProbe(t *testing.T) {
	c := config{Rate: 300, Duration: 300 * time.Millisecond, Docs: 9, Size: 100, Dir: t.TempDir()}
	for i := range 3 {
		c.ClientPorts[i], c.RoutePorts[i] = freePort(t), freePort(t)
	}
	reports := make([]report, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { reports[i], errs[i] = node(c, i) })
	}
	wg.Wait()
	published := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if reports[i].Published == 0 || reports[i].CPU <= 0 {
			t.Errorf("node %d: %+v", i, reports[i])
		}
		published += reports[i].Published
	}
	for i, r := range reports {
		if r.Followed != published {
			t.Errorf("node %d followed %d messages of the %d published", i, r.Followed, published)
		}
	}
	if s := summary(c, reports); !strings.Contains(s, "µs per message") {
		t.Errorf("summary: %s", s)
	}
}

// TestBadFlags: nonsense is refused before anything starts.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-rate", "0"}, {"-docs", "1"}, {"-duration", "0s"}, {"-node", "5", "-dir", t.TempDir()}} {
		if err := run(args, &strings.Builder{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
