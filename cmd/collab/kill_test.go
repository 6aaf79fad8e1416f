package main

import (
	"bufio"
	"bytes"
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

// buildBinary builds the server binary into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "collab")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// proc is a running server binary. Its standard error is kept, and shown
// if the test fails.
type proc struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// launch starts the server binary with args, and the flags every test
// run of it takes; the test's end kills it.
func launch(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-log-level", "warn", "-ops-per-second", "10000"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: bufio.NewReader(out), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			// A Go program stopped by SIGQUIT writes every goroutine's
			// stack: what a stuck server was waiting for.
			cmd.Process.Signal(syscall.SIGQUIT)
			time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
		} else {
			cmd.Process.Kill()
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s %q:\n%s", bin, args, p.stderr)
		}
	})
	return p
}

// listening waits until the server accepts connections and returns its
// base URL.
func (p *proc) listening(t *testing.T) string {
	t.Helper()
	line, err := p.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("server did not start: %v\n%s", err, p.stderr)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// kill kills the process with SIGKILL and waits for it to end.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// TestKill9LosesNoAcknowledgedEdit kills the server binary with SIGKILL
// while clients type, restarts it on the same data file and port, and
// checks that every acknowledged edit is in the log exactly once and that
// the clients converge.
func TestKill9LosesNoAcknowledgedEdit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "k.db")
	p := launch(t, bin, "-addr", "127.0.0.1:0", "-data", data)
	base := p.listening(t)
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
	stop, wg := typeAway(t, cs, seed, 2000, time.Millisecond)
	// Kill mid-stream, once plenty has been acknowledged.
	ackedSome.wait(ctx, t, count, 150)
	p.kill()
	before := count()
	base2 := launch(t, bin, "-addr", strings.TrimPrefix(base, "http://"), "-data", data).listening(t)
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

// typeAway starts a typist for each client: up to n random edits each,
// think apart (the workload), until stop is closed; wait on wg after
// closing it.
func typeAway(t *testing.T, cs []*client.Client, seed uint64, n int, think time.Duration) (stop chan struct{}, wg *sync.WaitGroup) {
	stop, wg = make(chan struct{}), &sync.WaitGroup{}
	for i, c := range cs {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range n {
				select {
				case <-stop:
					return
				default:
				}
				if err := randomEdit(rng, c); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(think) // the workload's pace, not a wait for anything
			}
		})
	}
	return stop, wg
}
