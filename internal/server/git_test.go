package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/docs"
)

// The git tests drive the real git command-line client against the real
// server: clone, fetch and push over smart HTTP, compared with the REST
// history. Each git runs with a HOME of its own and no system config.

// needGit skips without a git binary (fails under CI, which installs it).
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is missing: .ci/run installs it")
		}
		t.Skip("needs the git command")
	}
}

// gitWorld is a server with an injected clock, a workspace, and git.
type gitWorld struct {
	t          *testing.T
	base       string
	mgr        *docs.Manager
	clk        *testClock // the server's and the store's
	edit, view string     // the workspace's links
	home       string
	docs       map[string]string // path -> document id (its edit link)
}

// state is the workspace's files as the REST API shows them: each one's
// path, revision and text.
func (g *gitWorld) state() string {
	g.t.Helper()
	var files struct{ Files []docView }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/files", nil, nil, &files)
	var b strings.Builder
	for _, f := range files.Files {
		text, rev := restText(g.t, g.base, f.ID)
		fmt.Fprintf(&b, "%s@%d:%q\n", f.Name, rev, text)
	}
	return b.String()
}

func newGitWorld(t *testing.T, dcfg docs.Config) *gitWorld {
	t.Helper()
	needGit(t)
	clk := clockAt(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	dcfg.Now = clk.Now
	if dcfg.MaxBytes == 0 {
		dcfg.MaxBytes = 1 << 20
	}
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "git.db"), dcfg)
	if err != nil {
		t.Fatal(err)
	}
	_, base := serveManager(t, Config{Now: clk.Now, APIToken: adminToken}, mgr, nil)
	g := &gitWorld{t: t, base: base, mgr: mgr, clk: clk, home: t.TempDir(), docs: map[string]string{}}
	var ws struct{ Links linksView }
	g.api().call("POST", "/api/workspaces", nil, nil, &ws)
	g.edit, g.view = ws.Links.Edit, ws.Links.View
	return g
}

func (g *gitWorld) api() apiClient { return apiClient{t: g.t, base: g.base} }

// create makes a file of the workspace, by author.
func (g *gitWorld) create(path, text, author string) string {
	g.t.Helper()
	var d struct{ ID string }
	g.api().call("POST", "/api/docs", map[string]string{"name": path, "text": text, "workspace": g.edit}, map[string]string{"X-Collab-Author": author}, &d)
	if d.ID == "" {
		g.t.Fatalf("creating %s", path)
	}
	g.docs[path] = d.ID
	return d.ID
}

// put replaces a file's text, by author.
func (g *gitWorld) put(path, text, author string) {
	g.t.Helper()
	r := g.api().call("PUT", "/api/docs/"+g.docs[path], text, map[string]string{"X-Collab-Author": author}, nil)
	if r.StatusCode != http.StatusOK {
		g.t.Fatalf("PUT %s: %s", path, r.Status)
	}
}

// git runs git in dir and returns its output; it fails the test on error.
func (g *gitWorld) git(dir string, args ...string) string {
	g.t.Helper()
	out, err := g.gitErr(dir, args...)
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (g *gitWorld) gitErr(dir string, args ...string) (string, error) {
	return g.gitErrEnv(dir, nil, args...)
}

// gitErrEnv is gitErr with more environment (which wins).
func (g *gitWorld) gitErrEnv(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+g.home, "XDG_CONFIG_HOME="+g.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_AUTHOR_NAME=Pat Pusher", "GIT_AUTHOR_EMAIL=pat@example.com",
		"GIT_COMMITTER_NAME=Pat Pusher", "GIT_COMMITTER_EMAIL=pat@example.com")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// clone clones the workspace with link into a new directory.
func (g *gitWorld) clone(link string) string {
	g.t.Helper()
	dir := filepath.Join(g.t.TempDir(), "clone")
	g.git(g.home, "clone", "-q", g.base+"/git/"+link, dir)
	return dir
}

// looseObjects counts the loose objects of the clone in dir.
func (g *gitWorld) looseObjects(dir string) int {
	g.t.Helper()
	for _, line := range strings.Split(g.git(dir, "count-objects", "-v"), "\n") {
		if v, ok := strings.CutPrefix(line, "count: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	g.t.Fatal("git count-objects says no count")
	return 0
}

// restRevision is an event of the workspace's history: a revision as
// the REST history shows it, or a change of a file's path (rename set).
type restRevision struct {
	doc, path string
	rev       uint64
	author    string
	ms        int64
	rename    bool
	name      string // the path from then on ("" once deleted)
}

// restHistory reads every revision of every file of the workspace
// through the REST API (its deleted files', which no link reads any
// more, from the store), and every change of their paths from the store
// (no route shows them); and the authors' names as they are now.
func (g *gitWorld) restHistory() ([]restRevision, map[string]string) {
	g.t.Helper()
	names := map[string]string{}
	var all []restRevision
	var files, deleted struct{ Files []docView }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/files?limit=1000", nil, nil, &files)
	g.api().call("GET", "/api/workspaces/"+g.edit+"/deleted?limit=1000", nil, nil, &deleted)
	type docRef struct{ id, link string }
	var refs []docRef
	for _, f := range files.Files {
		l, err := g.mgr.ResolveLink(f.ID)
		if err != nil {
			g.t.Fatal(err)
		}
		refs = append(refs, docRef{l.Target, f.ID})
	}
	for _, f := range deleted.Files {
		l, err := g.mgr.ResolveDeletedLink(f.ID)
		if err != nil {
			g.t.Fatal(err)
		}
		refs = append(refs, docRef{l.Target, ""})
	}
	for _, d := range refs {
		var revs []restRevision
		for after := uint64(0); ; {
			var page struct {
				Revisions []revView
				Authors   map[string]docs.AuthorProfile
			}
			if d.link != "" {
				g.api().call("GET", fmt.Sprintf("/api/docs/%s/revisions?after=%d&limit=1000", d.link, after), nil, nil, &page)
			} else {
				rs, err := g.mgr.Revisions(d.id, after, 1000)
				if err != nil {
					g.t.Fatal(err)
				}
				for _, r := range rs {
					page.Revisions = append(page.Revisions, revView{Rev: r.Rev, Author: r.Author, Time: r.Time.UTC().Format(time.RFC3339Nano)})
				}
			}
			for id, p := range page.Authors {
				names[id] = p.Name
			}
			for _, r := range page.Revisions {
				tm, _ := time.Parse(time.RFC3339Nano, r.Time)
				revs = append(revs, restRevision{doc: d.id, rev: r.Rev, author: r.Author, ms: tm.UnixMilli()})
				after = r.Rev
			}
			if len(page.Revisions) < 1000 {
				break
			}
		}
		changes, err := g.mgr.Store().Names(d.id, 0)
		if err != nil {
			g.t.Fatal(err)
		}
		// The document's own order: a change of path after the revision
		// it follows.
		path := changes[0].Name
		var evs []restRevision
		for _, c := range changes[1:] {
			for len(revs) > 0 && revs[0].rev <= c.Rev {
				revs[0].path = path
				evs, revs = append(evs, revs[0]), revs[1:]
			}
			evs = append(evs, restRevision{doc: d.id, path: path, rev: c.Rev, author: c.Author, ms: c.Time.UnixMilli(), rename: true, name: c.Name})
			if c.Name != "" {
				path = c.Name
			}
		}
		for _, r := range revs {
			r.path = path
			evs = append(evs, r)
		}
		all = append(all, evs...)
	}
	for _, id := range []string{"api", "unknown"} {
		if _, ok := names[id]; !ok {
			names[id] = ""
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].ms != all[j].ms {
			return all[i].ms < all[j].ms
		}
		return all[i].doc < all[j].doc
	})
	return all, names
}

// restSessions cuts the merged REST history into edit sessions.
func restSessions(all []restRevision) [][]restRevision {
	var out [][]restRevision
	for i, r := range all {
		if i == 0 || r.ms-all[i-1].ms > docs.SessionGap.Milliseconds() {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// gitCommit is a commit as git log shows it.
type gitCommit struct {
	hash, author, email, committer string
	date                           int64
	coauthors                      []string
}

func (g *gitWorld) log(dir, ref string) []gitCommit {
	g.t.Helper()
	out := g.git(dir, "log", "--reverse", "--format=%H%x00%an%x00%ae%x00%at%x00%cn <%ce>%x00%B%x01", ref)
	var cs []gitCommit
	for _, rec := range strings.Split(out, "\x01") {
		f := strings.Split(strings.TrimPrefix(rec, "\n"), "\x00")
		if len(f) < 6 {
			continue
		}
		at, _ := strconv.ParseInt(f[3], 10, 64)
		c := gitCommit{hash: f[0], author: f[1], email: f[2], date: at, committer: f[4]}
		for _, line := range strings.Split(f[5], "\n") {
			if v, ok := strings.CutPrefix(line, "Co-authored-by: "); ok {
				c.coauthors = append(c.coauthors, v)
			}
		}
		cs = append(cs, c)
	}
	return cs
}

// checkAgainstREST compares the clone's history with the REST history:
// one commit per edit session, its authors (by the names they had at the
// session's end), date and files (at the paths they had then; a deleted
// file is in no commit after its deletion).
func (g *gitWorld) checkAgainstREST(dir, ref string) []gitCommit {
	g.t.Helper()
	all, _ := g.restHistory()
	sessions := restSessions(all)
	commits := g.log(dir, ref)
	if len(commits) != len(sessions) {
		g.t.Fatalf("%d commits for %d edit sessions", len(commits), len(sessions))
	}
	ws, err := g.mgr.ResolveLink(g.edit)
	if err != nil {
		g.t.Fatal(err)
	}
	authorNames, err := g.mgr.AuthorNames(ws.Target)
	if err != nil {
		g.t.Fatal(err)
	}
	person := func(id string, ms int64) string {
		n := ""
		for _, an := range authorNames[id] {
			if an.Time.UnixMilli() <= ms {
				n = an.Name
			}
		}
		if n == "" {
			n = id
		}
		return n + " <" + id + "@collab>"
	}
	for i, s := range sessions {
		c := commits[i]
		end := s[len(s)-1].ms
		var authors []string
		for _, r := range s {
			if !slices.Contains(authors, r.author) {
				authors = append(authors, r.author)
			}
		}
		if got := c.author + " <" + c.email + ">"; got != person(authors[0], end) {
			g.t.Errorf("commit %d: author %q, want %q", i, got, person(authors[0], end))
		}
		var want []string
		for _, a := range authors[1:] {
			want = append(want, person(a, end))
		}
		if !slices.Equal(c.coauthors, want) {
			g.t.Errorf("commit %d: co-authors %q, want %q", i, c.coauthors, want)
		}
		if c.date != end/1000 {
			g.t.Errorf("commit %d: date %d, want the session's end %d", i, c.date, end/1000)
		}
		if c.committer != "collab <collab@collab>" {
			g.t.Errorf("commit %d: committer %q", i, c.committer)
		}
	}
	// The files at the first, a middle and the last commit.
	for _, i := range []int{0, len(sessions) / 2, len(sessions) - 1} {
		end := sessions[i][len(sessions[i])-1].ms
		type at struct {
			path string
			rev  uint64
		}
		docAt := map[string]at{}
		for _, r := range all {
			if r.ms > end {
				break
			}
			a := docAt[r.doc]
			if r.rename {
				a.path = r.name
			} else {
				a.path, a.rev = r.path, r.rev
			}
			docAt[r.doc] = a
		}
		listed := strings.Fields(g.git(dir, "ls-tree", "-r", "--name-only", commits[i].hash))
		var want []string
		for doc, a := range docAt {
			if a.path == "" {
				continue
			}
			text, err := g.mgr.TextAt(doc, a.rev)
			if err != nil {
				g.t.Fatal(err)
			}
			if text.Len() == 0 {
				continue
			}
			want = append(want, a.path)
			if got := g.git(dir, "show", commits[i].hash+":"+a.path); got != text.String() {
				g.t.Errorf("commit %d: %s is %q, the history says %q at revision %d", i, a.path, got, text.String(), a.rev)
			}
		}
		slices.Sort(want)
		if !slices.Equal(listed, want) {
			g.t.Errorf("commit %d has files %q, want %q", i, listed, want)
		}
	}
	return commits
}

// authors are the three people of the history tests: id -> name.
var gitAuthors = [][2]string{{"alice-1", "Alice Liddell"}, {"bob-2", "Bob Dobbs"}, {"carol-3", "Carol Danvers"}}

// typeSessions makes n edit sessions of edits to the files by the
// authors, perSession revisions each, seven seconds apart, sessions
// ten minutes apart.
func (g *gitWorld) typeSessions(n, perSession int, seed int) {
	g.t.Helper()
	paths := []string{"src/main.go", "src/util/strings.go", "README.md"}
	texts := map[string]string{}
	for _, p := range paths {
		var d docBody
		g.api().call("GET", "/api/docs/"+g.docs[p], nil, nil, &d)
		texts[p] = d.Text
	}
	for s := range n {
		g.clk.Add(10 * time.Minute)
		for i := range perSession {
			p := paths[(s+seed+i/7)%len(paths)]
			a := gitAuthors[(s*5+i/3+seed)%len(gitAuthors)][0]
			texts[p] += fmt.Sprintf("// %s, session %d.%d, edit %d\n", a, seed, s, i)
			g.put(p, texts[p], a)
			g.clk.Add(7 * time.Second)
		}
	}
}

// TestGitCloneAndFetch: a workspace of three files with a few hundred
// revisions by three authors clones as one commit per edit session, with
// the sessions' authors, co-authors, dates and files as the REST history
// has them; a fetch after more sessions brings only the new commits, the
// old ones keeping their ids.
func TestGitCloneAndFetch(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	g.create("src/main.go", "package main\n", gitAuthors[0][0])
	g.create("src/util/strings.go", "package util\n", gitAuthors[1][0])
	g.create("README.md", "", gitAuthors[2][0]) // empty: no file until it has text
	for _, a := range gitAuthors {
		if err := g.mgr.SetAuthor(g.docs["README.md"], a[0], docs.AuthorProfile{Name: a[1]}); err != nil {
			t.Fatal(err)
		}
	}
	g.typeSessions(8, 40, 0)

	dir := g.clone(g.view + ".git") // the view link, with the .git suffix
	if b := strings.TrimSpace(g.git(dir, "rev-parse", "--abbrev-ref", "HEAD")); b != "main" {
		t.Fatalf("checked out %q", b)
	}
	old := g.checkAgainstREST(dir, "HEAD")
	if len(old) < 8 {
		t.Fatalf("only %d commits", len(old))
	}
	// The same history gives the same ids: a second clone, by the edit link.
	again := g.log(g.clone(g.edit), "HEAD")
	for i := range old {
		if again[i].hash != old[i].hash {
			t.Fatalf("commit %d is %s in one clone and %s in another", i, old[i].hash, again[i].hash)
		}
	}

	// Two more sessions; a fetch brings their two commits and only what
	// they add.
	g.typeSessions(2, 25, 1)
	g.git(dir, "config", "fetch.unpackLimit", "1000000") // received objects stay loose, to be counted
	before := g.looseObjects(dir)
	g.git(dir, "fetch", "-q")
	commits := g.checkAgainstREST(dir, "origin/main")
	if len(commits) != len(old)+2 {
		t.Fatalf("%d commits after the fetch, want %d", len(commits), len(old)+2)
	}
	for i := range old {
		if commits[i].hash != old[i].hash {
			t.Fatalf("commit %d changed id across the fetch: %s, then %s", i, old[i].hash, commits[i].hash)
		}
	}
	brought := g.looseObjects(dir) - before
	newObjects := strings.Count(g.git(dir, "rev-list", "--objects", old[len(old)-1].hash+"..origin/main"), "\n")
	if brought != newObjects {
		t.Fatalf("the fetch brought %d objects; the two new commits have %d", brought, newObjects)
	}
	// And a clone of a workspace nobody has written to yet is empty.
	var ws struct{ Links linksView }
	g.api().call("POST", "/api/workspaces", nil, nil, &ws)
	if out := g.git(g.home, "clone", g.base+"/git/"+ws.Links.View, filepath.Join(t.TempDir(), "empty")); !strings.Contains(out, "empty repository") {
		t.Fatalf("cloning an empty workspace: %s", out)
	}
}

// TestGitPushIntoLiveSession: a commit pushed while two editors type in
// the same file lands as edits among theirs: everyone converges, and the
// push's change and every keystroke are in the text once.
func TestGitPushIntoLiveSession(t *testing.T) {
	g := newGitWorld(t, docs.Config{})
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	g.create("live.txt", strings.Join(lines, "\n")+"\n", "alice-1")
	g.create("other.txt", "keep me\n", "alice-1")
	g.create("gone.txt", "delete me\n", "alice-1")
	g.clk.Add(10 * time.Minute) // a closed session, then the live one
	dir := g.clone(g.edit)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var clients []*client.Client
	for _, name := range []string{"Ann", "Ben"} {
		c, err := client.Dial(ctx, client.Config{URL: g.base, Doc: g.docs["live.txt"], Name: name, Author: "secret-of-" + name})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	// Each editor types tokens at spots of its own choosing until told to
	// stop; started tells the test each has typed some.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	tokens := make([][]string, 2)
	for k, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 10 {
					started <- struct{}{}
				}
				if i >= 20 {
					select {
					case <-stop:
						return
					default:
					}
				}
				// A token is one code point of a private use area: an
				// insert elsewhere can never split it.
				tok := string(rune(0xE000 + k*0x800 + i))
				if err := c.Insert((i*37*(k+1))%(c.Len()+1), tok); err != nil {
					t.Error(err)
					return
				}
				tokens[k] = append(tokens[k], tok)
				if i%5 == 0 {
					c.WaitSynced(ctx)
				}
			}
		}()
	}
	<-started
	<-started
	// The push: change one line, add one, add a file, delete a file.
	edited := slices.Clone(lines)
	edited[5] = "LINE FIVE, PUSHED"
	edited = append(edited, "a line from git")
	os.WriteFile(filepath.Join(dir, "live.txt"), []byte(strings.Join(edited, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "new.txt"), []byte("made in git\n"), 0o644)
	os.Remove(filepath.Join(dir, "gone.txt"))
	g.git(dir, "add", "-A")
	g.git(dir, "commit", "-qm", "edit from git")
	out := g.git(dir, "push", "origin", "main")
	if !strings.Contains(out, "applied") {
		t.Fatalf("push said: %s", out)
	}
	close(stop)
	wg.Wait()
	for _, c := range clients {
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	text, rev := restText(t, g.base, g.docs["live.txt"])
	for _, c := range clients {
		if err := c.WaitRev(ctx, rev); err != nil {
			t.Fatal(err)
		}
		if c.Text() != text {
			t.Fatalf("an editor has %q, the server %q", c.Text(), text)
		}
	}
	for _, ts := range tokens {
		for _, tok := range ts {
			if n := strings.Count(text, tok); n != 1 {
				t.Fatalf("token %U is in the text %d times: %q", []rune(tok)[0], n, text)
			}
		}
	}
	// Tokens typed into "line 5" split it; the pushed line replaced what
	// was there at the push's base, keeping what was typed since.
	if plain := stripTokens(text); strings.Count(plain, "a line from git\n") != 1 || strings.Count(plain, "LINE FIVE, PUSHED\n") != 1 {
		t.Fatalf("the push's change is not in the text once: %q", text)
	}
	if strings.Contains(stripTokens(text), "line 5\n") {
		t.Fatalf("the pushed line did not replace line 5: %q", text)
	}
	if got, _ := restText(t, g.base, g.docs["other.txt"]); got != "keep me\n" {
		t.Fatalf("other.txt: %q", got)
	}
	if st, _, _ := call(t, "GET", g.base+"/api/docs/"+g.docs["gone.txt"], "", "", ""); st != 404 {
		t.Fatalf("gone.txt was not deleted: %d", st)
	}
	var trash struct{ Files []deletedView }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/deleted", nil, nil, &trash)
	if len(trash.Files) != 1 || trash.Files[0].Name != "gone.txt" || !strings.HasPrefix(trash.Files[0].DeletedBy, "a") {
		t.Fatalf("the trash after the push: %+v", trash.Files)
	}
	var files struct{ Files []docView }
	g.api().call("GET", "/api/workspaces/"+g.edit+"/files", nil, nil, &files)
	var newID string
	for _, f := range files.Files {
		if f.Name == "new.txt" {
			newID = f.ID
		}
	}
	if got, _ := restText(t, g.base, newID); newID == "" || got != "made in git\n" {
		t.Fatalf("new.txt: %q (%q)", got, newID)
	}
	// The pushed edits are the pusher's, by name, in the history.
	var revs struct {
		Revisions []revView
		Authors   map[string]docs.AuthorProfile
	}
	g.api().call("GET", "/api/docs/"+newID+"/revisions", nil, nil, &revs)
	if len(revs.Revisions) != 1 || revs.Authors[revs.Revisions[0].Author].Name != "Pat Pusher" {
		t.Fatalf("new.txt's history: %+v", revs)
	}
	// Pushing the same commit again (git sends it until a fetch brings
	// collab's) applies nothing twice.
	os.WriteFile(filepath.Join(dir, "other.txt"), []byte("keep me\nand me\n"), 0o644)
	g.git(dir, "commit", "-qam", "second")
	g.git(dir, "push", "origin", "main")
	if got, _ := restText(t, g.base, g.docs["live.txt"]); got != text {
		t.Fatalf("the second push changed live.txt: %q, was %q", got, text)
	}
	if got, _ := restText(t, g.base, g.docs["other.txt"]); got != "keep me\nand me\n" {
		t.Fatalf("other.txt after the second push: %q", got)
	}
	// A pull brings collab's history back, with the pushed change in it.
	g.git(dir, "pull", "-q", "--rebase")
	if got, _ := os.ReadFile(filepath.Join(dir, "live.txt")); string(got) != text {
		t.Fatalf("after a pull, live.txt is %q, the server's %q", got, text)
	}
	g.checkAgainstREST(dir, "HEAD")
}

// stripTokens removes the editors' tokens from text.
func stripTokens(text string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xE000 && r < 0xF000 {
			return -1
		}
		return r
	}, text)
}

// TestGitRefusedPushesChangeNothing: binary files, invalid UTF-8, files
// over the size limit, a push that is not a fast-forward, a merge, and a
// push with the view link are refused with a message on git's terminal,
// and change nothing.
func TestGitRefusedPushesChangeNothing(t *testing.T) {
	g := newGitWorld(t, docs.Config{MaxBytes: 64 << 10})
	g.create("a.txt", "alpha\n", "alice-1")
	g.create("b.txt", "beta\n", "alice-1")
	g.clk.Add(10 * time.Minute)
	g.put("a.txt", "alpha\nmore\n", "bob-2")
	before := g.state()
	cases := []struct {
		name, want string
		prepare    func(dir string)
		args       []string
		view       bool
	}{
		{name: "binary", want: "binary", prepare: func(dir string) {
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed\n"), 0o644) // refused with the rest
			os.WriteFile(filepath.Join(dir, "img.png"), []byte("\x89PNG\r\n\x1a\n\x00\x00"), 0o644)
		}},
		{name: "invalid UTF-8", want: "not UTF-8", prepare: func(dir string) {
			os.WriteFile(filepath.Join(dir, "b.txt"), []byte("caf\xe9\n"), 0o644)
		}},
		{name: "too large", want: "the limit is 65536", prepare: func(dir string) {
			os.WriteFile(filepath.Join(dir, "big.txt"), bytes.Repeat([]byte("x"), 64<<10+1), 0o644)
		}},
		{name: "symlink", want: "symbolic link", prepare: func(dir string) {
			os.Symlink("a.txt", filepath.Join(dir, "link"))
		}},
		{name: "not a fast-forward", want: "non-fast-forward", args: []string{"--force"}, prepare: func(dir string) {
			g.git(dir, "checkout", "-q", "--orphan", "fresh")
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("rewritten\n"), 0o644)
			g.git(dir, "add", "-A")
			g.git(dir, "commit", "-qm", "unrelated")
			g.git(dir, "branch", "-M", "main")
		}},
		{name: "merge", want: "merge", prepare: func(dir string) {
			g.git(dir, "checkout", "-q", "-b", "side")
			os.WriteFile(filepath.Join(dir, "b.txt"), []byte("beta side\n"), 0o644)
			g.git(dir, "commit", "-qam", "side")
			g.git(dir, "checkout", "-q", "main")
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha main\n"), 0o644)
			g.git(dir, "commit", "-qam", "main")
			g.git(dir, "merge", "-q", "--no-edit", "side")
		}},
		{name: "view link", want: "view link", view: true, prepare: func(dir string) {
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from a viewer\n"), 0o644)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			link := g.edit
			if c.view {
				link = g.view
			}
			dir := g.clone(link)
			c.prepare(dir)
			g.git(dir, "add", "-A")
			g.gitErr(dir, "commit", "-qm", c.name)
			out, err := g.gitErr(dir, append([]string{"push", "origin", "main"}, c.args...)...)
			if err == nil {
				t.Fatalf("the push went through: %s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("git says %q, want it to say %q", out, c.want)
			}
			if after := g.state(); after != before {
				t.Fatalf("a refused push changed the workspace:\n%s\nwas\n%s", after, before)
			}
		})
	}
	// And a push of the same files as they are changes nothing either.
	dir := g.clone(g.edit)
	g.git(dir, "commit", "-q", "--allow-empty", "-m", "nothing")
	g.git(dir, "push", "-q", "origin", "main")
	if after := g.state(); after != before {
		t.Fatalf("an empty commit changed the workspace:\n%s", after)
	}
	var unused json.RawMessage
	_ = unused
}
