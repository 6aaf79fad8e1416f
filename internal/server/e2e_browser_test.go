package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser starts headless Chromium (Debian's /usr/bin/chromium). Without
// it the browser tests skip locally and fail in CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run installs it")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 600),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// tab opens a page in its own browser context (its own storage), so two
// tabs are two different people.
func tab(t *testing.T, bctx context.Context, url string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

type step = chromedp.Action[chromedp.Void]

func run(t *testing.T, ctx context.Context, steps ...step) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// insertText types text as an input method would (emoji included).
func insertText(s string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: s})
		return err
	})
}

// js evaluates JavaScript for its effect.
func js(expr string) step { return chromedp.Evaluate[chromedp.Void](expr) }

// waitJS polls a JavaScript expression until it is true.
func waitJS(expr string) step {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))(ctx, t)
		return chromedp.Void{}, err
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func editorText(t *testing.T, ctx context.Context) string {
	return evalString(t, ctx, `window.collabEditor.text()`)
}

func setName(name string) step {
	v, _ := json.Marshal(name)
	return js(fmt.Sprintf(`(() => { const i = document.getElementById('my-name'); i.value = %s; i.dispatchEvent(new Event('change')); })()`, v))
}

func TestBrowserTwoEditorsConverge(t *testing.T) {
	bctx := browser(t)
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"src/main.go","text":"package main\n\nfunc main() {\n}\n"}`)
	alice := tab(t, bctx, base+"/d/"+doc.ID)
	bob := tab(t, bctx, base+"/d/"+doc.ID)
	for _, c := range []context.Context{alice, bob} {
		run(t, c, chromedp.WaitVisible(chromedp.CSS(`.cm-content`)), waitJS(`document.getElementById('status').dataset.state === 'saved'`))
	}
	run(t, alice, setName("Alice"))
	run(t, bob, setName("Bob"))
	// Both type at once, at crossing places.
	done := make(chan error, 2)
	go func() {
		done <- chromedp.Do(alice, chromedp.Click(chromedp.CSS(`.cm-line:nth-child(1)`)), chromedp.KeyEvent(kb.End), chromedp.SendKeys(chromedp.CSS(`.cm-content`), " // alice was here"))
	}()
	go func() {
		done <- chromedp.Do(bob, chromedp.Click(chromedp.CSS(`.cm-line:nth-child(3)`)), chromedp.KeyEvent(kb.End), chromedp.SendKeys(chromedp.CSS(`.cm-content`), " // bob too"))
	}()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Emoji and CJK arrive intact.
	run(t, alice, insertText(" 😀日本"))
	var want string
	deadline := time.Now().Add(30 * time.Second)
	for {
		want, _ = restText(t, base, doc.ID)
		a, b := editorText(t, alice), editorText(t, bob)
		if a == want && b == want && strings.Contains(want, "😀日本") && strings.Contains(want, "alice was here") && strings.Contains(want, "bob too") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not converge:\nserver %q\nalice  %q\nbob    %q", want, a, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each sees the other's cursor label.
	run(t, alice, waitJS(`[...document.querySelectorAll('.cm-remote-label')].some(e => e.textContent === 'Bob')`))
	run(t, bob, waitJS(`[...document.querySelectorAll('.cm-remote-label')].some(e => e.textContent === 'Alice')`))
	shot, err := chromedp.Run(alice, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "screenshots")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "editor-two-cursors.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserKeepsCRLFAndUndoesOnlyOwnEdits(t *testing.T) {
	bctx := browser(t)
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"win.txt","text":"one\r\ntwo\r\n"}`)
	c := tab(t, bctx, base+"/d/"+doc.ID)
	run(t, c, chromedp.WaitVisible(chromedp.CSS(`.cm-content`)), waitJS(`document.getElementById('status').dataset.state === 'saved'`))
	run(t, c, chromedp.Click(chromedp.CSS(`.cm-line:nth-child(2)`)), chromedp.KeyEvent(kb.End), chromedp.SendKeys(chromedp.CSS(`.cm-content`), "!"), chromedp.KeyEvent(kb.Enter), chromedp.SendKeys(chromedp.CSS(`.cm-content`), "three"))
	run(t, c, waitJS(`document.getElementById('status').dataset.state === 'saved'`))
	if got, _ := restText(t, base, doc.ID); got != "one\r\ntwo!\r\nthree\r\n" {
		t.Fatalf("CRLF not kept: %q", got)
	}
	// Someone else edits; undo in the browser undoes only the browser's edits.
	putText(t, base, doc.ID, "ZERO\r\none\r\ntwo!\r\nthree\r\n")
	run(t, c, waitJS(`window.collabEditor.text().startsWith('ZERO')`))
	for range 3 {
		run(t, c, chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	}
	run(t, c, waitJS(`document.getElementById('status').dataset.state === 'saved'`))
	got, _ := restText(t, base, doc.ID)
	if !strings.HasPrefix(got, "ZERO\r\n") || strings.Contains(got, "three") {
		t.Fatalf("undo went wrong: %q", got)
	}
}

func putText(t *testing.T, base, id, text string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/api/docs/"+id, strings.NewReader(text))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestBrowserNamesAreText(t *testing.T) {
	bctx := browser(t)
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"a.txt","text":"hello"}`)
	evil := `<img src=x onerror="pwned=1"><script>pwned=2</script>`
	a := tab(t, bctx, base+"/d/"+doc.ID)
	run(t, a, chromedp.WaitVisible(chromedp.CSS(`.cm-content`)), setName(evil), chromedp.Click(chromedp.CSS(`.cm-line`)))
	b := tab(t, bctx, base+"/d/"+doc.ID)
	run(t, b, chromedp.WaitVisible(chromedp.CSS(`.cm-content`)))
	v, _ := json.Marshal(evil)
	run(t, b, waitJS(fmt.Sprintf(`[...document.querySelectorAll('#users li span')].some(e => e.textContent === %s)`, v)))
	pwned, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.pwned !== undefined || document.querySelector('#users img, .cm-remote-label img') !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if pwned {
		t.Fatal("a user name was interpreted as HTML")
	}
}

func TestBrowserEmbedInForeignPage(t *testing.T) {
	bctx := browser(t)
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"e.js","text":"let x = 1;\n"}`)
	// The host is another origin (another port).
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><body><iframe id="f" src="%s/embed/%s?%s" style="width:800px;height:300px"></iframe>
<script>window.msgs = []; addEventListener('message', e => { if (e.data && e.data.source === 'collab') window.msgs.push(e.data) });
function send(m) { document.getElementById('f').contentWindow.postMessage(m, '*') }</script></body>`, base, doc.ID, r.URL.RawQuery)
	}))
	t.Cleanup(host.Close)
	h := tab(t, bctx, host.URL+"/?name=Host&theme=dark")
	run(t, h, waitJS(`window.msgs.some(m => m.type === 'ready')`))
	run(t, h, js(`send({type: 'focus'})`), insertText("/* hi */ "))
	run(t, h, waitJS(`window.msgs.some(m => m.type === 'change' && m.rev >= 2)`))
	if got, _ := restText(t, base, doc.ID); !strings.Contains(got, "/* hi */") {
		t.Fatalf("edit through the embed did not arrive: %q", got)
	}
	run(t, h, js(`send({type: 'getText'})`), waitJS(`window.msgs.some(m => m.type === 'text' && m.text.includes('/* hi */'))`))

	// A read-only embed refuses typing.
	ro := tab(t, bctx, host.URL+"/?readonly=1")
	run(t, ro, waitJS(`window.msgs.some(m => m.type === 'ready' && m.readOnly)`))
	before, _ := restText(t, base, doc.ID)
	run(t, ro, js(`send({type: 'focus'})`), insertText("nope"), chromedp.Sleep(300*time.Millisecond))
	if after, _ := restText(t, base, doc.ID); after != before {
		t.Fatalf("a read-only embed changed the text: %q", after)
	}
}

func TestBrowserHistoryRestore(t *testing.T) {
	bctx := browser(t)
	_, base := testServer(t, Config{})
	doc := createFull(t, base, `{"name":"h.txt","text":"first version\n"}`)
	putText(t, base, doc.ID, "second version\n")
	putText(t, base, doc.ID, "third version, much later\n")
	h := tab(t, bctx, base+"/d/"+doc.ID+"/history")
	run(t, h, chromedp.WaitVisible(chromedp.CSS(`#slider`)), waitJS(`document.getElementById('rev-info').textContent.includes('revision 3')`))
	run(t, h, js(`(() => { const s = document.getElementById('slider'); s.value = '1'; s.dispatchEvent(new Event('input')); })()`))
	run(t, h, waitJS(`document.getElementById('rev-info').textContent.includes('revision 1 of 3')`),
		waitJS(`window.collabHistory.state.doc.toString() === 'first version\n'`),
		waitJS(`document.querySelectorAll('.hist-del, .hist-ins').length > 0`),
		waitJS(`document.querySelector('.blame') !== null`))
	run(t, h, chromedp.Click(chromedp.CSS(`#restore`)), waitJS(`document.getElementById('rev-info').textContent.includes('revision 4 of 4')`))
	if got, _ := restText(t, base, doc.ID); got != "first version\n" {
		t.Fatalf("restore: %q", got)
	}
}
