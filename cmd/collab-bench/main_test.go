package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/apitest"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/server"
)

// apiChecker checks the tests' API exchanges against the server's OpenAPI
// description; built once, as compiling its schemas is the costly part.
var apiChecker = sync.OnceValues(func() (*apitest.Checker, error) {
	return apitest.New(server.OpenAPI())
})

// startServer serves a fresh database in-process on a loopback port, with
// the rate limit raised as for a benchmark.
func startServer(t *testing.T) string {
	t.Helper()
	metrics := server.NewMetrics()
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "bench.db"), docs.Config{OnCommit: metrics.ObserveCommit})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{OpsPerSecond: 100000}, mgr, metrics, slog.New(slog.NewTextHandler(io.Discard, nil)))
	checker, err := apiChecker()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(checker.Handler(t, srv))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Drain(ctx)
		hs.Close()
		if err := mgr.Close(); err != nil {
			t.Error(err)
		}
	})
	return hs.URL
}

// runJSON runs the tool with -json and returns its one line, decoded.
func runJSON(t *testing.T, args ...string) Result {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), append(args, "-json"), &out); err != nil {
		t.Fatalf("run %q: %v\n%s", args, err, out.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("want one line of output, got %d:\n%s", n, out.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	return r
}

// checkEditing checks what every editing run must report. There are no
// timing assertions: the machine may be slow.
func checkEditing(t *testing.T, r Result, mode string) {
	t.Helper()
	if !r.Converged || r.ConvergenceError != "" {
		t.Errorf("convergence: %v %q", r.Converged, r.ConvergenceError)
	}
	if r.Mode != mode {
		t.Errorf("mode %q, want %q", r.Mode, mode)
	}
	// An op in flight as the measurement starts (one per client at most)
	// is acknowledged inside it, its edit made before.
	if r.Edits == 0 || r.AckedOps == 0 || r.AckedOps > r.Edits+r.Docs*r.Clients || r.AckMs.N < r.AckedOps {
		t.Errorf("edits %d, acked ops %d, ack latencies %d", r.Edits, r.AckedOps, r.AckMs.N)
	}
	if r.AllPeersMs.N == 0 || r.AllPeersMs.P50 > r.AllPeersMs.Max || r.AckMs.P99 > r.AckMs.Max {
		t.Errorf("latencies: ack %+v, all peers %+v", r.AckMs, r.AllPeersMs)
	}
	if r.FailedClients != 0 {
		t.Errorf("%d clients failed (errors %v)", r.FailedClients, r.ErrorCodes)
	}
	if r.ServerOpsApplied < float64(r.AckedOps) || r.ServerRSSMB <= 0 || r.ServerEditP99Ms <= 0 {
		t.Errorf("server: %.0f ops applied for %d acked, RSS %.1f MB, p99 ≤ %g ms", r.ServerOpsApplied, r.AckedOps, r.ServerRSSMB, r.ServerEditP99Ms)
	}
}

func TestOpenLoop(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	r := runJSON(t, "-url", url, "-docs", "3", "-clients", "3", "-rate", "20", "-duration", "1500ms",
		"-cursor-rate", "5", "-doc-size", "3KB", "-drain", "20s")
	checkEditing(t, r, "open")
	if r.OfferedEditsPerS != 180 || r.Docs != 3 || r.Clients != 3 {
		t.Errorf("config echoed wrong: %+v", r)
	}
	if r.CursorsSent+r.CursorsSkipped == 0 {
		t.Errorf("no cursor updates")
	}
}

// Several URLs: clients are spread over them and the servers' counters
// summed (here two servers, each serving its own documents would not
// converge, so both URLs name one server: its counters count twice).
func TestSeveralURLs(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	r := runJSON(t, "-url", url+","+url+"/", "-docs", "2", "-clients", "3", "-rate", "20", "-duration", "1s", "-drain", "20s")
	checkEditing(t, r, "open")
	if r.ServerOpsApplied < 2*float64(r.AckedOps) {
		t.Errorf("counters not summed over both URLs: %.0f ops applied for %d acked", r.ServerOpsApplied, r.AckedOps)
	}
}

func TestClosedLoop(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	r := runJSON(t, "-url", url, "-docs", "2", "-clients", "3", "-rate", "0", "-duration", "1s",
		"-warmup", "300ms", "-mix", "typing=60,delete=30,paste=10", "-drain", "20s")
	checkEditing(t, r, "closed")
	// One op per edit, as the next edit waits for the previous ack; but an
	// edit and its op may fall on either side of the window's ends.
	if d := r.Edits - r.AckedOps; d < -6 || d > 6 {
		t.Errorf("closed loop: %d edits, %d acked ops", r.Edits, r.AckedOps)
	}
}

// -edits counts exactly, in both modes.
func TestEditCount(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	for _, rate := range []string{"0", "100"} {
		r := runJSON(t, "-url", url, "-docs", "2", "-clients", "2", "-rate", rate, "-edits", "15", "-drain", "20s")
		checkEditing(t, r, map[string]string{"0": "closed", "100": "open"}[rate])
		if r.Edits != 2*2*15 || rate == "0" && r.AckedOps != r.Edits {
			t.Errorf("-rate %s: %d edits and %d acked ops, want 60 edits", rate, r.Edits, r.AckedOps)
		}
	}
}

func TestIdle(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	// 30 connections, 10 per source address: 127.0.0.1, .2 and .3.
	r := runJSON(t, "-url", url, "-idle", "30", "-docs", "3", "-idle-per-addr", "10", "-settle", "200ms")
	if r.Mode != "idle" || r.IdleConns != 30 || r.SourceAddrs != 3 || !r.Converged || r.ServerRSSMB <= 0 {
		t.Errorf("idle: %+v", r)
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-url", url, "-docs", "1", "-clients", "2", "-rate", "0", "-edits", "5"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acknowledged ops/s", "submit→ack:", "submit→all peers:", "µs per acknowledged op", "convergence:       PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-edits", "10"}, io.Discard)
	if err != nil || cfg.Duration != 10*time.Minute || cfg.Mix != (Mix{90, 8, 2}) || cfg.DocSize != 2048 || cfg.GCPercent != 800 {
		t.Errorf("defaults with -edits: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"-docs", "0"}, {"-clients", "0"}, {"-rate", "-1"}, {"-duration", "0s"}, {"-mix", "typing=0"},
		{"-mix", "typing=5,jumping=3"}, {"-doc-size", "5GB"}, {"-url", "ftp://x"}, {"extra"}, {"-gc-percent", "-1"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]int{"0": 0, "5000": 5000, "5KB": 5 << 10, "5MB": 5 << 20, "7b": 7, "2kb": 2048} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if !loopbackV4("http://127.0.0.1:8089") || loopbackV4("http://[::1]:8089") || loopbackV4("http://example.com") {
		t.Error("loopbackV4")
	}
}

// Every generated edit fits the text it is made against, and generated
// text is valid UTF-8 of at most the size asked for.
func TestEditGen(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for size := range 200 {
		s := codeText(rng, size)
		if len(s) > size || len(s) < size-3 || !utf8.ValidString(s) {
			t.Fatalf("codeText(%d): %d bytes, valid %v", size, len(s), utf8.ValidString(s))
		}
	}
	g := editGen{rng: rng, mix: Mix{Typing: 5, Delete: 4, Paste: 1}}
	text := ""
	for i := range 2000 {
		n := utf8.RuneCountInString(text)
		op := g.next(n)
		if op.BaseLen() != n {
			t.Fatalf("edit %d: base length %d, text %d", i, op.BaseLen(), n)
		}
		var err error
		if text, err = op.Apply(text); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
		if len(text) > 64<<10 {
			text = text[:0]
		}
	}
}

func TestCheckIDs(t *testing.T) {
	log := map[string]int{"a:1": 1, "a:2": 1, "b:1": 1}
	if err := checkIDs([]string{"a:1", "b:1"}, log); err != nil {
		t.Error(err)
	}
	if err := checkIDs([]string{"a:1", "a:3"}, log); err == nil {
		t.Error("a missing op passed")
	}
	log["b:1"] = 2
	if err := checkIDs([]string{"a:1"}, log); err == nil || !strings.Contains(err.Error(), "b:1") {
		t.Errorf("a duplicate op: %v", err)
	}
}

func TestQuantiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(d)
	if q != (Quant{N: 100, P50: 50, P95: 95, P99: 99, Max: 100}) {
		t.Errorf("%+v", q)
	}
	if quantiles(nil) != (Quant{}) {
		t.Error("empty")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP x\nprocess_cpu_seconds_total 1.5\ngo_gc_duration_seconds{quantile=\"0\"} 3\nprocess_resident_memory_bytes 2.5e+07\n"))
	if err != nil || m["process_cpu_seconds_total"] != 1.5 || m["process_resident_memory_bytes"] != 2.5e7 || len(m) != 2 {
		t.Errorf("%v %v", m, err)
	}
	if _, err := parseMetrics(strings.NewReader("up 1\n")); err == nil {
		t.Error("metrics without process_cpu_seconds_total accepted")
	}
}

// TestBucketQuantile: the server-side p99 is the bound of the bucket that
// holds it, counted between the two scrapes.
func TestBucketQuantile(t *testing.T) {
	scrape := func(n1, n2, n4, inf float64) metrics {
		text := fmt.Sprintf("process_cpu_seconds_total 1\n"+
			"collab_edit_seconds_bucket{le=\"0.001\"} %g\ncollab_edit_seconds_bucket{le=\"0.002\"} %g\n"+
			"collab_edit_seconds_bucket{le=\"0.004\"} %g\ncollab_edit_seconds_bucket{le=\"+Inf\"} %g\ncollab_edit_seconds_count %g\n",
			n1, n2, n4, inf, inf)
		m, err := parseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Before: 1,000 observations all within 1 ms. Between the scrapes:
	// 1,000 more, 980 within 1 ms, 995 within 2 ms, all within 4 ms.
	m0, m1 := scrape(1000, 1000, 1000, 1000), scrape(1980, 1995, 2000, 2000)
	if got := bucketQuantile(m0, m1, "collab_edit_seconds", 0.99); got != 0.002 {
		t.Errorf("p99 bound %g, want 0.002", got)
	}
	if got := bucketQuantile(m0, m1, "collab_edit_seconds", 0.9); got != 0.001 {
		t.Errorf("p90 bound %g, want 0.001", got)
	}
	if got := boundMs(bucketQuantile(m0, m1, "collab_edit_seconds", 1)); got != 4 {
		t.Errorf("slowest bound %g ms, want 4", got)
	}
	if got := bucketQuantile(m0, m0, "collab_edit_seconds", 0.99); got != 0 {
		t.Errorf("no observations: %g, want 0", got)
	}
	if got := bucketQuantile(m0, scrape(1000, 1000, 1000, 2000), "collab_edit_seconds", 0.99); !math.IsInf(got, 1) {
		t.Errorf("every observation past the last bound: %g, want +Inf", got)
	}
	if got := boundMs(math.Inf(1)); got != -1 {
		t.Errorf("past the last bound: %g ms, want -1", got)
	}
}

// TestServerReset: a server that restarts between the two scrapes starts
// its counters again from zero. The tool must notice, report the figures
// of the new process alone and say so, and never print a negative figure.
func TestServerReset(t *testing.T) {
	// scrape is /metrics of a server whose process started at start, after
	// commits group commits taking commitSum seconds in all, spread over
	// the buckets of collab_commit_seconds as commitLE (≤ 1, 2, 4 ms).
	scrape := func(start, cpu, ops, commits, commitSum float64, commitLE [3]float64) metrics {
		text := fmt.Sprintf("process_cpu_seconds_total %g\nprocess_start_time_seconds %g\nprocess_resident_memory_bytes 5e+07\n"+
			"go_gc_duration_seconds{quantile=\"0.5\"} 0.0001\ngo_gc_duration_seconds_sum 0.01\ngo_gc_duration_seconds_count %g\n"+
			"collab_sessions 9\ncollab_ops_applied_total %g\n"+
			"collab_commit_batch_size_bucket{le=\"+Inf\"} %g\ncollab_commit_batch_size_sum %g\ncollab_commit_batch_size_count %g\n"+
			"collab_commit_seconds_bucket{le=\"0.001\"} %g\ncollab_commit_seconds_bucket{le=\"0.002\"} %g\n"+
			"collab_commit_seconds_bucket{le=\"0.004\"} %g\ncollab_commit_seconds_bucket{le=\"+Inf\"} %g\n"+
			"collab_commit_seconds_sum %g\ncollab_commit_seconds_count %g\n"+
			"collab_edit_seconds_bucket{le=\"0.004\"} %g\ncollab_edit_seconds_bucket{le=\"+Inf\"} %g\n"+
			"collab_edit_seconds_sum %g\ncollab_edit_seconds_count %g\n",
			cpu, start, commits/10, ops, commits, ops, commits,
			commitLE[0], commitLE[1], commitLE[2], commits, commitSum, commits,
			ops, ops, ops*0.002, ops)
		m, err := parseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// The old process made 1,000 commits in 6 s; the new one, since the
	// restart, 1,500 in 4.66 s: 3.11 ms each, 990 within 2 ms and all
	// within 4 ms. The differences would read -2.68 ms a commit.
	before := scrape(1000, 50, 20000, 1000, 6, [3]float64{100, 700, 990})
	after := scrape(1200, 3, 6000, 1500, 4.66, [3]float64{0, 990, 1500})
	// A restart that shows only in the start time: every counter of the
	// new process passed the old one's.
	onlyStart := scrape(1200, 60, 30000, 2000, 8, [3]float64{100, 1000, 2000})
	// No restart: 1,000 more commits, 8 ms in all, 990 within 2 ms.
	later := scrape(1000, 60, 30000, 2000, 14, [3]float64{1000, 1690, 1990})

	for _, tc := range []struct {
		name         string
		m1           metrics
		reset        bool
		commits      float64
		commitMs     float64
		commitP99Ms  float64
		opsPerCommit float64
	}{
		{"counters lower", after, true, 1500, 4.66 / 1500 * 1000, 4, 4},
		{"start time", onlyStart, true, 2000, 8.0 / 2000 * 1000, 4, 15},
		{"no restart", later, false, 1000, 8, 2, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Result{Mode: "open", Docs: 1, Clients: 1}
			r.server(before, tc.m1)

			var js bytes.Buffer
			if err := report(&js, Config{JSON: true}, r); err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(js.Bytes(), &fields); err != nil {
				t.Fatal(err)
			}
			if fields["serverReset"] != tc.reset {
				t.Errorf("serverReset %v, want %v:\n%s", fields["serverReset"], tc.reset, js.String())
			}
			for k, v := range fields {
				if f, ok := v.(float64); ok && f < 0 {
					t.Errorf("%s is %g:\n%s", k, f, js.String())
				}
			}
			if r.ServerCommits != tc.commits || math.Abs(r.ServerCommitMs-tc.commitMs) > 1e-9 ||
				r.ServerCommitP99Ms != tc.commitP99Ms || r.ServerOpsPerCommit != tc.opsPerCommit {
				t.Errorf("%.0f commits, %.4f ms each, p99 ≤ %g ms, %g ops a commit; want %.0f, %.4f, %g, %g",
					r.ServerCommits, r.ServerCommitMs, r.ServerCommitP99Ms, r.ServerOpsPerCommit,
					tc.commits, tc.commitMs, tc.commitP99Ms, tc.opsPerCommit)
			}

			var text bytes.Buffer
			if err := report(&text, Config{}, r); err != nil {
				t.Fatal(err)
			}
			const note = "server restarted during the run: server-side figures cover only the time since the restart"
			if strings.Contains(text.String(), note) != tc.reset {
				t.Errorf("restart noted %v, want %v:\n%s", !tc.reset, tc.reset, text.String())
			}
			if strings.Contains(text.String(), " -") {
				t.Errorf("a negative figure:\n%s", text.String())
			}
		})
	}
}
