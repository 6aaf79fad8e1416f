package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/apitest"
	"github.com/collab-editor/collab/internal/server"
	"github.com/gorilla/websocket"
)

// startRun runs the real entry point on 127.0.0.1:0 (or addr) and returns
// its base URL and a stop function that shuts it down gracefully.
func startRun(t *testing.T, data, addr string, extra ...string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	args := append([]string{"-addr", addr, "-data", data, "-log-level", "warn"}, extra...)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("server did not start: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return base, stop
}

// apiChecker checks the tests' API exchanges against the server's OpenAPI
// description; built once, as compiling its schemas is the costly part.
var apiChecker = sync.OnceValues(func() (*apitest.Checker, error) {
	return apitest.New(server.OpenAPI())
})

// apiClient is an HTTP client whose every API request, and the answer to
// it, is checked against the OpenAPI description: a mismatch fails t.
func apiClient(t testing.TB) *http.Client {
	t.Helper()
	c, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: c.Transport(t, nil)}
}

func createDoc(t *testing.T, base, name, text string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "text": text})
	resp, err := apiClient(t).Post(base+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		t.Fatalf("create: %s", resp.Status)
	}
	return doc.ID
}

type restDoc struct {
	Rev  uint64 `json:"rev"`
	Text string `json:"text"`
}

func getDoc(t *testing.T, base, id string) restDoc {
	t.Helper()
	resp, err := apiClient(t).Get(base + "/api/docs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d restDoc
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// opIDs returns the op id of every revision, in order.
func opIDs(t *testing.T, base, id string) []string {
	t.Helper()
	var ids []string
	after := uint64(0)
	for {
		resp, err := apiClient(t).Get(fmt.Sprintf("%s/api/docs/%s/revisions?after=%d&limit=1000", base, id, after))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Revisions []struct {
				Rev uint64 `json:"rev"`
				ID  string `json:"id"`
			} `json:"revisions"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Revisions {
			if r.Rev != after+1 {
				t.Fatalf("revision %d after %d: a gap in the log", r.Rev, after)
			}
			ids = append(ids, r.ID)
			after = r.Rev
		}
		if len(page.Revisions) < 1000 {
			return ids
		}
	}
}

// delayProxy forwards TCP connections to target, delaying every chunk by a
// random 0-maxDelay in each direction (order kept), like a jittery network.
func delayProxy(t *testing.T, target string, maxDelay time.Duration, seed uint64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 7))
	delay := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.Int64N(int64(maxDelay)))
	}
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(delay()) // the network's jitter: the workload
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return "http://" + ln.Addr().String()
}

// ackSignal is what a test's OnAck gives (note) so that the test can wait
// until enough edits are acknowledged (wait) instead of sleeping while
// its clients type.
type ackSignal chan struct{}

func newAckSignal() ackSignal { return make(ackSignal, 1) }

// note says an edit was acknowledged; it never blocks.
func (s ackSignal) note() {
	select {
	case s <- struct{}{}:
	default: // one is pending already: it wakes the waiter
	}
}

// wait waits until count() reaches n, checked after each acknowledgement,
// failing the test if ctx ends first.
func (s ackSignal) wait(ctx context.Context, t *testing.T, count func() int, n int) {
	t.Helper()
	for count() < n {
		select {
		case <-s:
		case <-ctx.Done():
			t.Fatalf("only %d edits acknowledged, waiting for %d", count(), n)
		}
	}
}

func seedOf(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

// randomEdit makes a typing-like edit: mostly short inserts (with emoji and
// CJK), some deletes.
func randomEdit(rng *rand.Rand, c *client.Client) error {
	words := []string{"a", "bc", "😀", "日本", "x\n", " ", "é", "\r\n", "func"}
	return c.EditFunc(func(n int) (client.Op, error) {
		if n > 0 && rng.IntN(4) == 0 {
			p := rng.IntN(n)
			k := 1 + rng.IntN(min(3, n-p))
			return *new(client.Op).Retain(p).Delete(k).Retain(n - p - k), nil
		}
		p := rng.IntN(n + 1)
		return *new(client.Op).Retain(p).Insert(words[rng.IntN(len(words))]).Retain(n - p), nil
	})
}

func TestClientsConvergeWithDelaysAndDisconnects(t *testing.T) {
	base, _ := startRun(t, filepath.Join(t.TempDir(), "c.db"), "", "-ops-per-second", "1000")
	id := createDoc(t, base, "main.go", "package main\n")
	seed := seedOf(t)
	proxy := delayProxy(t, strings.TrimPrefix(base, "http://"), 15*time.Millisecond, seed)
	const clients, edits = 12, 40
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]uint64{}
		cs    = make([]*client.Client, clients)
	)
	for i := range cs {
		c, err := client.Dial(ctx, client.Config{URL: proxy, Doc: id, Name: fmt.Sprintf("bot%d", i), MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			OnAck: func(a client.Ack) {
				mu.Lock()
				defer mu.Unlock()
				if _, dup := acked[a.Public]; dup {
					t.Errorf("op %s acknowledged twice", a.ID)
				}
				acked[a.Public] = a.Rev
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range edits {
				if err := randomEdit(rng, c); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if rng.IntN(15) == 0 {
					c.Drop()
				}
				time.Sleep(time.Duration(rng.IntN(8)) * time.Millisecond) // think time: the workload
			}
		}()
	}
	wg.Wait()
	for i, c := range cs {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatalf("client %d never synced: %v", i, err)
		}
	}
	head := getDoc(t, base, id)
	for i, c := range cs {
		if err := c.WaitRev(ctx, head.Rev); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if got := c.Text(); got != head.Text {
			t.Fatalf("client %d diverged at rev %d:\n got %q\nwant %q", i, head.Rev, got, head.Text)
		}
	}
	mu.Lock()
	checkExactlyOnce(t, base, id, acked)
	mu.Unlock()
	var reconnects int
	for _, c := range cs {
		reconnects += c.Stats().Reconnects
	}
	t.Logf("%d revisions, %d acked edits, %d reconnects", head.Rev, len(acked), reconnects)
}

// checkExactlyOnce: every acknowledged op id is in the log once, at its
// acknowledged revision, and no op id appears twice.
func checkExactlyOnce(t *testing.T, base, id string, acked map[string]uint64) {
	t.Helper()
	ids := opIDs(t, base, id)
	seen := map[string]uint64{}
	for i, opID := range ids {
		if opID == "" {
			continue
		}
		if prev, dup := seen[opID]; dup {
			t.Fatalf("op %s applied twice, at %d and %d", opID, prev, i+1)
		}
		seen[opID] = uint64(i + 1)
	}
	for opID, rev := range acked {
		if seen[opID] != rev {
			t.Fatalf("acknowledged op %s at %d, log has it at %d", opID, rev, seen[opID])
		}
	}
}

func TestRestartMidSessionLosesNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "r.db")
	base, stop := startRun(t, data, "", "-ops-per-second", "1000")
	addr := strings.TrimPrefix(base, "http://")
	id := createDoc(t, base, "notes.md", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	acked := map[string]uint64{}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	ackedSome := newAckSignal()
	cs := make([]*client.Client, 4)
	for i := range cs {
		c, err := client.Dial(ctx, client.Config{URL: base, Doc: id, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			OnAck: func(a client.Ack) { mu.Lock(); acked[a.Public] = a.Rev; mu.Unlock(); ackedSome.note() }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	seed := seedOf(t)
	var wg sync.WaitGroup
	restarted := make(chan struct{})
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for k := 0; k < 60; k++ {
				if err := randomEdit(rng, c); err != nil {
					t.Error(err)
					return
				}
				if k == 30 {
					<-restarted
				}
				time.Sleep(2 * time.Millisecond) // think time: the workload
			}
		}()
	}
	// Stop mid-session, with edits going on: each client makes 30 before
	// it waits for the restart, acknowledged one by one or a few together.
	ackedSome.wait(ctx, t, count, 20)
	stop()
	base2, _ := startRun(t, data, addr, "-ops-per-second", "1000")
	close(restarted)
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
		if c.Stats().Reconnects == 0 {
			t.Errorf("client %d never reconnected", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	checkExactlyOnce(t, base2, id, acked)
	if n := len(opIDs(t, base2, id)); len(acked) != n {
		t.Errorf("%d edits acknowledged, the log has %d", len(acked), n)
	}
}

func TestHelpListsFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, io.Discard, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{"-addr", "-data", "-log-format", "-log-level", "-max-doc-bytes", "-max-message-bytes", "-ops-per-second", "-sessions-per-doc", "-pong-wait", "-frame-ancestors"} {
		if !strings.Contains(help, "  "+want+" ") && !strings.Contains(help, "  "+want+"\n") {
			t.Errorf("help lacks %s", want)
		}
	}
	// Every flag names its environment variable.
	lines := strings.Split(help, "\n")
	n := 0
	for i, line := range lines {
		if !strings.HasPrefix(line, "  -") || i+1 == len(lines) {
			continue
		}
		n++
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "  -"), " ")
		if !strings.Contains(lines[i+1], "("+envName(name)+")") {
			t.Errorf("-%s does not name %s: %q", name, envName(name), lines[i+1])
		}
	}
	if n < 20 {
		t.Errorf("help lists %d flags:\n%s", n, help)
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	env := map[string]string{
		"COLLAB_ADDR":              "127.0.0.1:9999",
		"COLLAB_LOG_FORMAT":        "json",
		"COLLAB_MAX_DOC_BYTES":     "1234",
		"COLLAB_MAX_MESSAGE_BYTES": "4321",
		"COLLAB_OPS_PER_SECOND":    "7.5",
		"COLLAB_PONG_WAIT":         "3s",
		"COLLAB_PPROF":             "1",
		"COLLAB_API_TOKEN":         "secret",
		"COLLAB_ALLOWED_ORIGINS":   "https://a.example, https://b.example",
		"COLLAB_GIT_CACHE_BYTES":   "1048576",
	}
	o, err := parseFlags([]string{"-ops-per-second", "9"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:9999" || o.logFormat != "json" || o.docs.MaxBytes != 1234 || o.server.MaxMessageBytes != 4321 ||
		o.server.PongWait != 3*time.Second || !o.server.Pprof || o.server.APIToken != "secret" || o.server.GitCacheBytes != 1<<20 ||
		strings.Join(o.server.AllowedOrigins, " ") != "https://a.example https://b.example" {
		t.Errorf("from the environment: %+v", o)
	}
	if o.server.OpsPerSecond != 9 {
		t.Errorf("ops per second %v: the flag should win over COLLAB_OPS_PER_SECOND", o.server.OpsPerSecond)
	}
	if o, err := parseFlags(nil, func(string) string { return "" }, io.Discard); err != nil || o.addr != "127.0.0.1:8080" || o.data != "collab.db" || o.server.GitCacheBytes != 256<<20 {
		t.Errorf("defaults: %+v, %v", o, err)
	}

	// A value that does not parse is an error naming the variable, not
	// silently the default.
	for k, v := range map[string]string{"COLLAB_MAX_DOC_BYTES": "16MiB", "COLLAB_PONG_WAIT": "25", "COLLAB_PPROF": "yes"} {
		_, err := parseFlags(nil, func(name string) string {
			if name == k {
				return v
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}

// TestShutdownClosesSessionsWithGoingAway: when run's context ends (as on
// SIGINT or SIGTERM), open sessions are closed with 1001 so clients
// reconnect elsewhere, and run returns cleanly after closing the database.
func TestShutdownClosesSessionsWithGoingAway(t *testing.T) {
	data := filepath.Join(t.TempDir(), "s.db")
	base, stop := startRun(t, data, "")
	id := createDoc(t, base, "s.txt", "x")
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/docs/"+id+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"join"}`))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan int, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- -1
				}
				return
			}
		}
	}()
	stop() // fails the test if run returns an error
	if code := <-closed; code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001 (going away)", code)
	}
	// The database was closed: it opens again at once.
	base2, _ := startRun(t, data, "")
	if d := getDoc(t, base2, id); d.Text != "x" {
		t.Fatalf("after restart: %+v", d)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func TestMetricsAndHealth(t *testing.T) {
	base, _ := startRun(t, filepath.Join(t.TempDir(), "m.db"), "")
	id := createDoc(t, base, "m.txt", "x")
	c, err := client.Dial(context.Background(), client.Config{URL: base, Doc: id})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Insert(1, "y")
	c.WaitSynced(context.Background())
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := apiClient(t).Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	resp, err := apiClient(t).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"collab_sessions 1", "collab_documents_loaded", "collab_ops_applied_total 1", "collab_transform_depth_bucket",
		"collab_commit_batch_size_bucket", "collab_commit_seconds_bucket", "process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestOtJSClientsConverge runs clients written on ot.js's own client state
// machine (testdata/otjs-client.mjs, with the npm package "ot" installed in
// tools/otjs) against the real server, every message delayed at random,
// all editing one document at once: each ends with the server's text, and
// every acknowledged edit is in the log once.
func TestOtJSClientsConverge(t *testing.T) {
	otDir, _ := filepath.Abs(filepath.Join("..", "..", "tools", "otjs"))
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(otDir, "node_modules", "ot")); err != nil || statErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or tools/otjs/node_modules missing in CI (run npm ci in tools/otjs): %v %v", err, statErr)
		}
		t.Skip("needs node and `npm ci` in tools/otjs")
	}
	// Node has a WebSocket from version 22, in 20 and 21 behind a flag.
	var nodeArgs []string
	for _, args := range [][]string{nil, {"--experimental-websocket"}} {
		out, _ := exec.Command(node, append(args, "-e", "process.stdout.write(typeof WebSocket)")...).Output()
		if string(out) == "function" {
			nodeArgs = append(args, filepath.Join("testdata", "otjs-client.mjs"))
			break
		}
	}
	if nodeArgs == nil {
		t.Fatal("this node has no WebSocket: it needs Node.js 20.10 or newer")
	}
	base, _ := startRun(t, filepath.Join(t.TempDir(), "otjs.db"), "", "-ops-per-second", "1000")
	id := createDoc(t, base, "ot.txt", "ot.js and collab\n")
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/api/docs/" + id + "/ws"
	seed := seedOf(t)
	const clients, edits = 5, 60
	type proc struct {
		in    io.WriteCloser
		out   *bufio.Scanner
		ended chan error // the process's exit, once its output is read
	}
	ps := make([]*proc, clients)
	for i := range ps {
		cmd := exec.Command(node, append(slices.Clip(nodeArgs), otDir, wsURL, fmt.Sprintf("otjs%d", i), fmt.Sprint(edits), fmt.Sprint(seed+uint64(i)), "20")...)
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		pr, pw := io.Pipe()
		cmd.Stdout = pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &proc{in: in, out: bufio.NewScanner(pr), ended: make(chan error, 1)}
		p.out.Buffer(nil, 16<<20)
		go func() {
			err := cmd.Wait()
			pw.CloseWithError(io.EOF)
			p.ended <- err
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			go io.Copy(io.Discard, pr)
			<-p.ended
		})
		ps[i] = p
	}
	line := func(i int) string {
		t.Helper()
		if !ps[i].out.Scan() {
			t.Fatalf("client %d ended: %v", i, <-ps[i].ended)
		}
		return ps[i].out.Text()
	}
	for i := range ps {
		if got := line(i); got != `{"done":true}` {
			t.Fatalf("client %d: %s", i, got)
		}
	}
	head := getDoc(t, base, id)
	acked := map[string]uint64{}
	for i, p := range ps {
		fmt.Fprintln(p.in, head.Rev)
		var end struct {
			Rev   uint64
			Text  string
			Acked []string // public op ids
		}
		if err := json.Unmarshal([]byte(line(i)), &end); err != nil {
			t.Fatal(err)
		}
		if end.Rev != head.Rev || end.Text != head.Text {
			t.Fatalf("client %d at revision %d holds %q; the server at %d %q", i, end.Rev, end.Text, head.Rev, head.Text)
		}
		if len(end.Acked) == 0 {
			t.Fatalf("client %d: no edit acknowledged", i)
		}
		for _, opID := range end.Acked {
			acked[opID] = 0
		}
	}
	ids := opIDs(t, base, id)
	seen := map[string]bool{}
	for _, opID := range ids {
		if opID != "" {
			if seen[opID] {
				t.Fatalf("op %s applied twice", opID)
			}
			seen[opID] = true
		}
	}
	for opID := range acked {
		if !seen[opID] {
			t.Fatalf("acknowledged op %s is not in the log", opID)
		}
	}
	t.Logf("%d ot.js clients, %d revisions, %d acknowledged operations", clients, head.Rev, len(acked))
}

// TestSlowRequestsAndIdleConnectionsAreLetGo: a request whose body never
// finishes and a keep-alive connection left idle are closed by the
// server, not held forever.
func TestSlowRequestsAndIdleConnectionsAreLetGo(t *testing.T) {
	base, _ := startRun(t, filepath.Join(t.TempDir(), "c.db"), "", "-request-timeout", "300ms", "-keepalive-timeout", "300ms")
	host := strings.TrimPrefix(base, "http://")
	closed := func(c net.Conn, what string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: the server kept the connection open", what)
		}
	}
	slow, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/docs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
	closed(slow, "a body that never ends")

	idle, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	closed(idle, "an idle keep-alive connection")
}
