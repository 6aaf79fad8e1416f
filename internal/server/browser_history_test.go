package server

// Browser tests of the history page (issue #18): edit sessions with their
// authors' names long after they left, line diffs (unified, side by side,
// folded, highlighted), comparing two revisions, named versions, invisible
// characters, and a phone's screen. They use the helpers of
// browser_test.go; the server's clock is the test's (docs.Config.Now), so
// the pauses that separate edit sessions take no time.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/collab-editor/collab/internal/docs"
)

// historyEnv is a browser test's server on a clock the test moves.
func historyEnv(t *testing.T) (*browserEnv, *testClock) {
	clock := newTestClock()
	return newBrowserEnvDocs(t, Config{}, docs.Config{Now: clock.Now}), clock
}

// linesOf is a JavaScript expression: the texts of the lines of the
// diff's views that match selector, as one string a line each.
func linesOf(selector string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.textContent).join('\n')`, jsString(selector))
}

// leave makes a person leave the document: the tab goes elsewhere.
func (p *browserPage) leave() {
	p.t.Helper()
	p.do(chromedp.Navigate("about:blank"))
}

// TestBrowserHistoryAuthorsAndSessions: Alice and Bob each type a few
// lines, an hour apart, and leave. Carol opens the history: three edit
// sessions (the file's creation, Alice's, Bob's), with their names and
// colours; each session's diff shows its lines as lines; the text's blame
// names them too. It leaves screenshots/history-sessions.png.
func TestBrowserHistoryAuthorsAndSessions(t *testing.T) {
	env, clock := historyEnv(t)
	id := env.create("notes.txt", "Notes\n")
	for _, who := range []struct{ name, color, prefix string }{{"Alice", "#61afef", "alpha"}, {"Bob", "#e06c75", "bravo"}} {
		clock.Add(time.Hour)
		p := env.open(env.base + "/d/" + id)
		p.waitSaved()
		p.do(setName(who.name), setColor(who.color))
		p.do(chromedp.Click(chromedp.CSS(`.cm-content .cm-line:last-child`)))
		for i := 1; i <= 3; i++ {
			p.do(typeText(fmt.Sprintf("%s line %d", who.prefix, i)), enter())
		}
		p.waitSaved()
		p.leave()
	}
	eventually(t, "both gone", func() (bool, string) {
		var pr struct{ Users []struct{ Name string } }
		env.call("GET", "/api/docs/"+id+"/presence", "", nil, http.StatusOK, &pr)
		return len(pr.Users) == 0, fmt.Sprint(pr.Users)
	})
	if text, _ := env.text(id); text != "Notes\nalpha line 1\nalpha line 2\nalpha line 3\nbravo line 1\nbravo line 2\nbravo line 3\n" {
		t.Fatalf("the text: %q", text)
	}

	carol := env.open(env.base + "/d/" + id + "/history")
	carol.wait(`document.querySelectorAll('#sessions .session').length === 3`)
	names := evalIn[string](carol, `[...document.querySelectorAll('#sessions .session')].map(s =>
		[...s.querySelectorAll('.author')].map(a => a.textContent + ' ' + getComputedStyle(a.querySelector('.dot')).backgroundColor).join(',')).join(' | ')`)
	if names != "Bob rgb(224, 108, 117) | Alice rgb(97, 175, 239) | API rgba(0, 0, 0, 0)" {
		t.Errorf("the sessions' authors: %s", names)
	}
	// The newest session is shown: Bob's lines, each a line of the diff.
	carol.wait(`document.body.dataset.diff !== undefined && document.querySelectorAll('#diff .cm-line.hist-added').length >= 3`)
	if got := evalIn[string](carol, linesOf(`#diff .cm-line.hist-added`)); !strings.Contains(got, "bravo line 1\nbravo line 2\nbravo line 3") {
		t.Errorf("Bob's session added the lines:\n%s", got)
	}
	if got := evalIn[string](carol, `document.getElementById('rev-info').textContent`); !strings.Contains(got, "by Bob") {
		t.Errorf("the session's line: %q", got)
	}
	// Alice's session, picked from the list.
	carol.do(chromedp.Click(chromedp.CSS(`#sessions .session:nth-child(2) .session-btn`)))
	carol.wait(`document.querySelector('#sessions .session:nth-child(2)').classList.contains('current')`)
	carol.wait(`document.querySelector('#diff .cm-line.hist-added')?.textContent.startsWith('alpha')`)
	if got := evalIn[string](carol, linesOf(`#diff .cm-line.hist-added`)); !strings.Contains(got, "alpha line 1\nalpha line 2\nalpha line 3") || strings.Contains(got, "bravo") {
		t.Errorf("Alice's session added the lines:\n%s", got)
	}
	if s := evalIn[string](carol, `document.querySelector('#sessions .session:nth-child(2) .session-stats').textContent`); !strings.HasPrefix(s, "+3 −0 · r") {
		t.Errorf("Alice's session's counts: %q", s)
	}
	saveScreenshot(t, carol, "history-sessions.png")

	// The text at the end of Alice's session, with who wrote each line;
	// then the newest text.
	carol.do(chromedp.Click(chromedp.CSS(`#tab-text`)))
	carol.wait(`document.body.dataset.shown !== undefined && [...document.querySelectorAll('.blame')].some(b => b.title.includes('by Alice'))`)
	if got := evalIn[string](carol, `[...document.querySelectorAll('.blame')].map(b => b.title.replace(/^line (\d+): revision \d+ by (.*) \(.*$/, '$1 $2')).join('\n')`); !strings.HasPrefix(got, "1 API\n2 Alice") {
		t.Errorf("blame at the end of Alice's session:\n%s", got)
	}
	// A line's blame opens the session that wrote it.
	carol.do(chromedp.Click(chromedp.CSS(`.blame[data-rev="1"]`)))
	carol.wait(`document.body.dataset.diff === '0:1'`)
	carol.do(chromedp.Evaluate[chromedp.Void](`history.back()`))
	carol.wait(`document.body.dataset.shown === document.querySelector('#sessions .session:nth-child(2)').dataset.last`)
	carol.do(chromedp.Click(chromedp.CSS(`#newer`)))
	for range 8 {
		if evalIn[bool](carol, `document.getElementById('newer').disabled`) {
			break
		}
		carol.do(chromedp.Click(chromedp.CSS(`#newer`)))
	}
	carol.wait(`[...document.querySelectorAll('.blame')].some(b => b.title.startsWith('line 7: ') && b.title.includes('by Bob'))`)
}

// goFile is a Go file of 40 lines.
func goFile(body string) string {
	var b strings.Builder
	b.WriteString("package main\n\nimport \"fmt\"\n\n")
	for i := 1; i <= 15; i++ {
		fmt.Fprintf(&b, "func f%d() int { return %d }\n\n", i, i)
	}
	b.WriteString(body)
	return b.String()
}

// TestBrowserHistoryDiffs: a session's diff of a Go file, unified and side
// by side, highlighted, with long unchanged stretches folded until asked
// for; two revisions compared from the form and from a link; invisible
// characters shown as placeholders.
func TestBrowserHistoryDiffs(t *testing.T) {
	env, clock := historyEnv(t)
	v1 := goFile("func main() {\n\tfmt.Println(\"hi\")\n}\n")
	id := env.create("main.go", v1) // r1
	clock.Add(time.Hour)
	v2 := strings.Replace(v1, "\tfmt.Println(\"hi\")\n", "\tfmt.Println(\"hello\")\n\tfmt.Println(\"a\u200bb\u202ec\")\n\tfor i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}\n", 1)
	v2 = strings.Replace(v2, "func f2() int { return 2 }", "func f2() int { return 22 }", 1)
	env.put(id, v2) // r2: one session of one revision
	clock.Add(time.Hour)
	v3 := strings.Replace(v2, "func f14() int { return 14 }\n\n", "", 1)
	env.put(id, v3) // r3
	clock.Add(time.Minute)
	env.put(id, v3+"// end\n") // r4: the same session as r3

	h := env.open(env.base + "/d/" + id + "/history")
	h.wait(`document.querySelectorAll('#sessions .session').length === 3`)
	if got := evalIn[string](h, `[...document.querySelectorAll('#sessions .session')].map(s => s.dataset.first + '-' + s.dataset.last).join(' ')`); got != "3-4 2-2 1-1" {
		t.Fatalf("sessions %s, want 3-4 2-2 1-1", got)
	}
	h.wait(`document.body.dataset.diff === '2:4'`)
	h.do(chromedp.Click(chromedp.CSS(`#sessions .session[data-first="2"] .session-btn`)))
	h.wait(`document.body.dataset.diff === '1:2' && location.hash === '#from=1&to=2'`)
	h.wait(`document.querySelectorAll('#diff .cm-line.hist-added').length === 6`)
	if got := evalIn[string](h, linesOf(`#diff .cm-line.hist-added`)); !strings.Contains(got, "\tfmt.Println(\"hello\")\n\tfmt.Println(\"a") || !strings.Contains(got, "\tfor i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}") {
		t.Errorf("added lines:\n%s", got)
	}
	if got := evalIn[string](h, linesOf(`#diff .cm-line.hist-removed`)); got != "func f2() int { return 2 }\n\tfmt.Println(\"hi\")" {
		t.Errorf("removed lines:\n%s", got)
	}
	// What changed within a replaced line is marked.
	if got := evalIn[string](h, linesOf(`#diff .hist-added-part`)); got != "2\nello" {
		t.Errorf("changed parts: %q", got)
	}
	// The zero width space and the right-to-left override are placeholders.
	h.wait(`[...document.querySelectorAll('#diff .cm-invisible')].map(e => e.getAttribute('aria-label')).join() === 'zero width space,right-to-left override'`)
	// So are they in the text of r2.
	h.do(chromedp.Click(chromedp.CSS(`#tab-text`)))
	h.wait(`document.body.dataset.shown === '2' && [...document.querySelectorAll('#editor .cm-invisible')].map(e => e.getAttribute('aria-label')).join() === 'zero width space,right-to-left override'`)
	h.do(chromedp.Click(chromedp.CSS(`#tab-diff`)))
	h.wait(`document.body.dataset.diff === '1:2'`)
	// Highlighted as Go.
	h.wait(`[...document.querySelectorAll('#diff .cm-line span')].some(s => s.textContent === 'func' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('#diff .cm-content')).color)`)
	// The unchanged lines between f3 and main are folded, and unfold on a click.
	if evalIn[bool](h, `[...document.querySelectorAll('#diff .cm-line')].some(l => l.textContent.includes('f9()'))`) {
		t.Error("the unchanged f9 is not folded")
	}
	h.wait(`[...document.querySelectorAll('#diff .hist-fold button')].some(b => /Show \d+ unchanged lines/.test(b.textContent))`)
	h.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#diff .hist-fold button')].sort((a, b) => b.textContent.match(/\d+/)[0] - a.textContent.match(/\d+/)[0])[0].click()`))
	h.wait(`[...document.querySelectorAll('#diff .cm-line')].some(l => l.textContent.includes('f9()'))`)

	// Side by side: removed lines left, added right, the same lines facing.
	h.do(chromedp.Click(chromedp.CSS(`#layout-split`)))
	h.wait(`document.body.dataset.layout === 'split' && document.querySelectorAll('#diff .hist-side .cm-editor').length === 2`)
	if got := evalIn[string](h, linesOf(`#diff .hist-side-old .cm-line.hist-removed`)); got != "func f2() int { return 2 }\n\tfmt.Println(\"hi\")" {
		t.Errorf("left side's removed lines:\n%s", got)
	}
	if n := evalIn[int](h, `document.querySelectorAll('#diff .hist-side-old .cm-line.hist-filler').length`); n != 4 {
		t.Errorf("%d filler lines on the left, want 4 (5 lines replace one)", n)
	}
	h.wait(`(() => {
		const at = (side) => [...document.querySelectorAll('#diff .hist-side-' + side + ' .cm-line')].find(l => l.textContent === 'func main() {');
		const l = at('old'), r = at('new');
		return l && r && Math.abs(l.getBoundingClientRect().top - r.getBoundingClientRect().top) < 1;
	})()`)
	// Dark, both halves.
	h.do(chromedp.Click(chromedp.CSS(`#theme`)))
	h.wait(`[...document.querySelectorAll('#diff .cm-editor')].every(e => getComputedStyle(e).backgroundColor === 'rgb(40, 44, 52)')`)
	saveScreenshot(t, h, "history-side-by-side.png")
	h.do(chromedp.Click(chromedp.CSS(`#theme`)))
	h.do(chromedp.Click(chromedp.CSS(`#layout-unified`)))
	h.wait(`document.body.dataset.layout === 'unified'`)

	// Compare r1 with r4 from the form.
	h.do(setValue("cmp-from", "1"), setValue("cmp-to", "4"), chromedp.Click(chromedp.CSS(`#compare button`)))
	h.wait(`document.body.dataset.diff === '1:4' && location.hash === '#from=1&to=4'`)
	h.wait(`document.getElementById('rev-info').textContent.startsWith('Changes from r1 to r4')`)
	h.wait(`document.querySelector('#diff .cm-line.hist-added:last-child')?.textContent === '// end' ||
		[...document.querySelectorAll('#diff .cm-line.hist-added')].some(l => l.textContent === '// end')`)
	if got := evalIn[string](h, linesOf(`#diff .cm-line.hist-removed`)); !strings.Contains(got, "func f14() int { return 14 }") {
		t.Errorf("r1 to r4 removed:\n%s", got)
	}
	// A link to a comparison opens it; back goes to the session.
	h.do(chromedp.Evaluate[chromedp.Void](`history.back()`))
	h.wait(`document.body.dataset.diff === '1:2'`)
	h.do(chromedp.Navigate(env.base + "/d/" + id + "/history#from=2&to=3"))
	h.wait(`document.body.dataset.diff === '2:3' && document.querySelectorAll('#diff .cm-line.hist-removed').length === 2`)
	if got := evalIn[string](h, `document.getElementById('cmp-from').value + ' ' + document.getElementById('cmp-to').value`); got != "2 3" {
		t.Errorf("the form shows %s", got)
	}
}

// setValue sets an input's value as typing would.
func setValue(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const i = document.getElementById(%s);
		i.value = %s;
		i.dispatchEvent(new Event('input', {bubbles: true}));
	})()`, jsString(id), jsString(value)))
}

// TestBrowserHistoryLabels: with the edit link a person names a revision;
// the name is listed, marked on the timeslider and on its session, and
// its link opens the page at that revision; it can be removed. With the
// view link names are shown but neither offered nor removable, and nor is
// restoring.
func TestBrowserHistoryLabels(t *testing.T) {
	env, clock := historyEnv(t)
	body := `{"name":"plan.md","text":"# Plan\n"}`
	var d struct {
		ID    string
		Links struct{ View string }
	}
	env.call("POST", "/api/docs", "application/json", []byte(body), http.StatusCreated, &d)
	id := d.ID
	for i := 1; i <= 9; i++ {
		if i%3 == 1 {
			clock.Add(time.Hour)
		}
		env.put(id, fmt.Sprintf("# Plan\n\nstep %d\n", i)) // r2..r10 in three sessions
	}

	h := env.open(env.base + "/d/" + id + "/history#rev=6")
	h.wait(`document.body.dataset.shown === '6' && !document.getElementById('label-add').hidden`)
	h.wait(`document.querySelector('#sessions .session.contains')?.dataset.first === '5'`)
	h.do(chromedp.Click(chromedp.CSS(`#label-add`)))
	h.wait(`!document.getElementById('label-form').hidden`)
	h.do(setValue("label-name", "v1.2 sent to review"), chromedp.Click(chromedp.CSS(`#label-form button:not([type])`)))
	h.wait(`[...document.querySelectorAll('#labels .label')].some(l => l.dataset.rev === '6' && l.querySelector('.label-name').textContent === 'v1.2 sent to review')`)
	h.wait(`document.querySelector('#marks .mark[data-rev="6"]')?.title === 'v1.2 sent to review (r6)'`)
	h.wait(`document.querySelector('#sessions .session[data-first="5"] .label-chip')?.textContent === 'v1.2 sent to review'`)
	// The mark sits at 6/10 of the slider's travel.
	if f := evalIn[float64](h, `(() => {
		const t = document.getElementById('track').getBoundingClientRect(), m = document.querySelector('#marks .mark').getBoundingClientRect();
		return (m.left + m.width / 2 - t.left - 8) / (t.width - 16);
	})()`); f < 0.57 || f > 0.63 {
		t.Errorf("the mark is at %.2f of the track, want 0.6", f)
	}
	var labels struct {
		Labels []struct {
			ID   string
			Rev  uint64
			Name string
		}
	}
	env.call("GET", "/api/docs/"+id+"/labels", "", nil, http.StatusOK, &labels)
	if len(labels.Labels) != 1 || labels.Labels[0].Rev != 6 || labels.Labels[0].Name != "v1.2 sent to review" {
		t.Fatalf("labels: %+v", labels)
	}
	label := labels.Labels[0].ID
	saveScreenshot(t, h, "history-labels.png")

	// The label's link opens the page at its revision.
	link := evalIn[string](h, `document.querySelector('#labels .label-name').href`)
	if !strings.HasSuffix(link, "/d/"+id+"/history#label="+label) {
		t.Errorf("the label's link is %s", link)
	}
	other := env.open(link)
	other.wait(`document.body.dataset.shown === '6' && document.querySelector('#labels .label.current')?.dataset.label === ` + jsString(label))
	other.wait(`window.collabHistory.state.doc.toString() === '# Plan\n\nstep 5\n'`)
	// Moving away and clicking the mark on the slider comes back.
	other.do(chromedp.Click(chromedp.CSS(`#older`)))
	other.wait(`document.body.dataset.shown === '5'`)
	other.do(chromedp.Click(chromedp.CSS(`#marks .mark`)))
	other.wait(`document.body.dataset.shown === '6' && location.hash === '#label=' + ` + jsString(label))

	// The view link: labels shown, nothing offered that it may not do.
	env.call("POST", "/api/docs/"+id+"/labels", "application/json", []byte(`{"rev":9,"name":"second\u202e"}`), http.StatusCreated, nil)
	v := env.open(env.base + "/d/" + d.Links.View + "/history#rev=3")
	v.wait(`document.querySelectorAll('#labels .label').length === 2 && document.body.dataset.shown === '3'`)
	// A name's right-to-left override is a placeholder, not a reordering.
	v.wait(`document.querySelector('#labels .label[data-rev="9"] .label-name .cm-invisible')?.getAttribute('aria-label') === 'right-to-left override'`)
	if got := evalIn[string](v, `[...document.querySelectorAll('#label-add, #restore, .label-remove')].filter(e => e.offsetParent !== null).map(e => e.id || e.className).join()`); got != "" {
		t.Errorf("the view link is offered %s", got)
	}
	env.call("POST", "/api/docs/"+d.Links.View+"/labels", "application/json", []byte(`{"rev":3,"name":"no"}`), http.StatusForbidden, nil)

	// Removed with the edit link: two clicks.
	h.do(chromedp.Navigate(env.base + "/d/" + id + "/history#label=" + label))
	h.wait(`document.querySelectorAll('#labels .label').length === 2`)
	remove := fmt.Sprintf(`#labels .label[data-label=%s] .label-remove`, jsString(label))
	h.do(chromedp.Click(chromedp.CSS(remove)))
	h.wait(`document.querySelector(` + jsString(remove) + `).textContent === 'remove it?'`)
	h.do(chromedp.Click(chromedp.CSS(remove)))
	h.wait(`document.querySelectorAll('#labels .label').length === 1 && !document.querySelector('#marks .mark[data-rev="6"]')`)
	env.call("GET", "/api/docs/"+id+"/labels", "", nil, http.StatusOK, &labels)
	if len(labels.Labels) != 1 || labels.Labels[0].Name != "second\u202e" {
		t.Errorf("labels after the removal: %+v", labels)
	}
}

// onPhone makes the tab a 390 × 844 phone screen.
func onPhone() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true})
		return err
	})
}

// lineShown is a JavaScript expression: whether a line of the diff or
// text containing s is on screen, wide enough to read, and not covered.
func lineShown(s string) string {
	return fmt.Sprintf(`(() => {
		const l = [...document.querySelectorAll('.cm-line')].find(e => e.textContent.includes(%s));
		if (!l) return false;
		const r = l.getBoundingClientRect();
		if (r.width < 150 || r.height < 8 || r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.left > innerWidth - 150) return false;
		const hit = document.elementFromPoint(r.left + 10, r.top + r.height / 2);
		return hit !== null && l.contains(hit);
	})()`, jsString(s))
}

// TestBrowserHistoryOnAPhone: on a 390 px wide screen the history page
// shows the text of a diff and of a revision, with nothing wider than the
// screen; the sessions are behind a button and stack above. It leaves
// screenshots/history-phone.png.
func TestBrowserHistoryOnAPhone(t *testing.T) {
	env, clock := historyEnv(t)
	id := env.create("app.js", "export function hello() {\n  return 'hi';\n}\n")
	clock.Add(time.Hour)
	env.put(id, "export function hello(name) {\n  return `hi ${name}`;\n}\n\nexport const answer = 42;\n")

	p := env.open("about:blank")
	p.do(onPhone(), chromedp.Navigate(env.base+"/d/"+id+"/history"))
	p.wait(`document.body.dataset.diff === '1:2'`)
	p.wait(lineShown("export const answer = 42;"))
	// Highlighted as JavaScript.
	p.wait(`[...document.querySelectorAll('#diff .cm-line span')].some(s => s.textContent === 'export' &&
		getComputedStyle(s).color !== getComputedStyle(document.querySelector('#diff .cm-content')).color)`)
	if w := evalIn[int](p, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %d px wide on a 390 px screen", w)
	}
	if shown := evalIn[bool](p, `document.getElementById('hist-side').offsetParent !== null`); shown {
		t.Error("the sessions cover the diff on a phone")
	}
	saveScreenshot(t, p, "history-phone.png")

	// The sessions open above the diff, full width, and close on a pick.
	p.do(chromedp.Click(chromedp.CSS(`#side-toggle`)))
	p.wait(`document.getElementById('hist-side').offsetParent !== null`)
	if w := evalIn[float64](p, `document.getElementById('hist-side').getBoundingClientRect().width`); w < 380 {
		t.Errorf("the sessions are %.0f px wide on a 390 px screen", w)
	}
	saveScreenshot(t, p, "history-phone-sessions.png")
	p.do(chromedp.Click(chromedp.CSS(`#sessions .session:last-child .session-btn`)))
	p.wait(`document.body.dataset.diff === '0:1' && document.getElementById('hist-side').offsetParent === null`)
	p.wait(lineShown("return 'hi';"))

	// The text of a revision.
	p.do(chromedp.Click(chromedp.CSS(`#tab-text`)))
	p.wait(`document.body.dataset.shown === '1'`)
	p.wait(lineShown("export function hello() {"))
}
