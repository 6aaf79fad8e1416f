package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/natsembed"
	"golang.org/x/sync/errgroup"
)

// TestProbe runs the three nodes in this process for a moment: each
// publishes its share, and each follows every node's messages, all of
// them; the summary counts them.
func TestProbe(t *testing.T) {
	c := config{Rate: 300, Duration: 300 * time.Millisecond, Docs: 9, Size: 100}
	reports, err := probeInProcess(t, &c)
	if err != nil {
		t.Fatal(err)
	}
	published := 0
	for i, r := range reports {
		if r.Published == 0 || r.CPU <= 0 {
			t.Errorf("node %d: %+v", i, r)
		}
		published += r.Published
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

// TestMain lets the test binary be the command when spawn starts it as
// a node (TestAFailedNodeStopsTheOthers).
func TestMain(m *testing.M) {
	if os.Getenv(asCommand) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

const asCommand = "NATSPROBE_TEST_AS_COMMAND"

// TestAFailedNodeStopsTheOthers: a node that cannot start (here node 2,
// its route port taken) ends the probe at once with its own error, rather
// than leaving the other two waiting for a cluster of three until their
// deadline.
func TestAFailedNodeStopsTheOthers(t *testing.T) {
	t.Setenv(asCommand, "1")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	base := taken.Addr().(*net.TCPAddr).Port - 103 // node 2's route port
	start := time.Now()
	err = run([]string{"-port", strconv.Itoa(base), "-duration", "1s", "-dir", t.TempDir()}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "address unavailable") {
		t.Fatalf("probe with a port taken: %v, want the node's ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("the failure took %v to end the probe", d)
	}
	t.Logf("ended in %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestBadFlags: nonsense is refused before anything starts.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-rate", "0"}, {"-docs", "1"}, {"-duration", "0s"}, {"-node", "5", "-dir", t.TempDir()}} {
		if err := run(args, &strings.Builder{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// probeInProcess runs the probe's three nodes in this process, on free
// ports.
func probeInProcess(t *testing.T, c *config) ([]report, error) {
	ports, err := natsembed.FreePorts(6)
	if err != nil {
		return nil, err
	}
	copy(c.ClientPorts[:], ports[:3])
	copy(c.RoutePorts[:], ports[3:])
	c.Dir = t.TempDir()
	return runNodes(*c)
}

// runNodes runs the three nodes of c in this process, as spawn does in
// three: the first to fail stops the others.
func runNodes(c config) ([]report, error) {
	reports := make([]report, 3)
	g, ctx := errgroup.WithContext(context.Background())
	for i := range 3 {
		g.Go(func() (err error) {
			reports[i], err = node(ctx, c, i)
			if err != nil {
				err = fmt.Errorf("node %d: %w", i, err)
			}
			return err
		})
	}
	return reports, g.Wait()
}
