package gitrepo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// The figures of docs/BENCHMARKS.md: a clone of a workspace of 50 files
// and 100,000 revisions with the real git client, cold (the history made
// from the store) and warm (from memory), and a fetch of one new session.
//
//	go test -run '^$' -bench Git -benchtime 3x ./internal/gitrepo/

// benchWorkspace is a workspace of files files and revisions revisions in
// all, made through the edit path: sessions of ten files edited together,
// fifty revisions each, ten minutes apart.
type benchWorkspace struct {
	m    *docs.Manager
	clk  *clock
	ws   string
	ids  []string
	lens []int
	next int // the next session's number
}

func newBenchWorkspace(b *testing.B, files, revisions int) *benchWorkspace {
	b.Helper()
	m, clk, ws := newWorkspace(b, "bench.db")
	bw := &benchWorkspace{m: m, clk: clk, ws: ws}
	for i := range files {
		meta, err := m.Create(docs.CreateParams{Name: fmt.Sprintf("pkg%d/file%02d.go", i%5, i), Workspace: ws})
		if err != nil {
			b.Fatal(err)
		}
		bw.ids = append(bw.ids, meta.ID)
		bw.lens = append(bw.lens, 0)
	}
	start := time.Now()
	for done := 0; done < revisions; done += 500 {
		bw.session(b, 10, 50)
	}
	b.Logf("made %d files, %d revisions in %d sessions in %v", files, revisions, bw.next, time.Since(start).Round(time.Millisecond))
	return bw
}

// session types one session: rounds rounds of one revision to each of
// width files, concurrently, a second apart.
func (bw *benchWorkspace) session(b *testing.B, width, rounds int) {
	bw.clk.advance(10 * time.Minute)
	s := bw.next
	bw.next++
	for round := range rounds {
		var wg sync.WaitGroup
		for k := range width {
			i := (s*width + k) % len(bw.ids)
			line := fmt.Sprintf("\tx%d := session%d(%d) // round %d\n", k, s, round, round)
			op := new(ot.Operation).Retain(bw.lens[i]).Insert(line)
			bw.lens[i] += len(line)
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := bw.m.Open(bw.ids[i])
				if err != nil {
					b.Error(err)
					return
				}
				defer d.Release()
				_, rev, _ := d.Text()
				if _, err := d.Submit(docs.Edit{Base: rev, Op: *op, Author: fmt.Sprintf("a%d", k%3)}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		bw.clk.advance(time.Second)
	}
}

// serve serves the workspace's repository over HTTP.
func (bw *benchWorkspace) serve(b *testing.B, r *Repos) string {
	a := Access{Workspace: bw.ws, Push: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasSuffix(req.URL.Path, "/info/refs"):
			r.ServeInfoRefs(w, req, a)
		case strings.HasSuffix(req.URL.Path, "/git-upload-pack"):
			r.ServeUploadPack(w, req, a)
		case strings.HasSuffix(req.URL.Path, "/git-receive-pack"):
			r.ServeReceivePack(w, req, a)
		default:
			http.NotFound(w, req)
		}
	}))
	b.Cleanup(srv.Close)
	return srv.URL + "/git/ws"
}

func runGit(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// BenchmarkGit: git clone of the whole history, with the history made
// from the store (cold) or kept in memory (warm); git fetch of one new
// session (ten files, fifty revisions each) into a clone of it.
func BenchmarkGit(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("needs the git command")
	}
	bw := newBenchWorkspace(b, 50, 100_000)
	b.Run("clone", func(b *testing.B) { benchClone(b, bw) })
	b.Run("fetch-one-session", func(b *testing.B) { benchFetch(b, bw) })
}

func benchClone(b *testing.B, bw *benchWorkspace) {
	warm := New(bw.m, Config{})
	deltas := New(bw.m, Config{PackWindow: 10})
	for _, mode := range []string{"cold", "warm", "warm-deltas"} {
		b.Run(mode, func(b *testing.B) {
			var size int64
			for i := 0; i < b.N; i++ {
				r := warm
				switch mode {
				case "cold":
					r = New(bw.m, Config{})
				case "warm-deltas":
					r = deltas
				}
				url := bw.serve(b, r)
				dir := b.TempDir()
				runGit(b, dir, "clone", "-q", "--bare", url, "c.git")
				size = dirSize(filepath.Join(dir, "c.git", "objects"))
			}
			b.ReportMetric(float64(size), "pack-bytes")
			b.ReportMetric(float64(warm.cachedBytes(bw.ws)), "cached-bytes")
		})
	}
}

func benchFetch(b *testing.B, bw *benchWorkspace) {
	r := New(bw.m, Config{})
	url := bw.serve(b, r)
	dir := b.TempDir()
	runGit(b, dir, "clone", "-q", "--bare", url, "c.git")
	clone := filepath.Join(dir, "c.git")
	var fetched int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		bw.session(b, 10, 50)
		before := dirSize(filepath.Join(clone, "objects"))
		b.StartTimer()
		runGit(b, clone, "fetch", "-q", url, "+refs/heads/main:refs/heads/main")
		b.StopTimer()
		fetched = dirSize(filepath.Join(clone, "objects")) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(fetched), "fetched-bytes")
}
