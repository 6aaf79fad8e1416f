package server

// Browser tests: the real server in-process, driven through headless
// Chromium (Debian's /usr/bin/chromium) with chromedp. Without Chromium
// they skip, unless CI is set, where they fail. Each test starts its own
// browser with a fresh profile; every wait polls the page, with generous
// timeouts, instead of sleeping. A console error in any tab fails the
// test (see open).

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/collab-editor/collab/frontend"
	"github.com/collab-editor/collab/internal/docs"
)

const browserWait = 20 * time.Second // the longest any one condition is waited for

// browserEnv is one test's server and browser.
type browserEnv struct {
	t       *testing.T
	base    string          // the server's URL
	browser context.Context // the browser; tabs are made from it

	mu       sync.Mutex // guards requests and intercept
	requests []string   // the path and query of every API request, in order
	// intercept, when set, may answer a request itself (reporting true):
	// a test's failing server.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed; the browser tests need it (apt-get install chromium)")
	return ""
}

// newBrowserEnv starts the server (on the test's own database) and a
// headless Chromium.
func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	return newBrowserEnvWith(t, Config{})
}

// newBrowserEnvWith is newBrowserEnv with the server's configuration.
func newBrowserEnvWith(t *testing.T, cfg Config) *browserEnv {
	t.Helper()
	return newBrowserEnvDocs(t, cfg, docs.Config{})
}

// newBrowserEnvDocs is newBrowserEnvWith with the documents'
// configuration too (a test's clock: docs.Config.Now).
func newBrowserEnvDocs(t *testing.T, cfg Config, dcfg docs.Config) *browserEnv {
	t.Helper()
	path := chromiumPath(t)
	env := &browserEnv{t: t}

	_, env.base = serveTest(t, cfg, dcfg, func(srv http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env.mu.Lock()
			if strings.HasPrefix(r.URL.Path, "/api/") {
				env.requests = append(env.requests, r.URL.RequestURI())
			}
			intercept := env.intercept
			env.mu.Unlock()
			if intercept != nil && intercept(w, r) {
				return
			}
			srv.ServeHTTP(w, r)
		})
	})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 560),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	env.browser = bctx
	return env
}

// apiRequests returns the API requests made so far whose path contains part.
func (env *browserEnv) apiRequests(part string) []string {
	env.mu.Lock()
	defer env.mu.Unlock()
	var out []string
	for _, r := range env.requests {
		if strings.Contains(r, part) {
			out = append(out, r)
		}
	}
	return out
}

// create makes a document over the REST API and returns its edit link.
func (env *browserEnv) create(name, text string) string {
	env.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "text": text})
	var d struct{ ID string }
	env.call("POST", "/api/docs", "application/json", body, http.StatusCreated, &d)
	return d.ID
}

// text returns a document's text and revision over the REST API.
func (env *browserEnv) text(id string) (string, uint64) {
	env.t.Helper()
	var d struct {
		Text string `json:"text"`
		Rev  uint64 `json:"rev"`
	}
	env.call("GET", "/api/docs/"+id, "", nil, http.StatusOK, &d)
	return d.Text, d.Rev
}

// put replaces a document's text over the REST API (someone else's edit).
func (env *browserEnv) put(id, text string) {
	env.t.Helper()
	putText(env.t, env.base, id, text)
}

// putText replaces a document's text with PUT /api/docs/{id}. (Other
// tests of the package use it too.)
func putText(t testing.TB, base, id, text string) {
	t.Helper()
	req, err := http.NewRequest("PUT", base+"/api/docs/"+id, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s: %s %s", id, resp.Status, body)
	}
}

func (env *browserEnv) call(method, path, ctype string, body []byte, want int, out any) {
	env.t.Helper()
	req, err := http.NewRequest(method, env.base+path, bytes.NewReader(body))
	if err != nil {
		env.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		env.t.Fatalf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			env.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// browserPage is one tab, with its own browser context (its own
// localStorage: another person).
type browserPage struct {
	t   *testing.T
	ctx context.Context
}

// open opens a tab (a new browser context: another person) at url. The
// test fails on any console error of the page or of its frames: a
// console.error, an uncaught exception, or an error the browser logs (a
// failed request, a refused frame, a CSP violation).
func (env *browserEnv) open(url string) *browserPage {
	env.t.Helper()
	return env.openTab(url, true)
}

// openAllowingErrors is open for a test that provokes console errors
// itself (a refused frame).
func (env *browserEnv) openAllowingErrors(url string) *browserPage {
	env.t.Helper()
	return env.openTab(url, false)
}

func (env *browserEnv) openTab(url string, strict bool) *browserPage {
	env.t.Helper()
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithNewBrowserContext())
	env.t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 50*time.Second)
	env.t.Cleanup(cancelTimeout)
	if strict {
		env.failOnConsoleErrors(ctx, url)
	}
	p := &browserPage{t: env.t, ctx: ctx}
	p.do(chromedp.Navigate(url))
	return p
}

// failOnConsoleErrors makes the test fail, when it ends, for every console
// error of the tab of ctx.
func (env *browserEnv) failOnConsoleErrors(ctx context.Context, url string) {
	env.t.Helper()
	env.failOnConsoleErrorsBut(ctx, url, nil)
}

// failOnConsoleErrorsBut is failOnConsoleErrors, except for the errors
// ignore accepts (nil: none).
func (env *browserEnv) failOnConsoleErrorsBut(ctx context.Context, url string, ignore func(msg string) bool) {
	env.t.Helper()
	var mu sync.Mutex
	var errs []string
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
				return
			}
			for _, a := range ev.Args {
				msg += " " + string(a.Value) + a.Description
			}
			msg = "console." + string(ev.Type) + ":" + msg
		case *runtime.EventExceptionThrown:
			msg = "uncaught: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level != cdplog.EntryLevelError {
				return
			}
			msg = "browser log: " + ev.Entry.Text + " " + ev.Entry.URL
		default:
			return
		}
		if ignore != nil && ignore(msg) {
			return
		}
		mu.Lock()
		errs = append(errs, msg)
		mu.Unlock()
	})
	if err != nil {
		env.t.Fatal(err)
	}
	env.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			env.t.Errorf("a console error on %s: %s", url, e)
		}
	})
}

func (p *browserPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression.
func evalIn[T any](p *browserPage, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is true.
func (p *browserPage) wait(expr string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(browserWait), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// waitAcross polls a JavaScript expression until it is true, on whatever
// page the tab shows: one a click navigates to, too. A poll, bounded by
// browserWait, because what it watches is in another process (Chromium),
// which has no way to signal this test; chromedp's own Poll cannot follow
// a navigation.
func (p *browserPage) waitAcross(expr string) {
	p.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s: %v", expr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitSaved waits until the editor is connected and has nothing unsent.
func (p *browserPage) waitSaved() {
	p.t.Helper()
	p.wait(`document.getElementById('status')?.dataset.state === 'saved'`)
}

// editorText is the text in the page's editor.
func (p *browserPage) editorText() string {
	p.t.Helper()
	return evalIn[string](p, `window.collabEditor.text()`)
}

// typeText types s as an input method would (emoji included).
func typeText(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: s})
		return err
	})
}

// key presses one key, with modifiers.
func key(k string, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(k, chromedp.KeyModifiers(mods...))
}

// enter presses Enter as a keyboard does: one keydown carrying the text,
// whose default action (the text input) the page may prevent. (chromedp's
// KeyEvent sends the text as a separate "char" event, which inserts it even
// when the page handled the keydown, so an editor would get two line breaks.)
func enter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

// atLineEnd puts the cursor at the end of line n (1-based) of the editor.
func atLineEnd(n int) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.cm-content .cm-line:nth-child(%d)`, n))),
		key(kb.End),
	)
}

// setName changes the user's name as a person would: type, then leave the field.
func setName(name string) chromedp.Action[chromedp.Void] {
	return setField("my-name", name)
}

// setColor picks the user's colour.
func setColor(color string) chromedp.Action[chromedp.Void] {
	return setField("my-color", color)
}

func setField(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const i = document.getElementById(%s);
		i.value = %s;
		i.dispatchEvent(new Event('change'));
	})()`, jsString(id), jsString(value)))
}

func jsString(s string) string {
	v, _ := json.Marshal(s)
	return string(v)
}

// eventually waits until cond holds, checked every 25 ms for at most
// browserWait. A poll, because cond reads the browsers' editors (other
// processes, which cannot signal this test) as well as the server.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up waiting; last: %s", what, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// converged waits until every page's editor holds the server's text and
// that text satisfies ok.
func (env *browserEnv) converged(id string, ok func(string) bool, pages ...*browserPage) string {
	env.t.Helper()
	var text string
	eventually(env.t, "convergence", func() (bool, string) {
		text, _ = env.text(id)
		state := fmt.Sprintf("server %q", text)
		good := ok(text)
		for i, p := range pages {
			got := p.editorText()
			state += fmt.Sprintf("\npage %d %q", i, got)
			good = good && got == text
		}
		return good, state
	})
	return text
}

// repoRoot finds the directory of go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above " + dir)
		}
	}
}

// TestBrowserTwoEditorsTypeAtOnce: three people in one document, two of
// them typing at once. It leaves screenshots/editor-two-cursors.png: the
// editor as Alice sees it, with Bob's and Carol's labelled cursors.
func TestBrowserTwoEditorsTypeAtOnce(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("src/main.go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n")
	alice := env.open(env.base + "/d/" + id)
	bob := env.open(env.base + "/d/" + id)
	carol := env.open(env.base + "/d/" + id)
	for _, p := range []*browserPage{alice, bob, carol} {
		p.waitSaved()
	}
	alice.do(setName("Alice"), setColor("#61afef"))
	bob.do(setName("Bob"), setColor("#e06c75"))
	carol.do(setName("Carol"), setColor("#98c379"))

	// Alice types at the end of line 1 while Bob types at the end of line
	// 6: both sessions send while the other's edits are in flight.
	errs := make(chan error, 2)
	go func() {
		errs <- chromedp.Do(alice.ctx, atLineEnd(1), chromedp.SendKeys(chromedp.CSS(`.cm-content`), " // Alice was here"))
	}()
	go func() {
		errs <- chromedp.Do(bob.ctx, atLineEnd(6), chromedp.SendKeys(chromedp.CSS(`.cm-content`), " // and Bob"))
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := "package main // Alice was here\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\") // and Bob\n}\n"
	env.converged(id, func(s string) bool { return s == want }, alice, bob, carol)

	// Carol selects "main() {" on line 5.
	carol.do(chromedp.Click(chromedp.CSS(`.cm-content .cm-line:nth-child(5)`)), key(kb.Home), key(kb.ArrowRight, chromedp.ModifierCtrl), key(kb.End, chromedp.ModifierShift))

	// Everyone sees the others' cursors with their names.
	alice.wait(`[...document.querySelectorAll('.cm-remote-label')].map(e => e.textContent).sort().join() === 'Bob,Carol'`)
	alice.wait(`document.querySelector('.cm-remote-selection') !== null`)
	bob.wait(`[...document.querySelectorAll('.cm-remote-label')].some(e => e.textContent === 'Alice')`)
	alice.wait(`[...document.querySelectorAll('#users li')].length === 3`)

	saveScreenshot(t, alice, "editor-two-cursors.png")
}

// saveScreenshot saves a PNG of the page as screenshots/name at the root
// of the repository (ignored by git), for people to look at after a run;
// the path is logged.
func saveScreenshot(t *testing.T, p *browserPage, name string) {
	t.Helper()
	shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot(t), "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func TestBrowserEmojiAndCJK(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("notes.md", "ab\n")
	alice := env.open(env.base + "/d/" + id)
	bob := env.open(env.base + "/d/" + id)
	alice.waitSaved()
	bob.waitSaved()

	// Astral characters, a modifier sequence, CJK and a combining accent.
	alice.do(atLineEnd(1), typeText("😀👍🏽 日本語 é"))
	env.converged(id, func(s string) bool { return s == "ab😀👍🏽 日本語 é\n" }, alice, bob)

	// Positions after them must still be exact: Bob types after the last
	// character, Alice before the first.
	bob.do(atLineEnd(1), typeText("!"))
	alice.do(chromedp.Click(chromedp.CSS(`.cm-content .cm-line`)), key(kb.Home), typeText("→"))
	env.converged(id, func(s string) bool { return s == "→ab😀👍🏽 日本語 é!\n" }, alice, bob)

	// Bob's cursor, drawn in Alice's editor, sits after the "!".
	alice.wait(`(() => {
		const c = document.querySelector('.cm-remote-cursor');
		const v = window.collabEditor.view;
		return c !== null && v.posAtDOM(c) === v.state.doc.toString().indexOf('!') + 1;
	})()`)
}

func TestBrowserKeepsCRLF(t *testing.T) {
	env := newBrowserEnv(t)
	orig := "one\r\ntwo\r\nthree\r\n"
	id := env.create("win.txt", orig)
	p := env.open(env.base + "/d/" + id)
	p.waitSaved()
	if got := p.editorText(); got != orig {
		t.Fatalf("editor text %q, want %q", got, orig)
	}
	// Type at the end of line 2, a new line, a deletion that joins two lines.
	p.do(atLineEnd(2), chromedp.SendKeys(chromedp.CSS(`.cm-content`), "!"), enter(), chromedp.SendKeys(chromedp.CSS(`.cm-content`), "2b"))
	p.waitSaved()
	p.do(chromedp.Click(chromedp.CSS(`.cm-content .cm-line`)), key(kb.End), key(kb.Delete))
	p.waitSaved()
	// The cursor steps over a hidden "\r" as over nothing: from the start
	// of line 2, left is the end of line 1 (before its "\r"), right again
	// is the start of line 2 (after the "\n").
	head := func() int { return evalIn[int](p, `window.collabEditor.view.state.selection.main.head`) }
	p.do(key(kb.ArrowDown), key(kb.Home), key(kb.ArrowLeft))
	if h := head(); h != 7 {
		t.Errorf("left from the start of line 2: cursor at %d, want 7", h)
	}
	p.do(key(kb.ArrowRight))
	if h := head(); h != 9 {
		t.Errorf("right from the end of line 1: cursor at %d, want 9", h)
	}
	want := "onetwo!\r\n2b\r\nthree\r\n"
	if got := env.converged(id, func(s string) bool { return s == want }, p); got != want {
		t.Fatalf("server text %q, want %q", got, want)
	}
	// The "\r"s are hidden, not drawn as control characters.
	if n := evalIn[int](p, `document.querySelectorAll('.cm-specialChar, .cm-lone-cr').length`); n != 0 {
		t.Fatalf("%d control characters are drawn", n)
	}

	// Someone else edits; undo takes back only this editor's edits.
	env.put(id, "ZERO\r\n"+want)
	p.wait(`window.collabEditor.text().startsWith('ZERO\r\n')`)
	for range 8 {
		p.do(key("z", chromedp.ModifierCtrl))
		p.waitSaved()
		if s, _ := env.text(id); s == "ZERO\r\n"+orig {
			break
		}
	}
	env.converged(id, func(s string) bool { return s == "ZERO\r\n"+orig }, p)
	// With its own edits undone, more undo changes nothing: the other
	// person's line stays.
	p.do(key("z", chromedp.ModifierCtrl), key("z", chromedp.ModifierCtrl))
	p.waitSaved()
	if got := p.editorText(); got != "ZERO\r\n"+orig {
		t.Fatalf("undo past this editor's edits: %q", got)
	}
}

func TestBrowserNamesAreText(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("a.txt", "hello\n")
	evil := `<img src=x onerror=pwned=1><script>pwned=2</script>`
	mallory := env.open(env.base + "/d/" + id)
	mallory.waitSaved()
	mallory.do(setName(evil), chromedp.Click(chromedp.CSS(`.cm-content .cm-line`)))
	victim := env.open(env.base + "/d/" + id)
	victim.waitSaved()
	victim.wait(fmt.Sprintf(`[...document.querySelectorAll('#users li .name')].some(e => e.textContent === %s)`, jsString(evil)))
	victim.wait(fmt.Sprintf(`[...document.querySelectorAll('.cm-remote-label')].some(e => e.textContent === %s)`, jsString(evil)))
	// (CodeMirror's own <img class="cm-widgetBuffer"> are not the name's.)
	if bad := evalIn[bool](victim, `window.pwned !== undefined || document.querySelector('img:not(.cm-widgetBuffer), #users script, .cm-editor script') !== null`); bad {
		t.Fatal("a user name was read as HTML")
	}
}

func TestBrowserEmbedInAnotherOrigin(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("e.js", "let x = 1;\n")
	// The host is another origin (another port) that frames the embed and
	// records what it posts.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<iframe id="f" src="%s/embed/%s?%s" style="width:800px;height:300px"></iframe>
<script>
window.msgs = [];
addEventListener('message', (e) => { if (e.data && e.data.source === 'collab') window.msgs.push(e.data); });
function send(m) { document.getElementById('f').contentWindow.postMessage(m, '*'); }
</script>`, env.base, id, r.URL.RawQuery)
	}))
	t.Cleanup(host.Close)

	h := env.open(host.URL + "/?name=Host&theme=dark&line=1")
	h.wait(`window.msgs.some(m => m.type === 'ready' && m.readOnly === false && m.name === 'e.js')`)
	h.do(chromedp.Evaluate[chromedp.Void](`send({type: 'focus'})`))
	h.wait(`document.activeElement === document.getElementById('f')`)
	h.do(typeText("/* hi */ "))
	h.wait(`window.msgs.some(m => m.type === 'change' && m.rev >= 2)`)
	env.converged(id, func(s string) bool { return s == "/* hi */ let x = 1;\n" })
	h.do(chromedp.Evaluate[chromedp.Void](`send({type: 'getText'})`))
	h.wait(`window.msgs.some(m => m.type === 'text' && m.text === '/* hi */ let x = 1;\n' && m.rev === 2)`)

	// setProfile renames the embed's user for everyone.
	h.do(chromedp.Evaluate[chromedp.Void](`send({type: 'setProfile', name: 'Renamed host', color: '#123456'})`))
	eventually(t, "the new name in presence", func() (bool, string) {
		var p struct {
			Users []struct{ Name, Color string }
		}
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &p)
		return len(p.Users) == 1 && p.Users[0].Name == "Renamed host" && p.Users[0].Color == "#123456", fmt.Sprint(p.Users)
	})

	// A read-only embed refuses typing: after it, a change from elsewhere
	// arrives, and its text is the server's, without the typing.
	ro := env.open(host.URL + "/?readonly=1")
	ro.wait(`window.msgs.some(m => m.type === 'ready' && m.readOnly === true)`)
	if len(env.apiRequests("/ws?readonly=1")) == 0 {
		t.Error("the read-only embed did not ask for a read-only session")
	}
	ro.do(chromedp.Evaluate[chromedp.Void](`send({type: 'focus'})`), typeText("nope"), enter())
	h.do(typeText("y"))
	env.converged(id, func(s string) bool { return s == "/* hi */ ylet x = 1;\n" })
	_, rev := env.text(id)
	ro.wait(fmt.Sprintf(`window.msgs.some(m => m.type === 'change' && m.rev === %d)`, rev))
	ro.do(chromedp.Evaluate[chromedp.Void](`send({type: 'getText'})`))
	ro.wait(fmt.Sprintf(`window.msgs.some(m => m.type === 'text' && m.rev === %d)`, rev))
	if got := evalIn[string](ro, `window.msgs.findLast(m => m.type === 'text').text`); got != "/* hi */ ylet x = 1;\n" {
		t.Fatalf("the read-only embed holds %q", got)
	}
	// The embed reports who is there.
	ro.wait(`window.msgs.some(m => m.type === 'presence' && m.users.some(u => u.name === 'Renamed host'))`)
}

func TestBrowserHistoryAndRestore(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("h.txt", "first version\n")
	env.put(id, "second version\n")
	for i := range 120 {
		env.put(id, fmt.Sprintf("edit %d\n", i))
	}
	_, head := env.text(id)
	if head != 122 {
		t.Fatalf("head %d, want 122", head)
	}
	h := env.open(env.base + "/d/" + id + "/history#rev=122")
	h.wait(`document.body.dataset.shown === '122'`)
	h.wait(`document.getElementById('rev-info').textContent.startsWith('revision 122 of 122 — by API')`)
	h.wait(`document.querySelector('#sessions .session.contains')?.dataset.first === '1'`)

	// Move the slider to revision 1, as the keyboard or mouse would.
	h.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById('slider');
		s.value = '1';
		s.dispatchEvent(new Event('input', {bubbles: true}));
	})()`))
	h.wait(`document.body.dataset.shown === '1' && location.hash === '#rev=1'`)
	if got := evalIn[string](h, `window.collabHistory.state.doc.toString()`); got != "first version\n" {
		t.Fatalf("revision 1 shows %q", got)
	}
	h.wait(`document.querySelector('.blame')?.textContent.startsWith('r1 ')`)
	h.wait(`document.getElementById('rev-info').textContent.startsWith('revision 1 of 122')`)

	// Authors and times came in pages around the slider, never the whole log.
	revs := env.apiRequests("/revisions")
	for _, r := range revs {
		if !strings.Contains(r, "limit=50") || !(strings.Contains(r, "after=100&") || strings.Contains(r, "after=0&")) {
			t.Errorf("history asked for %s", r)
		}
	}
	if len(revs) > 2 {
		t.Errorf("history read %d pages of revisions for two positions: %v", len(revs), revs)
	}

	h.do(chromedp.Click(chromedp.CSS(`#restore`)))
	h.wait(`document.body.dataset.shown === '123'`)
	if got, rev := env.text(id); got != "first version\n" || rev != 123 {
		t.Fatalf("after restore: %q at %d", got, rev)
	}
	// The restore is the newest session's last revision.
	h.wait(`document.querySelector('#sessions .session')?.dataset.last === '123'`)
}

// flakyProxy forwards TCP connections to the server until it is cut; then
// it drops them and refuses new ones, as a lost network would.
type flakyProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex // guards cut and conns
	cut   bool
	conns map[net.Conn]bool
}

// acceptLoop serves each connection ln accepts with serve, until ln is
// closed; wait returns once every connection's serve has returned.
func acceptLoop(ln net.Listener, serve func(net.Conn)) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	return wg.Wait
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]bool{}}
	wait := acceptLoop(ln, p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		wait()
	})
	return p
}

func (p *flakyProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *flakyProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// setCut cuts the network (dropping every connection) or restores it.
func (p *flakyProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func TestBrowserOfflineEditsAreKept(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("o.txt", "line one\nline two\n")
	proxy := newFlakyProxy(t, env.base)
	alice := env.openAllowingErrors(proxy.url() + "/d/" + id)
	bob := env.open(env.base + "/d/" + id)
	alice.waitSaved()
	bob.waitSaved()

	proxy.setCut(true)
	alice.wait(`document.getElementById('status').dataset.state === 'offline'`)
	alice.do(atLineEnd(1), typeText(" (offline 😀)"), enter(), typeText("new line"))
	bob.do(atLineEnd(2), typeText(" (online)"))
	env.converged(id, func(s string) bool { return s == "line one\nline two (online)\n" }, bob)
	if got := alice.editorText(); got != "line one (offline 😀)\nnew line\nline two\n" {
		t.Fatalf("alice, offline, holds %q", got)
	}

	proxy.setCut(false)
	alice.do(chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('online'))`))
	alice.waitSaved()
	env.converged(id, func(s string) bool { return s == "line one (offline 😀)\nnew line\nline two (online)\n" }, alice, bob)
}

func TestBrowserWorkspace(t *testing.T) {
	env := newBrowserEnv(t)
	var ws struct{ ID string }
	env.call("POST", "/api/workspaces", "", nil, http.StatusCreated, &ws)
	w := env.open(env.base + "/w/" + ws.ID)
	w.wait(`document.getElementById('empty').hidden === false`)
	for _, name := range []string{"src/main.go", "README.md"} {
		w.do(chromedp.SetValue(chromedp.CSS(`#new-file-name`), name), chromedp.Click(chromedp.CSS(`#new-file`)))
		w.wait(fmt.Sprintf(`document.querySelector('[data-file=%s]') !== null`, jsString(name)))
	}
	w.wait(`document.querySelector('[data-dir="src/"] [data-file="src/main.go"]') !== null`)

	// Rename in place.
	w.do(chromedp.Click(chromedp.CSS(`[data-file="README.md"] .actions button`)))
	w.do(chromedp.SetValue(chromedp.CSS(`input.rename`), "docs/README.md"), chromedp.Click(chromedp.CSS(`[data-file="README.md"] button:not(.link)`)))
	w.wait(`document.querySelector('[data-dir="docs/"] [data-file="docs/README.md"]') !== null`)

	// Someone opens a file: the workspace shows who is in it.
	href := evalIn[string](w, `document.querySelector('[data-file="src/main.go"] a').getAttribute('href')`)
	e := env.open(env.base + href)
	e.waitSaved()
	e.do(setName("Dora"))
	fileID := strings.TrimPrefix(href, "/d/")
	eventually(t, "Dora in the file's presence", func() (bool, string) {
		var p struct{ Users []struct{ Name string } }
		env.call("GET", "/api/docs/"+fileID+"/presence", "", nil, http.StatusOK, &p)
		return len(p.Users) == 1 && p.Users[0].Name == "Dora", fmt.Sprint(p.Users)
	})
	w.do(chromedp.Click(chromedp.CSS(`#refresh`)))
	w.wait(`document.querySelector('[data-file="src/main.go"] .who')?.textContent === 'Dora'`)

	// The workspace's edit link deletes its files (no API token).
	w.do(chromedp.Click(chromedp.CSS(`[data-file="docs/README.md"] .actions button:nth-child(2)`)))
	w.do(chromedp.Click(chromedp.CSS(`[data-file="docs/README.md"] button.danger`)))
	w.wait(`document.querySelector('[data-file="docs/README.md"]') === null && document.querySelector('[data-file="src/main.go"]') !== null`)
	var files struct{ Files []struct{ Name string } }
	env.call("GET", "/api/workspaces/"+ws.ID+"/files", "", nil, http.StatusOK, &files)
	if len(files.Files) != 1 || files.Files[0].Name != "src/main.go" {
		t.Fatalf("files after the delete: %+v", files.Files)
	}
}

// TestBrowserEmbedSnippetFromDocs serves the snippet of docs/EMBED.md, as
// written there, from a host of another origin, so the documentation
// cannot drift from what works.
func TestBrowserEmbedSnippetFromDocs(t *testing.T) {
	env := newBrowserEnv(t)
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "EMBED.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```html\n")
	snippet, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/EMBED.md has no ```html snippet")
	}
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	id := env.create("snippet.py", strings.Join(lines, "\n")+"\n")
	page := strings.NewReplacer("https://collab.example.com", env.base, "DOC_ID", id).Replace(snippet)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>host</title>\n"+page)
	}))
	t.Cleanup(host.Close)

	h := env.open(host.URL + "/")
	// On "ready" the snippet renames the visitor and focuses the editor.
	eventually(t, "the snippet's profile in presence", func() (bool, string) {
		var p struct {
			Users []struct{ Name, Color string }
		}
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &p)
		return len(p.Users) == 1 && p.Users[0].Name == "Ann B." && p.Users[0].Color == "#e06c75", fmt.Sprint(p.Users)
	})
	h.wait(`document.activeElement === document.getElementById('collab')`)
	// line=12 put the cursor at the start of line 12.
	h.do(typeText("# here "))
	want := strings.Replace(strings.Join(lines, "\n")+"\n", "line 12", "# here line 12", 1)
	env.converged(id, func(s string) bool { return s == want })
	h.do(chromedp.Click(chromedp.CSS(`#save`)))
	h.wait(fmt.Sprintf(`localStorage.getItem('copy') === %s`, jsString(want)))
}

// TestPagesAndAssets checks the page shells and the asset server without a
// browser: status codes, caching and compression.
func TestPagesAndAssets(t *testing.T) {
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "pages.db"), docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	srv := New(Config{}, mgr, NewMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := httptest.NewServer(checkAPI(t, srv))
	t.Cleanup(hs.Close)
	body, _ := json.Marshal(map[string]string{"name": "a.go", "text": "package a\n"})
	resp, err := http.Post(hs.URL+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()

	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		// Without DisableCompression the transport would add and undo gzip itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct {
		path   string
		status int
		has    string
	}{
		{"/", 200, `data-page="start"`},
		{"/d/" + d.ID, 200, `data-page="editor"`},
		{"/d/" + d.ID + "/history", 200, `data-page="history"`},
		{"/embed/" + d.ID, 200, `data-page="embed"`},
		{"/embed/some-doc-id?token=x", 200, `data-page="embed"`},                               // checked over the socket
		{"/embed/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E?token=x", 200, `data-page="embed"`}, // and no <script>
		{"/d/no-such-link", 404, "Not found"},
		{"/w/no-such-link", 404, "no such workspace"},
		{"/w/" + d.ID, 404, "no such workspace"}, // a document's link is not a workspace's
		{"/d/%3Cscript%3E", 404, "Not found"},
		{"/embed-demo", 200, "embed-demo.js"},
		{"/assets/app.js", 200, "import("},
		{"/assets/chunks/", 404, ""},
		{"/assets/", 404, ""},
		{"/assets/missing.js", 404, ""},
	} {
		resp, b := get(tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(b, tc.has) {
			t.Errorf("GET %s: %d, want %d with %q:\n%.300s", tc.path, resp.StatusCode, tc.status, tc.has, b)
		}
		if strings.Contains(b, "<script>") {
			t.Errorf("GET %s: an inline script", tc.path)
		}
	}

	resp, _ = get("/d/" + d.ID)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("editor CSP %q", csp)
	}
	resp, _ = get("/embed/" + d.ID)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors *") {
		t.Errorf("embed CSP %q", csp)
	}

	// app.js: revalidated, with an ETag per encoding; gzip when asked for.
	plain, js := get("/assets/app.js")
	if plain.Header.Get("Cache-Control") != "no-cache" || plain.Header.Get("ETag") == "" || !strings.HasPrefix(plain.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js headers: %v", plain.Header)
	}
	if again, _ := get("/assets/app.js", "If-None-Match", plain.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("app.js with its ETag: %d", again.StatusCode)
	}
	// A chunk: immutable, compressed.
	chunk := js[strings.Index(js, "./chunks/")+2:]
	chunk = chunk[:strings.Index(chunk, `"`)]
	zipped, zb := get("/assets/"+chunk, "Accept-Encoding", "br, gzip")
	if zipped.StatusCode != 200 || zipped.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("%s: %d %v", chunk, zipped.StatusCode, zipped.Header)
	}
	unzipped, ub := get("/assets/"+chunk, "Accept-Encoding", "gzip;q=0")
	if unzipped.Header.Get("Content-Encoding") != "" || unzipped.Header.Get("ETag") == zipped.Header.Get("ETag") {
		t.Errorf("%s without gzip: %v", chunk, unzipped.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(zb))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != ub {
		t.Errorf("%s: the gzipped body is not the file", chunk)
	}
}

// TestBrowserRefusesTooLargePaste: a paste larger than the server takes in
// one message is refused by the editor before it is made, with a notice;
// the session stays open and the next edits go through.
func TestBrowserRefusesTooLargePaste(t *testing.T) {
	env := newBrowserEnvWith(t, Config{MaxMessageBytes: 64 << 10})
	id := env.create("big.txt", "start\n")
	p := env.open(env.base + "/d/" + id)
	p.waitSaved()
	p.do(atLineEnd(1), typeText(strings.Repeat("0123456789abcdef", 5<<10))) // 80 KB
	p.wait(`!document.getElementById('notice').hidden && document.getElementById('notice').textContent.includes('not made')`)
	if got := p.editorText(); got != "start\n" {
		t.Fatalf("after the refused paste the editor holds %.80q", got)
	}
	// A paste that fits goes through, on the same session.
	p.do(typeText(strings.Repeat("x", 40<<10)))
	want := "start" + strings.Repeat("x", 40<<10) + "\n"
	env.converged(id, func(s string) bool { return s == want }, p)
	p.waitSaved()
	if n := len(env.apiRequests("/ws")); n != 1 {
		t.Errorf("%d WebSocket sessions, want 1: the session was closed", n)
	}
}

// TestBrowserHighlightingAndThemes: syntax highlighting is chosen from the
// file name, and its language is loaded only when a file needs it; the
// theme switches between light and dark and is remembered, as are the
// user's name and colour. It leaves screenshots/editor-dark.png.
func TestBrowserHighlightingAndThemes(t *testing.T) {
	env := newBrowserEnv(t)
	goID := env.create("main.go", "package main\n\nfunc main() {}\n")
	txtID := env.create("notes.txt", "package main\n\nfunc main() {}\n")
	// A keyword is drawn in another colour than the text around it.
	const keywordColoured = `[...document.querySelectorAll('.cm-content .cm-line span')].some(s => s.textContent === 'package' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('.cm-content')).color)`
	const chunks = `JSON.stringify(performance.getEntriesByType('resource').map(e => new URL(e.name).pathname).filter(p => p.startsWith('/assets/chunks/')))`

	txt := env.open(env.base + "/d/" + txtID)
	txt.waitSaved()
	var txtChunks []string
	json.Unmarshal([]byte(evalIn[string](txt, chunks)), &txtChunks)
	if evalIn[bool](txt, keywordColoured) {
		t.Error("a .txt file is highlighted")
	}

	g := env.open(env.base + "/d/" + goID)
	g.waitSaved()
	g.wait(keywordColoured)
	var goChunks []string
	json.Unmarshal([]byte(evalIn[string](g, chunks)), &goChunks)
	extra := 0
	for _, c := range goChunks {
		if !slices.Contains(txtChunks, c) {
			extra++
		}
	}
	all, _ := fs.ReadDir(frontend.Dist, "chunks")
	t.Logf("chunks loaded: %d for .txt, %d for .go, of %d", len(txtChunks), len(goChunks), len(all))
	if extra == 0 || len(goChunks) > len(all)/4 {
		t.Errorf("the .go editor loaded %d chunks of %d, %d more than the .txt one: want a few, loaded on demand", len(goChunks), len(all), extra)
	}

	// Dark, then light again; the choice is remembered.
	const editorBg = `getComputedStyle(document.querySelector('.cm-editor')).backgroundColor`
	light := evalIn[string](g, editorBg)
	g.do(chromedp.Click(chromedp.CSS(`#theme`)))
	g.wait(`document.documentElement.dataset.theme === 'dark'`)
	g.wait(editorBg + ` === 'rgb(40, 44, 52)'`) // One Dark's background
	saveScreenshot(t, g, "editor-dark.png")
	g.do(setName("Remembered Name"), setColor("#c678dd"))
	g.do(chromedp.Navigate(env.base + "/d/" + goID))
	g.waitSaved()
	g.wait(`document.documentElement.dataset.theme === 'dark' && ` + editorBg + ` === 'rgb(40, 44, 52)'`)
	g.wait(`document.getElementById('my-name').value === 'Remembered Name' && document.getElementById('my-color').value === '#c678dd' &&
		document.querySelector('#users li.me .name').textContent === 'Remembered Name (you)'`)
	g.do(chromedp.Click(chromedp.CSS(`#theme`)))
	g.wait(`document.documentElement.dataset.theme === 'light' && ` + editorBg + ` === ` + jsString(light))
}

// TestBrowserEmbedParameters: the embed's URL parameters theme,
// lineNumbers, lang, name, color and line take effect.
func TestBrowserEmbedParameters(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("script.txt", "# a comment\ndef f():\n    return 1\n")
	p := env.open(env.base + "/embed/" + id + "?theme=dark&lineNumbers=0&lang=python&name=Zed&color=%23123456&line=2")
	p.wait(`document.body.dataset.status === 'saved'`)
	p.wait(`document.documentElement.dataset.theme === 'dark' && getComputedStyle(document.querySelector('.cm-editor')).backgroundColor === 'rgb(40, 44, 52)'`)
	if evalIn[bool](p, `document.querySelector('.cm-lineNumbers') !== null`) {
		t.Error("lineNumbers=0 shows line numbers")
	}
	p.wait(`[...document.querySelectorAll('.cm-content .cm-line span')].some(s => s.textContent === 'def' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('.cm-content')).color)`)
	if line := evalIn[int](p, `window.collabEditor.view.state.doc.lineAt(window.collabEditor.view.state.selection.main.head).number`); line != 2 {
		t.Errorf("line=2 put the cursor on line %d", line)
	}
	eventually(t, "the embed's name and colour in presence", func() (bool, string) {
		var pr struct {
			Users []struct{ Name, Color string }
		}
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &pr)
		return len(pr.Users) == 1 && pr.Users[0].Name == "Zed" && pr.Users[0].Color == "#123456", fmt.Sprint(pr.Users)
	})
	// Without parameters: light, with line numbers.
	q := env.open(env.base + "/embed/" + id)
	q.wait(`document.body.dataset.status === 'saved' && document.documentElement.dataset.theme === 'light' && document.querySelector('.cm-lineNumbers') !== null`)
}

// TestBrowserEmbedDemo: the demo host page at /embed-demo frames a
// document, logs what the embed posts and sends it commands, app events
// and app data among them, without a console error.
func TestBrowserEmbedDemo(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("demo.js", "let demo = 1;\n")
	d := env.open(env.base + "/embed-demo?doc=" + id)
	d.wait(`document.getElementById('log').textContent.includes('"type":"ready"')`)
	d.do(chromedp.Click(chromedp.CSS(`#get`)))
	d.wait(`document.getElementById('log').textContent.includes('"text":"let demo = 1;\\n"')`)
	d.do(chromedp.SetValue(chromedp.CSS(`#name`), "Demo host"), chromedp.Click(chromedp.CSS(`#profile`)))
	eventually(t, "the demo's name in presence", func() (bool, string) {
		var p struct{ Users []struct{ Name string } }
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &p)
		return len(p.Users) == 1 && p.Users[0].Name == "Demo host", fmt.Sprint(p.Users)
	})
	// An event to everyone (the demo's own session) round-trips, acknowledged.
	const log = `document.getElementById('log').textContent`
	d.do(chromedp.Click(chromedp.CSS(`#send-event`)))
	d.wait(log + `.includes('"type":"event","name":"hello","data":{"text":"hi"},"from":"u')`)
	d.wait(log + `.includes('"type":"eventAck","id":1,"delivered":1')`)
	d.do(chromedp.Click(chromedp.CSS(`#set-data`)))
	d.wait(log + `.includes('"type":"data","user":"u') && ` + log + `.includes('"data":{"status":"here"}')`)
	eventually(t, "the demo's data in presence", func() (bool, string) {
		var p struct {
			Users []struct{ Data map[string]string }
		}
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &p)
		return len(p.Users) == 1 && p.Users[0].Data["status"] == "here", fmt.Sprint(p.Users)
	})
}

// TestBrowserOnlyEmbedsMayBeFramed: a page of another origin can frame
// /embed/{id}, but the browser refuses to show the editor page or the
// history in a frame.
func TestBrowserOnlyEmbedsMayBeFramed(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("f.txt", "framed\n")
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<iframe name="embed" src="%[1]s/embed/%[2]s"></iframe>
<iframe name="editor" src="%[1]s/d/%[2]s"></iframe>
<iframe name="history" src="%[1]s/d/%[2]s/history"></iframe>`, env.base, id)
	}))
	t.Cleanup(host.Close)
	h := env.openAllowingErrors(host.URL + "/") // the browser logs each refused frame as an error
	// The URL each frame shows; a refused frame shows Chromium's error page.
	frames := func() map[string]string {
		var tree *page.FrameTree
		h.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			res, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
			tree = res.FrameTree
			return err
		}))
		out := map[string]string{}
		for _, f := range tree.ChildFrames {
			out[f.Frame.Name] = f.Frame.URL
		}
		return out
	}
	eventually(t, "the frames to load", func() (bool, string) {
		f := frames()
		return strings.HasPrefix(f["embed"], env.base+"/embed/") && strings.HasPrefix(f["editor"], "chrome-error:") && strings.HasPrefix(f["history"], "chrome-error:"), fmt.Sprint(f)
	})
	eventually(t, "the embed's session", func() (bool, string) {
		n := len(env.apiRequests("/ws"))
		return n > 0, fmt.Sprint(n)
	})
	if n := len(env.apiRequests("/ws")); n != 1 {
		t.Errorf("%d WebSocket sessions from the frames, want the embed's alone", n)
	}
}

// TestBrowserStartPage: the start page creates a file and a workspace and
// lists them among the recent ones, kept in the browser.
func TestBrowserStartPage(t *testing.T) {
	env := newBrowserEnv(t)
	p := env.open(env.base + "/")
	// The page's script has run (the section is hidden in the HTML too: a
	// click before the script's submit handler would submit the form).
	p.wait(`document.documentElement.dataset.theme !== undefined && document.getElementById('recent-section').hidden === true`)
	p.do(chromedp.SetValue(chromedp.CSS(`#new-name`), "hello.py"), chromedp.Click(chromedp.CSS(`#new-file`)))
	p.waitAcross(`location.pathname.startsWith('/d/') && document.getElementById('status')?.dataset.state === 'saved' && document.title.startsWith('hello.py')`)
	docPath := evalIn[string](p, `location.pathname`)
	p.do(chromedp.Click(chromedp.CSS(`.cm-content`)), typeText("print('hi')"))
	p.wait(`window.collabEditor.text() === "print('hi')"`)
	p.waitSaved()
	if text, _ := env.text(strings.TrimPrefix(docPath, "/d/")); text != "print('hi')" {
		t.Fatalf("the new file holds %q", text)
	}

	p.do(chromedp.Navigate(env.base + "/"))
	p.waitAcross(fmt.Sprintf(`document.querySelector('#recent .recent-doc a')?.getAttribute('href') === %s && document.querySelector('#recent .recent-doc a').textContent === 'hello.py'`, jsString(docPath)))
	p.do(chromedp.Click(chromedp.CSS(`#new-workspace`)))
	p.waitAcross(`location.pathname.startsWith('/w/') && document.getElementById('empty')?.hidden === false`)
	p.do(chromedp.Navigate(env.base + "/"))
	// The new workspace first, then the file and the workspace it was made in.
	const recent = `[...document.querySelectorAll('#recent li')].map(l => l.className + ' ' + l.querySelector('a').textContent).join(', ')`
	p.waitAcross(recent + ` === 'recent-workspace Workspace, recent-doc hello.py, recent-workspace Workspace of hello.py'`)
	// Forget one.
	p.do(chromedp.Click(chromedp.CSS(`#recent li.recent-workspace button`)))
	p.wait(recent + ` === 'recent-doc hello.py, recent-workspace Workspace of hello.py'`)
}

// TestBrowserEmbedEventsAndData: two host pages of another origin, each
// framing an embed (an editor with app data from the URL, a viewer), use
// the postMessage API: a direct event and its ack, a viewer's event
// refused until the document allows it, app data set and read and shown
// in presence, and events from the backend. Any console error fails it.
func TestBrowserEmbedEventsAndData(t *testing.T) {
	env := newBrowserEnvWith(t, Config{APIToken: adminToken})
	id := env.create("events.js", "let x = 1;\n")
	var d struct{ Links struct{ View string } }
	env.call("GET", "/api/docs/"+id, "", nil, http.StatusOK, &d)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		doc := q.Get("doc")
		q.Del("doc")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<iframe id="f" src="%s/embed/%s?%s" style="width:800px;height:200px"></iframe>
<script>
window.msgs = [];
addEventListener('message', (e) => { if (e.data && e.data.source === 'collab') window.msgs.push(e.data); });
function send(m) { document.getElementById('f').contentWindow.postMessage(m, '*'); }
function got(type, f) { return window.msgs.find((m) => m.type === type && f(m)); }
</script>`, env.base, doc, q.Encode())
	}))
	t.Cleanup(host.Close)
	run := func(p *browserPage, js string) { p.do(chromedp.Evaluate[chromedp.Void](js)) }

	ann := env.open(host.URL + "/?doc=" + id + "&name=Ann&data=" + url.QueryEscape(`{"role":"author"}`))
	ann.wait(`!!got('ready', (m) => m.readOnly === false && m.data.role === 'author' && m.settings.viewerEvents === false)`)
	annUser := evalIn[string](ann, `got('ready', () => true).user`)
	bob := env.open(host.URL + "/?doc=" + d.Links.View + "&name=Bob")
	bob.wait(`!!got('ready', (m) => m.readOnly === true)`)
	bobUser := evalIn[string](bob, `got('ready', () => true).user`)
	ann.wait(fmt.Sprintf(`!!got('presence', (m) => m.users.some((u) => u.id === %q && u.name === 'Bob' && u.readOnly))`, bobUser))
	bob.wait(fmt.Sprintf(`!!got('presence', (m) => m.users.some((u) => u.id === %q && u.data.role === 'author'))`, annUser))

	// A direct event: to Bob alone, acknowledged with the count.
	run(ann, fmt.Sprintf(`send({type: 'sendEvent', name: 'follow-me', data: {line: 2}, to: [%q], id: 'dm1'})`, bobUser))
	ann.wait(`!!got('eventAck', (m) => m.id === 'dm1' && m.delivered === 1)`)
	bob.wait(fmt.Sprintf(`!!got('event', (m) => m.name === 'follow-me' && m.data.line === 2 && m.from === %q)`, annUser))
	run(ann, `send({type: 'sendEvent', name: 'marker', id: 'm1'})`)
	ann.wait(`!!got('event', (m) => m.name === 'marker')`)
	if evalIn[bool](ann, `!!got('event', (m) => m.name === 'follow-me')`) {
		t.Error("the direct event to Bob reached Ann too")
	}

	// The viewer may not send events until the document allows it.
	run(bob, `send({type: 'sendEvent', name: 'hi', id: 'v1'})`)
	bob.wait(`!!got('eventError', (m) => m.id === 'v1' && m.code === 'read_only')`)
	env.call("PATCH", "/api/docs/"+id, "application/json", []byte(`{"settings":{"viewerEvents":true}}`), http.StatusOK, nil)
	bob.wait(`!!got('meta', (m) => m.settings.viewerEvents === true)`)
	run(bob, `send({type: 'sendEvent', name: 'hi', data: 'from the viewer', id: 'v2'})`)
	bob.wait(`!!got('eventAck', (m) => m.id === 'v2' && m.delivered === 2)`)
	ann.wait(fmt.Sprintf(`!!got('event', (m) => m.name === 'hi' && m.data === 'from the viewer' && m.from === %q)`, bobUser))
	run(bob, `send({type: 'sendEvent', name: 'bad name', id: 'bad'})`)
	bob.wait(`!!got('eventError', (m) => m.id === 'bad' && m.code === 'invalid')`)

	// App data: set, echoed, shown to the others and in presence, read.
	run(ann, `send({type: 'setData', data: {status: 'away'}})`)
	ann.wait(`!!got('data', (m) => m.data.status === 'away' && m.data.role === 'author')`)
	bob.wait(fmt.Sprintf(`!!got('presence', (m) => m.users.some((u) => u.id === %q && u.data.status === 'away'))`, annUser))
	var pr struct {
		Users []struct {
			ID   string
			Data map[string]string
		}
	}
	env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &pr)
	found := false
	for _, u := range pr.Users {
		found = found || u.ID == annUser && u.Data["status"] == "away" && u.Data["role"] == "author"
	}
	if !found {
		t.Errorf("presence: %+v", pr.Users)
	}
	run(bob, `send({type: 'getData'})`)
	bob.wait(fmt.Sprintf(`!!got('data', (m) => m.user === %q)`, bobUser))

	// From the backend: the document's route and an announcement.
	env.call("POST", "/api/docs/"+id+"/events", "application/json", []byte(`{"name":"tests","data":{"state":"running"}}`), http.StatusOK, nil)
	if st, body := postJSON(t, "POST", env.base+"/api/admin/events", adminToken, `{"name":"restart","data":{"in":300}}`); st != http.StatusOK || body["delivered"] != 2.0 {
		t.Fatalf("announcement: %d %v", st, body)
	}
	for _, p := range []*browserPage{ann, bob} {
		p.wait(`!!got('event', (m) => m.name === 'tests' && m.from === 'api' && m.data.state === 'running')`)
		p.wait(`!!got('event', (m) => m.name === 'restart' && m.from === 'admin' && m.data.in === 300)`)
	}
}
