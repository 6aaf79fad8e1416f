package server

// Browser tests of the editor page and the embed (issue #18): a dead
// connection noticed within seconds, unsent edits kept across a closed or
// crashed tab and delivered once, invisible characters shown, indentation
// that follows the file, cursor labels that fade and never overlap, the
// chat, the share links and the way back to the workspace, the author
// secret, and a language load that fails once. They use the helpers of
// browser_test.go.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// stallProxy forwards TCP connections to the server. It can stall them,
// each direction on its own (bytes are read and held, nothing is closed:
// a dead Wi-Fi, a lost ack), and cut them (every connection dropped and
// new ones refused: the server unreachable).
type stallProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex // guards stalled, cut, done and conns
	cond    *sync.Cond // signalled when stalled, cut or done change
	stalled [2]bool    // [up (to the server), down (to the browser)]
	cut     bool
	done    bool
	conns   map[net.Conn]bool
}

const (
	up   = 0
	down = 1
)

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	wait := acceptLoop(ln, p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.done = true
		for c := range p.conns {
			c.Close()
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		wait()
	})
	return p
}

func (p *stallProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *stallProxy) serve(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	refuse := p.cut || p.done
	p.mu.Unlock()
	if refuse {
		return
	}
	srv, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer srv.Close()
	p.mu.Lock()
	p.conns[c], p.conns[srv] = true, true
	p.mu.Unlock()
	finished := make(chan struct{}, 2)
	go func() { p.pipe(srv, c, up); finished <- struct{}{} }()
	go func() { p.pipe(c, srv, down); finished <- struct{}{} }()
	<-finished
	c.Close()
	srv.Close()
	<-finished
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, srv)
	p.mu.Unlock()
}

// pipe copies src to dst, holding what it read while its direction is stalled.
func (p *stallProxy) pipe(dst, src net.Conn, dir int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled[dir] && !p.done && !p.cut {
				p.cond.Wait()
			}
			gone := p.done || p.cut
			p.mu.Unlock()
			if gone {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall holds the traffic of the given directions from now on (false,
// false lets it flow again, held bytes first).
func (p *stallProxy) stall(toServer, toBrowser bool) {
	p.mu.Lock()
	p.stalled = [2]bool{toServer, toBrowser}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// setCut drops every connection and refuses new ones, or ends that.
func (p *stallProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// networkError accepts the console errors a browser logs for a network
// that fails (a refused or dropped WebSocket, a failed request): expected
// when a test cuts the network, unlike any error of the page's own.
func networkError(msg string) bool {
	return strings.Contains(msg, "WebSocket connection to") || strings.Contains(msg, "Failed to load resource") ||
		strings.Contains(msg, "net::ERR_")
}

// openOnFlakyNetwork is open for a page whose network the test breaks:
// the browser's network errors are expected, any other console error
// fails the test.
func (env *browserEnv) openOnFlakyNetwork(url string) *browserPage {
	env.t.Helper()
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithNewBrowserContext())
	env.t.Cleanup(cancel)
	return env.tabIn(ctx, url)
}

// newTab opens url in another tab of p's browser context: the same
// person, the same storage. The tab's own cancel closes it.
func (env *browserEnv) newTab(p *browserPage, url string) (*browserPage, context.CancelFunc) {
	env.t.Helper()
	// Made from the browser, not from p's tab, which may be gone (crashed).
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithExistingBrowserContext(chromedp.FromContext(p.ctx).BrowserContextID))
	env.t.Cleanup(cancel)
	return env.tabIn(ctx, url), cancel
}

func (env *browserEnv) tabIn(ctx context.Context, url string) *browserPage {
	env.t.Helper()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	env.t.Cleanup(cancelTimeout)
	env.failOnConsoleErrorsBut(ctx, url, networkError)
	p := &browserPage{t: env.t, ctx: ctx}
	p.do(chromedp.Navigate(url))
	return p
}

// pendingRecords is the unsent edits the page's browser keeps (IndexedDB), as JSON.
const pendingRecords = `new Promise((resolve, reject) => {
	const r = indexedDB.open('collab', 1);
	r.onerror = () => reject(r.error);
	r.onsuccess = () => {
		const q = r.result.transaction('pending').objectStore('pending').getAll();
		q.onsuccess = () => { resolve(JSON.stringify(q.result)); r.result.close(); };
		q.onerror = () => reject(q.error);
	};
})`

func (p *browserPage) pending() string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](pendingRecords, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("reading the kept edits: %v", err)
	}
	return v
}

// beforeUnloadWarns reports whether leaving the page now would warn.
const beforeUnloadWarns = `(() => { const e = new Event('beforeunload', {cancelable: true}); dispatchEvent(e); return e.defaultPrevented; })()`

// TestBrowserStalledSocketIsNoticed: a connection that stops carrying
// anything, without closing, is found dead within 10 s by the page's own
// heartbeat, also when it has nothing to send; edits made then are kept
// and warned about, and sent when the network comes back. The browser's
// offline event is believed at once.
func TestBrowserStalledSocketIsNoticed(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("s.txt", "line one\n")
	proxy := newStallProxy(t, env.base)
	p := env.openOnFlakyNetwork(proxy.url() + "/d/" + id)
	p.waitSaved()
	if evalIn[bool](p, beforeUnloadWarns) {
		t.Error("leaving a page with nothing unsent warns")
	}

	proxy.stall(true, true)
	stalled := time.Now()
	p.wait(`document.getElementById('status').dataset.state === 'offline'`)
	took := time.Since(stalled)
	t.Logf("a stalled connection was noticed after %v", took)
	if took > 10*time.Second {
		t.Errorf("the stall was noticed after %v, want at most 10 s", took)
	}

	p.do(atLineEnd(1), typeText(" (typed offline)"))
	p.wait(`document.getElementById('status').textContent.includes('edits are kept') && document.body.dataset.unsent === 'true'`)
	if !evalIn[bool](p, beforeUnloadWarns) {
		t.Error("leaving the page with unsent edits does not warn")
	}
	proxy.stall(false, false)
	p.do(chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('online'))`))
	p.waitSaved()
	env.converged(id, func(s string) bool { return s == "line one (typed offline)\n" }, p)
	p.wait(`document.body.dataset.unsent === 'false'`)

	// The browser says the network is gone: offline at once; back: saved.
	p.do(chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('offline'))`))
	p.wait(`document.getElementById('status').dataset.state === 'offline'`)
	p.do(chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('online'))`))
	p.waitSaved()
}

// TestBrowserUnsentEditsSurviveACrashedTab: an edit reaches the server
// but its ack is lost on the way back; offline, the person types more; the
// tab crashes. When the document is opened again in that browser, both
// edits are delivered, each exactly once, transformed over what others did
// meanwhile.
func TestBrowserUnsentEditsSurviveACrashedTab(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("c.txt", "hello\n")
	proxy := newStallProxy(t, env.base)
	home := env.openOnFlakyNetwork(proxy.url() + "/")
	tab, closeTab := env.newTab(home, proxy.url()+"/d/"+id)
	tab.waitSaved()

	proxy.stall(false, true) // the server hears the tab; the tab hears nothing
	tab.do(atLineEnd(1), typeText(" one"))
	eventually(t, "the first edit on the server", func() (bool, string) {
		s, _ := env.text(id)
		return s == "hello one\n", s
	})
	proxy.setCut(true) // and now the network is gone
	proxy.stall(false, false)
	tab.wait(`document.getElementById('status').dataset.state === 'offline'`)
	tab.do(typeText(" two"))
	tab.wait(`window.collabEditor.text() === 'hello one two\n'`)
	eventually(t, "both edits kept in the browser", func() (bool, string) {
		s := tab.pending()
		return strings.Contains(s, `"inflight":{"id":`) && strings.Contains(s, `" two"`), s
	})
	if !evalIn[bool](tab, beforeUnloadWarns) {
		t.Error("leaving the page with unsent edits does not warn")
	}
	// Crash the tab's renderer. (The command is never answered: its
	// page is gone.)
	crashed := make(chan struct{})
	var once sync.Once
	if err := chromedp.Listen(tab.ctx, func(ev any) {
		if _, ok := ev.(*inspector.EventTargetCrashed); ok {
			once.Do(func() { close(crashed) })
		}
	}); err != nil {
		t.Fatal(err)
	}
	crash, cancelCrash := context.WithTimeout(tab.ctx, 2*time.Second)
	chromedp.Do(crash, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, inspector.Enable, cdp.Empty{})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, t, page.Crash, cdp.Empty{})
		return err
	}))
	cancelCrash()
	select {
	case <-crashed:
	case <-time.After(browserWait):
		t.Fatal("the tab did not crash")
	}
	closeTab()

	// Meanwhile someone else edits.
	bob := env.open(env.base + "/d/" + id)
	bob.waitSaved()
	bob.do(chromedp.Click(chromedp.CSS(`.cm-content .cm-line`)), key(kb.Home), typeText("> "))
	env.converged(id, func(s string) bool { return s == "> hello one\n" }, bob)

	proxy.setCut(false)
	again, _ := env.newTab(home, proxy.url()+"/d/"+id)
	again.waitSaved()
	want := "> hello one two\n"
	env.converged(id, func(s string) bool { return s == want }, again, bob)
	again.wait(`document.getElementById('notice').textContent.includes('are saved now')`)
	eventually(t, "the kept edits deleted", func() (bool, string) {
		s := again.pending()
		return s == "[]", s
	})
	again.waitSaved()
	env.converged(id, func(s string) bool { return s == want }, again, bob)
	// Exactly once: four revisions (creation, " one", "> ", " two").
	if _, rev := env.text(id); rev != 4 {
		t.Errorf("the document is at revision %d, want 4: an edit was applied twice, or not at all", rev)
	}
}

// TestBrowserUnsentEditsSurviveAClosedTab: with the server unreachable, a
// person types and closes the tab (after the warning). Opening the
// document again later delivers the edits once.
func TestBrowserUnsentEditsSurviveAClosedTab(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("closed.go", "package main\n")
	proxy := newStallProxy(t, env.base)
	home := env.openOnFlakyNetwork(proxy.url() + "/")
	tab, closeTab := env.newTab(home, proxy.url()+"/d/"+id)
	tab.waitSaved()
	proxy.setCut(true)
	tab.wait(`document.getElementById('status').dataset.state === 'offline'`)
	tab.do(atLineEnd(1), enter(), typeText("// written offline"))
	eventually(t, "the edit kept in the browser", func() (bool, string) {
		s := tab.pending()
		return strings.Contains(s, "written offline"), s
	})
	closeTab()
	if s, rev := env.text(id); s != "package main\n" || rev != 1 {
		t.Fatalf("the server has %q at %d", s, rev)
	}

	proxy.setCut(false)
	again, _ := env.newTab(home, proxy.url()+"/d/"+id)
	again.waitSaved()
	want := "package main\n// written offline\n"
	env.converged(id, func(s string) bool { return s == want }, again)
	eventually(t, "the kept edits deleted", func() (bool, string) {
		s := again.pending()
		return s == "[]", s
	})
	// Reopening once more delivers nothing again.
	third, _ := env.newTab(home, proxy.url()+"/d/"+id)
	third.waitSaved()
	if s, rev := env.text(id); s != want || rev != 2 {
		t.Fatalf("after another visit the server has %q at %d", s, rev)
	}
}

// TestBrowserEmbedTellsOfflineAndUnsent: the embed tells its host when its
// connection dies (within 10 s of a stall) and comes back, and when the
// visitor has edits the server does not have yet, and when they are saved.
func TestBrowserEmbedTellsOfflineAndUnsent(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("e.py", "x = 1\n")
	proxy := newStallProxy(t, env.base)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>host</title>
<iframe id="f" src="%s/embed/%s" style="width:800px;height:300px"></iframe>
<script>
window.msgs = [];
addEventListener('message', (e) => { if (e.data && e.data.source === 'collab') window.msgs.push({...e.data, at: Date.now()}); });
function send(m) { document.getElementById('f').contentWindow.postMessage(m, '*'); }
</script>`, proxy.url(), id)
	}))
	t.Cleanup(host.Close)
	h := env.openOnFlakyNetwork(host.URL + "/")
	h.wait(`window.msgs.some(m => m.type === 'ready' && m.unsent === false)`)
	proxy.stall(true, true)
	stalled := time.Now()
	h.wait(`window.msgs.some(m => m.type === 'connection' && m.online === false)`)
	if took := time.Since(stalled); took > 10*time.Second {
		t.Errorf("the host heard of the stall after %v, want at most 10 s", took)
	}
	h.do(chromedp.Evaluate[chromedp.Void](`send({type: 'focus'})`))
	h.wait(`document.activeElement === document.getElementById('f')`)
	h.do(typeText("# offline\n"))
	h.wait(`window.msgs.some(m => m.type === 'unsent' && m.unsent === true)`)
	proxy.stall(false, false)
	h.wait(`window.msgs.some(m => m.type === 'connection' && m.online === true)`)
	h.wait(`window.msgs.findLast(m => m.type === 'unsent').unsent === false`)
	env.converged(id, func(s string) bool { return s == "# offline\nx = 1\n" })
	// In order: offline, unsent, online, saved.
	order := evalIn[string](h, `window.msgs.filter(m => m.type === 'connection' || m.type === 'unsent').map(m => m.type + ':' + (m.online ?? m.unsent)).join(' ')`)
	if order != "connection:false unsent:true connection:true unsent:false" {
		t.Errorf("messages to the host: %s", order)
	}
}

// TestBrowserShowsInvisibleCharacters: the Trojan Source string and other
// invisible characters are drawn as placeholders in the editor and in the
// history, and do not reorder the line; emoji joined by zero-width joiners
// stay whole. It leaves screenshots/editor-invisibles.png.
func TestBrowserShowsInvisibleCharacters(t *testing.T) {
	env := newBrowserEnv(t)
	text := "s := \"a\u200bb\u202ec\"\nif isAdmin\u2066 {\u2069 // \u202eno\u202c\nbell\u0007 nbsp\u00a0 family 👨\u200d👩\u200d👧 soft\u00adhyphen\n"
	id := env.create("trojan.go", text)
	p := env.open(env.base + "/d/" + id)
	p.waitSaved()
	const names = `[...document.querySelectorAll('.cm-content .cm-invisible')].map(e => e.textContent).join(' ')`
	p.wait(names + ` === 'ZWSP RLO LRI PDI RLO PDF BEL SHY'`)
	// The first line reads in its stored order: the override is drawn, not obeyed.
	if got := evalIn[string](p, `document.querySelector('.cm-content .cm-line').innerText`); got != "s := \"aZWSPbRLOc\"" {
		t.Errorf("the first line shows %q", got)
	}
	if title := evalIn[string](p, `document.querySelector('.cm-invisible[data-code="202e"]').title`); title != "right-to-left override (U+202E)" {
		t.Errorf("the override's title: %q", title)
	}
	if !strings.Contains(p.editorText(), "👨\u200d👩\u200d👧") || evalIn[bool](p, `document.querySelector('.cm-invisible[data-code="200d"]') !== null`) {
		t.Error("the emoji family is broken up")
	}
	saveScreenshot(t, p, "editor-invisibles.png")

	h := env.open(env.base + "/d/" + id + "/history")
	h.wait(`document.querySelectorAll('.cm-content .cm-invisible').length === 8`)
}

// TestBrowserIndentationFitsTheFile: Enter keeps a tab-indented file's
// tabs; a new Go file indents with tabs, a new Python file with four
// spaces; Tab indents at the cursor, Shift-Tab dedents, and Escape then
// Tab leaves the editor.
func TestBrowserIndentationFitsTheFile(t *testing.T) {
	env := newBrowserEnv(t)
	goID := env.create("main.go", "package main\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n")
	g := env.open(env.base + "/d/" + goID)
	g.waitSaved()
	g.wait(`window.collabEditor.indentUnit().unit === '\t'`)
	g.do(atLineEnd(4), enter(), typeText("x := 1"))
	want := "package main\n\nfunc main() {\n\tfmt.Println(\"hi\")\n\tx := 1\n}\n"
	env.converged(goID, func(s string) bool { return s == want }, g)

	// Tab at the cursor inserts a tab there, Shift-Tab takes the line's
	// indentation away.
	g.do(key(kb.Home), key(kb.Tab))
	g.wait(`window.collabEditor.text().includes('\n\t\tx := 1\n')`)
	g.do(key(kb.Tab, chromedp.ModifierShift), key(kb.Tab, chromedp.ModifierShift))
	g.wait(`window.collabEditor.text().includes('\nx := 1\n')`)
	// Escape, then Tab: the focus leaves the editor, and nothing is typed.
	before := g.editorText()
	g.do(key(kb.Escape), key(kb.Tab))
	g.wait(`!document.querySelector('.cm-editor').contains(document.activeElement)`)
	if got := g.editorText(); got != before {
		t.Errorf("Escape, Tab changed the text to %q", got)
	}

	// New, empty files: the language's convention.
	newGo := env.create("empty.go", "")
	e := env.open(env.base + "/d/" + newGo)
	e.waitSaved()
	e.wait(`window.collabEditor.indentUnit().unit === '\t' && window.collabEditor.indentUnit().from === 'language'`)
	py := env.create("tool.py", "")
	p := env.open(env.base + "/d/" + py)
	p.waitSaved()
	p.wait(`window.collabEditor.indentUnit().unit === '    '`)
	p.do(chromedp.Click(chromedp.CSS(`.cm-content`)), typeText("def f():"))
	// (Once Python is loaded: it says where the next line is indented.)
	p.wait(`[...document.querySelectorAll('.cm-content .cm-line span')].some(s => s.textContent === 'def' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('.cm-content')).color)`)
	p.do(enter(), typeText("return 1"))
	env.converged(py, func(s string) bool { return s == "def f():\n    return 1" }, p)
	// Tab at the cursor goes to the next stop: from column 4 to 8, then
	// from column 10 to 12.
	p.do(key(kb.Home), key(kb.Tab))
	env.converged(py, func(s string) bool { return s == "def f():\n        return 1" }, p)
	p.do(key(kb.ArrowRight), key(kb.ArrowRight), key(kb.Tab))
	env.converged(py, func(s string) bool { return s == "def f():\n        re  turn 1" }, p)

	// A two-space file, whatever its language, stays two spaces.
	js := env.create("a.js", "if (a) {\n  b();\n}\n")
	j := env.open(env.base + "/d/" + js)
	j.waitSaved()
	j.wait(`window.collabEditor.indentUnit().unit === '  '`)
	j.do(atLineEnd(2), enter(), typeText("c();"))
	env.converged(js, func(s string) bool { return s == "if (a) {\n  b();\n  c();\n}\n" }, j)
}

// TestBrowserCursorLabelsFade: a cursor's name shows when its owner moves,
// fades after a few seconds, shows again on hover; two names at one place
// never overlap. It leaves screenshots/editor-labels.png.
func TestBrowserCursorLabelsFade(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("l.txt", "first line\nsecond line here\nthird line\n")
	alice := env.open(env.base + "/d/" + id)
	bob := env.open(env.base + "/d/" + id)
	carol := env.open(env.base + "/d/" + id)
	for _, p := range []*browserPage{alice, bob, carol} {
		p.waitSaved()
	}
	bob.do(setName("Bob"))
	carol.do(setName("Carol with a long name"))
	bob.do(atLineEnd(2), key(kb.ArrowLeft))
	carol.do(atLineEnd(2), key(kb.ArrowLeft), key(kb.ArrowLeft))
	// Both carets are on line 2 in Alice's editor.
	alice.wait(`(() => {
		const v = window.collabEditor.view, cs = [...document.querySelectorAll('.cm-remote-cursor')];
		return cs.length === 2 && cs.every(c => v.state.doc.lineAt(v.posAtDOM(c)).number === 2);
	})()`)
	const shown = `(name) => [...document.querySelectorAll('.cm-remote-label')].some(l => l.textContent === name && getComputedStyle(l).visibility === 'visible' && +getComputedStyle(l).opacity > 0.5)`
	alice.wait(`(` + shown + `)('Bob') && (` + shown + `)('Carol with a long name')`)
	// The two names, one column apart, do not overlap.
	overlap := evalIn[bool](alice, `(() => {
		const [a, b] = [...document.querySelectorAll('.cm-remote-label')].map(l => l.getBoundingClientRect());
		return !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
	})()`)
	if overlap {
		t.Error("two cursor labels overlap")
	}
	saveScreenshot(t, alice, "editor-labels.png")
	// A few seconds later they are gone from sight …
	alice.wait(`![...document.querySelectorAll('.cm-remote-label')].some(l => getComputedStyle(l).visibility === 'visible')`)
	// … and hovering Bob's caret shows his name.
	x := evalIn[float64](alice, `(() => { const r = [...document.querySelectorAll('.cm-remote-cursor')].find(c => c.textContent === 'Bob').getBoundingClientRect(); return r.left; })()`)
	y := evalIn[float64](alice, `(() => { const r = [...document.querySelectorAll('.cm-remote-cursor')].find(c => c.textContent === 'Bob').getBoundingClientRect(); return r.top + r.height / 2; })()`)
	alice.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved, X: x, Y: y})
		return err
	}))
	alice.wait(`(` + shown + `)('Bob')`)
	// Bob types: his name shows again, without hovering.
	alice.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved, X: 5, Y: 500})
		return err
	}))
	alice.wait(`!(` + shown + `)('Bob')`)
	bob.do(typeText("!"))
	alice.wait(`(` + shown + `)('Bob')`)
}

// TestBrowserChat: a message goes round, shown as text with an unread
// count until it is read; the history of the chat is there after a reload,
// read messages not counted again.
func TestBrowserChat(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("chat.txt", "hello\n")
	alice := env.open(env.base + "/d/" + id)
	bob := env.open(env.base + "/d/" + id)
	alice.waitSaved()
	bob.waitSaved()
	alice.do(setName("Alice"))
	bob.do(setName("Bob"))

	evil := "<img src=x onerror=pwned=1> look at line 2\u202e!"
	bob.do(chromedp.Click(chromedp.CSS(`#chat-toggle`)))
	bob.wait(`!document.getElementById('chat').hidden && document.activeElement === document.getElementById('chat-input')`)
	bob.do(typeText(evil), enter())
	bob.wait(`document.querySelectorAll('#chat-messages li.mine').length === 1 && document.getElementById('chat-input').value === ''`)
	alice.wait(`document.getElementById('chat-unread').textContent === '1' && !document.getElementById('chat-unread').hidden`)
	alice.do(chromedp.Click(chromedp.CSS(`#chat-toggle`)))
	alice.wait(`document.getElementById('chat-unread').hidden`)
	alice.wait(fmt.Sprintf(`[...document.querySelectorAll('#chat-messages .chat-text')].some(e => e.textContent === %s)`, jsString(strings.Replace(evil, "\u202e", "RLO", 1))))
	if evalIn[bool](alice, `window.pwned !== undefined || document.querySelector('#chat img') !== null`) {
		t.Fatal("a chat message was read as HTML")
	}
	if got := evalIn[string](alice, `document.querySelector('#chat-messages .chat-msg .name').textContent`); got != "Bob" {
		t.Errorf("the message is from %q", got)
	}
	alice.do(typeText("on it"), enter())
	bob.wait(`[...document.querySelectorAll('#chat-messages .chat-text')].some(e => e.textContent === 'on it')`)

	// After a reload: the history, nothing unread.
	alice.do(chromedp.Navigate(env.base + "/d/" + id))
	alice.waitSaved()
	alice.wait(`document.querySelectorAll('#chat-messages li').length === 2`)
	if !evalIn[bool](alice, `document.getElementById('chat-unread').hidden`) {
		t.Error("read messages are counted as unread after a reload")
	}
	// A message that comes while Alice is away is unread when she is back.
	alice.do(chromedp.Navigate(env.base + "/"))
	bob.do(typeText("are you there?"), enter())
	bob.wait(`document.querySelectorAll('#chat-messages li').length === 3`)
	alice.do(chromedp.Navigate(env.base + "/d/" + id))
	alice.waitAcross(`document.getElementById('chat-unread')?.textContent === '1'`)
}

// TestBrowserShareAndWorkspace: a file opened from its workspace links back
// to it; the share panel's copy buttons put the edit link, the view link
// and an embed snippet on the clipboard; a viewer gets no edit link.
func TestBrowserShareAndWorkspace(t *testing.T) {
	env := newBrowserEnv(t)
	var ws struct{ ID string }
	env.call("POST", "/api/workspaces", "", nil, http.StatusCreated, &ws)
	var doc struct {
		ID    string
		Links struct{ Edit, View string }
	}
	env.call("POST", "/api/docs", "application/json", []byte(`{"name":"src/app.js","text":"let a;\n","workspace":"`+ws.ID+`"}`), http.StatusCreated, &doc)

	w := env.open(env.base + "/w/" + ws.ID)
	w.wait(`document.querySelector('[data-file="src/app.js"] a') !== null`)
	w.do(chromedp.Click(chromedp.CSS(`[data-file="src/app.js"] a`)))
	w.waitAcross(`location.pathname.startsWith('/d/') && document.getElementById('status')?.dataset.state === 'saved'`)
	w.wait(fmt.Sprintf(`document.getElementById('workspace-link')?.getAttribute('href') === %s`, jsString("/w/"+ws.ID)))

	// The clipboard, readable by the test.
	w.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		c := chromedp.FromContext(ctx)
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			_, err := cdp.Call(ctx, c.Browser, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true}, Setting: browser.PermissionSettingGranted,
				Origin: env.base, BrowserContextID: c.BrowserContextID,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	clip := func(button string) string {
		t.Helper()
		w.do(chromedp.Click(chromedp.CSS(button)))
		w.wait(fmt.Sprintf(`document.querySelector(%s).textContent === 'Copied'`, jsString(button)))
		v, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	w.do(chromedp.Click(chromedp.CSS(`#share-toggle`)))
	w.wait(`!document.getElementById('share').hidden`)
	if got := clip(`#copy-edit`); got != env.base+"/d/"+doc.ID {
		t.Errorf("the edit link copied: %q", got)
	}
	if got := clip(`#copy-view`); got != env.base+"/d/"+doc.Links.View {
		t.Errorf("the view link copied: %q", got)
	}
	if got, want := clip(`#copy-embed`), `<iframe src="`+env.base+"/embed/"+doc.Links.View+`" title="src/app.js" style="width: 100%; height: 420px; border: 0"></iframe>`; got != want {
		t.Errorf("the embed snippet copied:\n%s\nwant\n%s", got, want)
	}
	w.do(chromedp.SetValue(chromedp.CSS(`#embed-mode`), "edit"), chromedp.Evaluate[chromedp.Void](`document.getElementById('embed-mode').dispatchEvent(new Event('change'))`))
	if got := clip(`#copy-embed`); !strings.Contains(got, `src="`+env.base+"/embed/"+doc.ID+`"`) {
		t.Errorf("the editing embed snippet copied: %q", got)
	}
	w.do(key(kb.Escape))
	w.wait(`document.getElementById('share').hidden`)
	// The workspace link leads back.
	w.do(chromedp.Click(chromedp.CSS(`#workspace-link`)))
	w.waitAcross(`location.pathname.startsWith('/w/') && document.querySelector('[data-file="src/app.js"]') !== null`)

	// A viewer: the view link only; the edit link is nowhere in the page.
	v := env.open(env.base + "/d/" + doc.Links.View)
	v.waitSaved()
	v.do(chromedp.Click(chromedp.CSS(`#share-toggle`)))
	v.wait(`!document.getElementById('share').hidden && document.getElementById('share-view') !== null`)
	if evalIn[bool](v, `document.getElementById('share-edit') !== null || document.getElementById('embed-mode') !== null`) {
		t.Error("a viewer is offered the edit link")
	}
	if html := evalIn[string](v, `document.documentElement.outerHTML + JSON.stringify(localStorage)`); strings.Contains(html, doc.ID) {
		t.Error("the edit link is in the viewer's page")
	}
	if evalIn[bool](v, `document.getElementById('workspace-link') !== null`) {
		t.Error("a file opened by its link alone links to a workspace")
	}
}

// TestBrowserAuthorSecret: one browser has one author secret, kept in
// localStorage and sent by every tab; another browser has another. The
// secret is shown nowhere; others see the author id derived from it.
func TestBrowserAuthorSecret(t *testing.T) {
	env := newBrowserEnv(t)
	id := env.create("a.txt", "x\n")
	one := env.open(env.base + "/d/" + id)
	one.waitSaved()
	two, _ := env.newTab(one, env.base+"/d/"+id)
	two.waitSaved()
	other := env.open(env.base + "/d/" + id)
	other.waitSaved()
	secret := evalIn[string](one, `JSON.parse(localStorage.getItem('collab.author'))`)
	if len(secret) != 32 || strings.Trim(secret, "0123456789abcdef") != "" {
		t.Fatalf("the author secret %q is not 128 bits of hex", secret)
	}
	if s := evalIn[string](two, `JSON.parse(localStorage.getItem('collab.author'))`); s != secret {
		t.Errorf("two tabs of one browser have the secrets %q and %q", secret, s)
	}
	if s := evalIn[string](other, `JSON.parse(localStorage.getItem('collab.author'))`); s == secret {
		t.Error("another browser has the same author secret")
	}
	var pr struct{ Users []struct{ ID, Author string } }
	eventually(t, "three users in presence", func() (bool, string) {
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &pr)
		return len(pr.Users) == 3, fmt.Sprint(pr.Users)
	})
	authors := map[string]int{}
	for _, u := range pr.Users {
		authors[u.Author]++
		if u.Author == secret || strings.Contains(u.Author, secret) {
			t.Fatal("the secret is shown as an author")
		}
	}
	if len(authors) != 2 {
		t.Errorf("authors of three tabs in two browsers: %v", authors)
	}
	for _, p := range []*browserPage{one, two} {
		if html := evalIn[string](p, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
			t.Error("the author secret is in the page")
		}
	}
}

// TestBrowserHighlightingRetriesAFailedLanguage: the code of a language
// fails to load once (a network hiccup); the editor asks again and
// highlights the file.
func TestBrowserHighlightingRetriesAFailedLanguage(t *testing.T) {
	env := newBrowserEnv(t)
	txtID := env.create("notes.txt", "package main\n")
	goID := env.create("main.go", "package main\n\nfunc main() {}\n")
	// The chunks a plain-text editor loads are not a language's.
	txt := env.open(env.base + "/d/" + txtID)
	txt.waitSaved()
	var seen sync.Map
	for _, c := range strings.Split(evalIn[string](txt, `performance.getEntriesByType('resource').map(e => new URL(e.name).pathname).join(' ')`), " ") {
		seen.Store(c, true)
	}
	var failed sync.Map
	env.mu.Lock()
	env.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/assets/chunks/") {
			return false
		}
		if _, ok := seen.Load(r.URL.Path); ok {
			return false
		}
		if _, again := failed.LoadOrStore(r.URL.Path, true); again {
			return false
		}
		http.Error(w, "a network hiccup", http.StatusServiceUnavailable)
		return true
	}
	env.mu.Unlock()

	g := env.openOnFlakyNetwork(env.base + "/d/" + goID)
	g.waitSaved()
	g.wait(`[...document.querySelectorAll('.cm-content .cm-line span')].some(s => s.textContent === 'package' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('.cm-content')).color)`)
	n := 0
	failed.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		t.Fatal("no language chunk failed: the test tested nothing")
	}
	t.Logf("%d chunks failed once", n)
}

// TestBrowserEditsBroughtForwardBeyondTheResumeWindow: a page comes back
// after more revisions than the server resumes with, holding an edit the
// server applied (its ack lost) and one it never saw. The server answers
// with the whole text; the page reads the revisions it missed over REST,
// recognises its own edit among them by its public op id, and sends only
// the other: each applied once, nothing offered for download.
func TestBrowserEditsBroughtForwardBeyondTheResumeWindow(t *testing.T) {
	env := newBrowserEnvWith(t, Config{MaxResume: 2})
	id := env.create("far.txt", "start\n")
	proxy := newStallProxy(t, env.base)
	p := env.openOnFlakyNetwork(proxy.url() + "/d/" + id)
	p.waitSaved()
	proxy.stall(false, true)
	p.do(atLineEnd(1), typeText(" mine"))
	eventually(t, "the first edit on the server", func() (bool, string) {
		s, _ := env.text(id)
		return s == "start mine\n", s
	})
	proxy.setCut(true)
	proxy.stall(false, false)
	p.wait(`document.getElementById('status').dataset.state === 'offline'`)
	p.do(typeText(" too"))
	for i := range 5 {
		s, _ := env.text(id)
		env.put(id, s+fmt.Sprintf("line %d\n", i))
	}
	proxy.setCut(false)
	p.do(chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('online'))`))
	want := "start mine too\nline 0\nline 1\nline 2\nline 3\nline 4\n"
	env.converged(id, func(s string) bool { return s == want }, p)
	p.waitSaved()
	if _, rev := env.text(id); rev != 8 {
		t.Errorf("revision %d, want 8: creation, two edits of the page, five of the API", rev)
	}
	if n := len(env.apiRequests("/revisions?after=1&")); n == 0 {
		t.Error("the page did not read the revisions it missed")
	}
	if !evalIn[bool](p, `document.getElementById('notice').hidden`) {
		t.Errorf("a notice: %s", evalIn[string](p, `document.getElementById('notice').textContent`))
	}
}
