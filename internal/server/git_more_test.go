package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
)

// The tests of what the history keeps through renames, deletions and new
// names, of tokens on git, and of pushes of several commits.

// typists are editors typing into one document until stopped, each a
// token at a time: a code point of a private use area of its own, which
// no insert elsewhere can split, so each can be counted in the text.
type typists struct {
	t        *testing.T
	clients  []*client.Client
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	tokens   [][]string
}

// halt stops the typing and waits for the editors to stop.
func (ty *typists) halt() {
	ty.stopOnce.Do(func() { close(ty.stop) })
	ty.wg.Wait()
}

// startTyping dials n editors into doc and has them type; it returns once
// each has typed some. Editors of one test are numbered from first, so
// that no two type the same tokens.
func startTyping(t *testing.T, ctx context.Context, base, doc string, first, n int) *typists {
	t.Helper()
	ty := &typists{t: t, stop: make(chan struct{}), tokens: make([][]string, n)}
	started := make(chan struct{}, n)
	for k := first; k < first+n; k++ {
		c, err := client.Dial(ctx, client.Config{URL: base, Doc: doc, Name: fmt.Sprintf("Typist %d", k), Author: fmt.Sprintf("secret-of-typist-%d", k)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ty.clients = append(ty.clients, c)
		ty.wg.Add(1)
		go func() {
			defer ty.wg.Done()
			for i := 0; ; i++ {
				if i == 10 {
					started <- struct{}{}
				}
				if i >= 20 {
					select {
					case <-ty.stop:
						return
					default:
					}
				}
				tok := string(rune(0xE000 + k*0x400 + i%0x400))
				if err := c.Insert((i*37*(k+1))%(c.Len()+1), tok); err != nil {
					t.Error(err)
					return
				}
				ty.tokens[k-first] = append(ty.tokens[k-first], tok)
				if i%5 == 0 {
					c.WaitSynced(ctx)
				}
			}
		}()
	}
	// Before the clients close, whatever ends the test.
	t.Cleanup(ty.halt)
	for range n {
		<-started
	}
	return ty
}

// finish stops the typing, waits for every editor to converge with the
// server, and checks that each token is in the text once. It returns the
// text.
func (ty *typists) finish(ctx context.Context, base, doc string) string {
	ty.t.Helper()
	ty.halt()
	for _, c := range ty.clients {
		if err := c.WaitSynced(ctx); err != nil {
			ty.t.Fatal(err)
		}
	}
	text, rev := restText(ty.t, base, doc)
	for _, c := range ty.clients {
		if err := c.WaitRev(ctx, rev); err != nil {
			ty.t.Fatal(err)
		}
		if c.Text() != text {
			ty.t.Fatalf("an editor has %q, the server %q", c.Text(), text)
		}
	}
	for _, ts := range ty.tokens {
		for _, tok := range ts {
			if n := strings.Count(text, tok); n != 1 {
				ty.t.Fatalf("token %U is in the text %d times: %q", []rune(tok)[0], n, text)
			}
		}
	}
	return text
}

// write writes files into the clone in dir and commits them.
func (g *gitWorld) commitFiles(dir, msg string, files map[string]string) {
	g.t.Helper()
	for p, text := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(text), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.git(dir, "add", "-A")
	g.git(dir, "commit", "-qm", msg)
}

// lines is n numbered lines.
func lines(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	return out
}

func joinLines(ls []string) string { return strings.Join(ls, "\n") + "\n" }

// TestGitMultiCommitPushWhileTyping: three commits changing one file (and
// another) in turn, pushed while two editors type in it: everyone
// converges, each commit's change is in the text once, each keystroke
// once. A fourth commit on top, pushed without pulling while they go on
// typing (git sends the three again), applies only its own change.
func TestGitMultiCommitPushWhileTyping(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	ls := lines(20)
	g.create("live.txt", joinLines(ls), "alice-1")
	g.create("notes.md", "notes\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	dir := g.clone(g.edit)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ty := startTyping(t, ctx, g.base, g.docs["live.txt"], 0, 2)
	// Commit 1 rewrites line 3 and appends; commit 2 rewrites line 3
	// again (its own change) and line 12; commit 3 removes line 7 and
	// changes notes.md.
	c1 := slices.Clone(ls)
	c1[3] = "LINE THREE, FIRST"
	c1 = append(c1, "appended by one")
	g.commitFiles(dir, "one", map[string]string{"live.txt": joinLines(c1)})
	c2 := slices.Clone(c1)
	c2[3] = "LINE THREE, SECOND"
	c2[12] = "LINE TWELVE"
	g.commitFiles(dir, "two", map[string]string{"live.txt": joinLines(c2)})
	c3 := slices.Delete(slices.Clone(c2), 7, 8)
	g.commitFiles(dir, "three", map[string]string{"live.txt": joinLines(c3), "notes.md": "notes\nmore notes\n"})
	if out := g.git(dir, "push", "origin", "main"); !strings.Contains(out, "3 commits applied") {
		t.Fatalf("push said: %s", out)
	}
	text := ty.finish(ctx, g.base, g.docs["live.txt"])
	checkLines := func(text string, want []string) {
		t.Helper()
		if got := strings.Split(strings.TrimSuffix(stripTokens(text), "\n"), "\n"); !slices.Equal(got, want) {
			t.Fatalf("the text, without the typing, is\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Tokens typed inside a line stay in it: without them the lines are
	// the tip's, each change once.
	checkLines(text, c3)
	if got, _ := restText(t, g.base, g.docs["notes.md"]); got != "notes\nmore notes\n" {
		t.Fatalf("notes.md: %q", got)
	}
	var revs struct{ Revisions []revView }
	g.api().call("GET", "/api/docs/"+g.docs["notes.md"]+"/revisions", nil, nil, &revs)
	if n := len(revs.Revisions); n != 2 {
		t.Fatalf("notes.md has %d revisions, want its creation and one edit for the three commits", n)
	}

	// A fourth commit on top of the three, pushed again without a pull,
	// while two others type.
	ty = startTyping(t, ctx, g.base, g.docs["live.txt"], 2, 2)
	c4 := slices.Clone(c3)
	c4[0] = "LINE ZERO, FOURTH"
	g.commitFiles(dir, "four", map[string]string{"live.txt": joinLines(c4)})
	if out := g.git(dir, "push", "origin", "main"); !strings.Contains(out, "4 commits applied as 1 edits to live.txt") {
		t.Fatalf("the second push said: %s", out)
	}
	text = ty.finish(ctx, g.base, g.docs["live.txt"])
	checkLines(text, c4)
	if got, _ := restText(t, g.base, g.docs["notes.md"]); got != "notes\nmore notes\n" {
		t.Fatalf("notes.md after the second push: %q", got)
	}
	// And the same again changes nothing.
	before, rev := restText(t, g.base, g.docs["live.txt"])
	g.git(dir, "push", "-f", "origin", "main")
	if after, rev2 := restText(t, g.base, g.docs["live.txt"]); after != before || rev2 != rev {
		t.Fatalf("pushing the same commits again changed live.txt: %q at %d, was %q at %d", after, rev2, before, rev)
	}
	g.git(dir, "pull", "-q", "--rebase")
	if got, _ := os.ReadFile(filepath.Join(dir, "live.txt")); string(got) != before {
		t.Fatalf("after a pull, live.txt is %q, the server's %q", got, before)
	}
	g.checkAgainstREST(dir, "HEAD")
}

// TestGitHistoryIsMadeOfWhatWasThen: renaming a file, deleting one and
// restoring it, and an author taking a new name change no commit made
// before: a fetch brings new commits only, which show the file at its
// new path, without the deleted file, and the author by their new name,
// while the old commits keep the old ones; the same ids come from a
// server that makes the history from scratch. Only a purge makes it
// again.
func TestGitHistoryIsMadeOfWhatWasThen(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	g.create("src/main.go", "package main\n", gitAuthors[0][0])
	g.create("src/util/strings.go", "package util\n", gitAuthors[1][0])
	g.create("README.md", "# read me\n", gitAuthors[2][0])
	for _, a := range gitAuthors {
		if err := g.mgr.SetAuthor(g.docs["README.md"], a[0], docs.AuthorProfile{Name: a[1]}); err != nil {
			t.Fatal(err)
		}
	}
	g.typeSessions(4, 12, 0)
	dir := g.clone(g.view)
	old := g.checkAgainstREST(dir, "HEAD")

	// A session that renames and edits; one in which Alice takes a new
	// name and types; one that deletes README.md; one that restores it.
	g.clk.Add(10 * time.Minute)
	if st, body, _ := call(t, "PATCH", g.base+"/api/workspaces/"+g.edit+"/files/"+g.docs["src/main.go"], "", "application/json", `{"name":"cmd/app/main.go"}`); st != 200 {
		t.Fatalf("renaming: %d %v", st, body)
	}
	g.clk.Add(time.Second)
	g.put("src/main.go", "package main\n\nfunc main() {}\n", "bob-2")
	g.clk.Add(10 * time.Minute)
	if err := g.mgr.SetAuthor(g.docs["README.md"], "alice-1", docs.AuthorProfile{Name: "Alice Pleasance"}); err != nil {
		t.Fatal(err)
	}
	g.put("src/util/strings.go", "package util\n\n// Alice was here.\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	if st, body, _ := call(t, "DELETE", g.base+"/api/workspaces/"+g.edit+"/files/"+g.docs["README.md"], "", "", ""); st != 204 {
		t.Fatalf("deleting: %d %v", st, body)
	}
	g.clk.Add(10 * time.Minute)
	g.put("src/util/strings.go", "package util\n\n// Alice was here, twice.\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	if st, body, _ := call(t, "POST", g.base+"/api/workspaces/"+g.edit+"/deleted/"+g.docs["README.md"]+"/restore", "", "", ""); st != 200 {
		t.Fatalf("restoring: %d %v", st, body)
	}

	out := g.git(dir, "fetch")
	if strings.Contains(out, "forced update") {
		t.Fatalf("the fetch rewrote history: %s", out)
	}
	commits := g.checkAgainstREST(dir, "origin/main")
	// The last old commit was the open session's; the ones before never
	// change.
	for i := range old[:len(old)-1] {
		if commits[i].hash != old[i].hash {
			t.Fatalf("commit %d changed id: %s, then %s", i, old[i].hash, commits[i].hash)
		}
	}
	subjects := strings.Split(strings.TrimSpace(g.git(dir, "log", "--reverse", "--format=%s", "origin/main")), "\n")
	want := []string{"Edit cmd/app/main.go; Rename src/main.go to cmd/app/main.go", "Edit src/util/strings.go", "Delete README.md", "Edit src/util/strings.go", "Restore README.md"}
	if got := subjects[len(subjects)-5:]; !slices.Equal(got, want) {
		t.Fatalf("the new commits' subjects: %q", got)
	}
	// Alice by the name she had then: checkAgainstREST checks every
	// commit; here, that both names are there.
	var hers []string
	for _, c := range commits {
		if c.email == "alice-1@collab" && !slices.Contains(hers, c.author) {
			hers = append(hers, c.author)
		}
	}
	if !slices.Equal(hers, []string{"Alice Liddell", "Alice Pleasance"}) {
		t.Fatalf("Alice's commits show her as %q", hers)
	}
	if body := g.git(dir, "log", "-1", "--format=%B", commits[len(commits)-3].hash); !strings.Contains(body, "Collab-Deleted: README.md") {
		t.Fatalf("the deletion's commit says: %s", body)
	}
	if files := g.git(dir, "ls-tree", "-r", "--name-only", commits[len(commits)-2].hash); strings.Contains(files, "README.md") {
		t.Fatalf("README.md is in a commit after its deletion: %s", files)
	}

	// The same ids from nothing: another server on the same store.
	_, base2 := serveManager(t, Config{Now: g.clk.Now}, g.mgr, nil)
	fresh := filepath.Join(t.TempDir(), "fresh")
	g.git(g.home, "clone", "-q", base2+"/git/"+g.view, fresh)
	if again := g.log(fresh, "HEAD"); len(again) != len(commits) || again[len(again)-1].hash != commits[len(commits)-1].hash {
		t.Fatalf("a server making the history from scratch made other ids")
	}

	// A purge takes the file's history out: the history is made again.
	if st, body, _ := call(t, "DELETE", g.base+"/api/docs/"+g.docs["README.md"]+"?purge=true", adminToken, "", ""); st != 204 {
		t.Fatalf("purging: %d %v", st, body)
	}
	if out := g.git(dir, "fetch"); !strings.Contains(out, "forced update") {
		t.Fatalf("the fetch after a purge: %s", out)
	}
	g.checkAgainstREST(dir, "origin/main")
}

// mint mints a token of the workspace with role, name and subject.
func (g *gitWorld) mint(role, name string) string {
	g.t.Helper()
	st, out := postJSON(g.t, "POST", g.base+"/api/workspaces/"+g.edit+"/embed-tokens", adminToken,
		fmt.Sprintf(`{"role":%q,"name":%q,"subject":"user-%s"}`, role, name, role))
	if st != 201 {
		g.t.Fatalf("minting a %s token: %d %v", role, st, out)
	}
	return out["token"].(string)
}

// TestGitTokens: a workspace token, as the basic-auth password of
// /git/{workspace handle}, clones and fetches (view), pushes edits and new
// files (edit), and deletions and renames too (owner); without a password
// git is asked for one (401, WWW-Authenticate: Basic); a document's
// token, another workspace's, or none that verifies is refused, and a
// refused push changes nothing.
func TestGitTokens(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	g.create("a.txt", "alpha\n", "alice-1")
	g.create("b.txt", "beta\n", "alice-1")
	g.create("c.txt", "gamma\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	var files struct{ Handle string }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/files", nil, nil, &files)
	handle := files.Handle
	view, edit, owner := g.mint("view", "Vera"), g.mint("edit", "Ed"), g.mint("owner", "Olga")
	repo := func(tok string) string {
		return strings.Replace(g.base, "http://", "http://git:"+tok+"@", 1) + "/git/" + handle + ".git"
	}

	// No password: 401 and Basic, so git asks.
	resp, err := http.Get(g.base + "/git/" + handle + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no password: %s, %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	if out, err := g.gitErr(g.home, "clone", g.base+"/git/"+handle, filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(out, "Username") {
		t.Fatalf("cloning without a password: %v %s", err, out)
	}
	before := g.state()

	// The view token clones what the link clones.
	dir := filepath.Join(t.TempDir(), "view")
	g.git(g.home, "clone", "-q", repo(view), dir)
	byLink := g.log(g.clone(g.view), "HEAD")
	if got := g.log(dir, "HEAD"); len(got) != len(byLink) || got[len(got)-1].hash != byLink[len(byLink)-1].hash {
		t.Fatalf("the view token's clone differs from the view link's")
	}
	// Refused: pushing with it; a deletion with the edit token; tokens
	// that are not this workspace's; a password that is no token.
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from a viewer\n"), 0o644)
	g.git(dir, "commit", "-qam", "viewer")
	if out, err := g.gitErr(dir, "push", "origin", "main"); err == nil || !strings.Contains(out, `role "view"`) {
		t.Fatalf("pushing with a view token: %v %s", err, out)
	}
	dir = filepath.Join(t.TempDir(), "edit")
	g.git(g.home, "clone", "-q", repo(edit), dir)
	os.Remove(filepath.Join(dir, "c.txt"))
	g.git(dir, "commit", "-qam", "delete c")
	if out, err := g.gitErr(dir, "push", "origin", "main"); err == nil || !strings.Contains(out, "owner") {
		t.Fatalf("deleting with an edit token: %v %s", err, out)
	}
	other := createFull(t, g.base, `{"name":"o.txt","text":"o"}`)
	_, otherTok := postJSON(t, "POST", g.base+"/api/workspaces/"+other.WorkspaceLinks.Edit+"/embed-tokens", adminToken, `{"role":"owner"}`)
	_, docTok := postJSON(t, "POST", g.base+"/api/docs/"+g.docs["a.txt"]+"/embed-tokens", adminToken, `{"role":"owner"}`)
	for _, tc := range []struct{ name, tok, says string }{
		{"another workspace's token", otherTok["token"].(string), "403"},
		{"a document's token", docTok["token"].(string), "403"},
		{"not a token", "hunter2", "Authentication failed"},
	} {
		if out, err := g.gitErr(g.home, "clone", repo(tc.tok), filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(out, tc.says) {
			t.Errorf("%s: %v %s", tc.name, err, out)
		}
	}
	if after := g.state(); after != before {
		t.Fatalf("refused pushes changed the workspace:\n%s\nwas\n%s", after, before)
	}

	// The edit token pushes an edit and a new file, as its user.
	g.git(dir, "reset", "-q", "--hard", "origin/main")
	g.commitFiles(dir, "edit", map[string]string{"a.txt": "alpha\nfrom Ed\n", "d.txt": "delta\n"})
	if out := g.git(dir, "push", "origin", "main"); !strings.Contains(out, "applied") {
		t.Fatalf("the edit token's push: %s", out)
	}
	var revs struct {
		Revisions []revView
		Authors   map[string]docs.AuthorProfile
	}
	g.api().call("GET", "/api/docs/"+g.docs["a.txt"]+"/revisions", nil, nil, &revs)
	if last := revs.Revisions[len(revs.Revisions)-1]; revs.Authors[last.Author].Name != "Ed" {
		t.Fatalf("the pushed edit's author: %+v", revs)
	}
	// The owner token deletes, and renames (git mv; and a move with a
	// change, which git tells by the lines the two texts share): the
	// renamed files keep their documents, links and history.
	dir = filepath.Join(t.TempDir(), "owner")
	g.git(g.home, "clone", "-q", repo(owner), dir)
	g.git(dir, "rm", "-q", "c.txt")
	os.Mkdir(filepath.Join(dir, "docs"), 0o755)
	g.git(dir, "mv", "b.txt", "docs/b.txt")
	os.Mkdir(filepath.Join(dir, "lib"), 0o755)
	g.git(dir, "mv", "a.txt", "lib/a.txt")
	os.WriteFile(filepath.Join(dir, "lib/a.txt"), []byte("alpha\nfrom Ed\nand from Olga\n"), 0o644)
	g.git(dir, "commit", "-qam", "tidy")
	out := g.git(dir, "push", "origin", "main")
	for _, says := range []string{"deleted c.txt", "renamed a.txt to lib/a.txt", "renamed b.txt to docs/b.txt", "1 edits to lib/a.txt"} {
		if !strings.Contains(out, says) {
			t.Fatalf("the owner token's push says %s, not %q", out, says)
		}
	}
	var b docBody
	g.api().call("GET", "/api/docs/"+g.docs["b.txt"], nil, nil, &b)
	if b.Name != "docs/b.txt" || b.Text != "beta\n" || b.Rev != 1 {
		t.Fatalf("the renamed file: %+v", b)
	}
	g.api().call("GET", "/api/docs/"+g.docs["a.txt"], nil, nil, &b)
	if b.Name != "lib/a.txt" || b.Text != "alpha\nfrom Ed\nand from Olga\n" || b.Rev != 3 {
		t.Fatalf("the file moved with a change: %+v", b)
	}
	var trash struct{ Files []deletedView }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/deleted", nil, nil, &trash)
	if len(trash.Files) != 1 || trash.Files[0].Name != "c.txt" {
		t.Fatalf("the trash: %+v", trash.Files)
	}
	g.git(dir, "pull", "-q", "--rebase")
	g.checkAgainstREST(dir, "HEAD")
}

// TestGitPushOnAStaleOpenCommit: a clone's commit of a session still
// open, which the server no longer has in memory (it restarted), is made
// again from the history and checked by its hash: a push on it goes
// through. A commit that claims to be collab's and is not is refused.
func TestGitPushOnAStaleOpenCommit(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	g.create("a.txt", "alpha\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	g.put("a.txt", "alpha\nbeta\n", "bob-2")
	g.clk.Add(time.Second)
	dir := g.clone(g.edit) // its head is the open session's commit
	g.clk.Add(time.Second)
	g.put("a.txt", "alpha\nbeta\ngamma\n", "bob-2") // the session goes on

	// Another server on the same store: nothing in memory.
	_, base2 := serveManager(t, Config{Now: g.clk.Now}, g.mgr, nil)
	g.git(dir, "remote", "set-url", "origin", base2+"/git/"+g.edit)
	g.commitFiles(dir, "from git", map[string]string{"b.txt": "bee\n"})
	if out := g.git(dir, "push", "origin", "main"); !strings.Contains(out, "applied") {
		t.Fatalf("the push on a stale open commit: %s", out)
	}
	if got, _ := restText(t, base2, g.docs["a.txt"]); got != "alpha\nbeta\ngamma\n" {
		t.Fatalf("a.txt: %q", got)
	}
	// A commit signed as collab's that collab never made.
	g.git(dir, "reset", "-q", "--hard", "HEAD~1")
	cmd := []string{"-c", "user.name=collab", "-c", "user.email=collab@collab", "commit", "-q", "--amend", "-m", "Edit a.txt\n\n1 revision from 2026-03-01T09:10:01.000Z to 2026-03-01T09:10:01.000Z.\n"}
	if out, err := g.gitErrEnv(dir, []string{"GIT_COMMITTER_NAME=collab", "GIT_COMMITTER_EMAIL=collab@collab"}, cmd...); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	g.commitFiles(dir, "on a forgery", map[string]string{"c.txt": "sea\n"})
	if out, err := g.gitErr(dir, "push", "-f", "origin", "main"); err == nil || !strings.Contains(out, "no longer makes") {
		t.Fatalf("a push on a forged commit: %v %s", err, out)
	}
}
