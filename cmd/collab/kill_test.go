package main

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
)

// startBinary runs the built server binary and returns its base URL.
func startBinary(t *testing.T, bin, data, addr string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "-addr", addr, "-data", data, "-log-level", "error", "-ops-per-second", "10000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// TestKill9LosesNoAcknowledgedEdit kills the server binary with SIGKILL
// while clients type, restarts it on the same data file and port, and
// checks that every acknowledged edit is in the log exactly once and that
// the clients converge.
func TestKill9LosesNoAcknowledgedEdit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "collab")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	data := filepath.Join(dir, "k.db")
	cmd, base := startBinary(t, bin, data, "127.0.0.1:0")
	id := createDoc(t, base, "k.go", "package k\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	acked := map[string]uint64{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	ackedSome := newAckSignal()
	cs := make([]*client.Client, 6)
	for i := range cs {
		c, err := client.Dial(ctx, client.Config{URL: base, Doc: id, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			OnAck: func(a client.Ack) { mu.Lock(); acked[a.Public] = a.Rev; mu.Unlock(); ackedSome.note() }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	seed := seedOf(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for k := 0; k < 2000; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := randomEdit(rng, c); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // think time: the workload
			}
		}()
	}
	// Kill mid-stream, once plenty has been acknowledged.
	ackedSome.wait(ctx, t, count, 150)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before := count()
	_, base2 := startBinary(t, bin, data, strings.TrimPrefix(base, "http://"))
	// The clients reconnect and go on typing: stop them once plenty more
	// has been acknowledged by the new process.
	ackedSome.wait(ctx, t, count, before+100)
	close(stop)
	wg.Wait()
	for i, c := range cs {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	head := getDoc(t, base2, id)
	for i, c := range cs {
		if err := c.WaitRev(ctx, head.Rev); err != nil {
			t.Fatal(err)
		}
		if c.Text() != head.Text {
			t.Fatalf("client %d diverged", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	checkExactlyOnce(t, base2, id, acked)
	t.Logf("killed with %d edits acknowledged; %d after restart; head %d", before, len(acked), head.Rev)
}
