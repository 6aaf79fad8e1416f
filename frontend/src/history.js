// The history page, /d/{id}/history. On the side, the document's edit
// sessions (newest first, a page at a time) with their authors, time span,
// lines added and removed and labels, and the named versions (labels). In
// the middle, one of:
//
//   Changes  a line diff, unified or side by side (history-diffview.js):
//            what a session changed, or any two revisions compared
//   Text     the text at one revision, with blame in the gutter
//
// Above them a timeslider over every revision, with the named versions
// marked on it. What is shown is in the URL's fragment, so a link opens
// the page there: #rev=N, #label=ID (a named version), #from=F&to=T.
//
// It never reads the whole log: sessions come 50 at a time, the text, the
// diff and the blame are one request each, and the author and time of the
// revision under the slider come in pages of 50 around it (cached), so a
// document with 100,000 revisions costs what one with ten does.
import { EditorState, StateField, StateEffect, RangeSet, Compartment } from '@codemirror/state';
import { EditorView, gutter, GutterMarker, lineNumbers } from '@codemirror/view';
import { syntaxHighlighting, defaultHighlightStyle, LanguageDescription } from '@codemirror/language';
import { oneDark } from '@codemirror/theme-one-dark';
import { languages } from '@codemirror/language-data';
import { api, docPath, el, store, theme, applyTheme, ago, copyText } from './ui.js';
import { lineEndings } from './lineendings.js';
import { showInvisibles, visibleNodes } from './invisibles.js';
import { parseUnified, counts } from './history-udiff.js';
import { renderDiff } from './history-diffview.js';

const REV_PAGE = 50; // revisions per request, for the slider's author and time
const SESSION_PAGE = 50;
const WHOLE = 10000000; // lines of context: the whole text, folded here
const NARROW = '(max-width: 700px)'; // a phone: one column, unified diffs
const POLL = 10000; // ms between looks for newer revisions

class BlameMarker extends GutterMarker {
  constructor(rev, label, title, color) {
    super();
    this.rev = rev;
    this.label = label;
    this.title = title;
    this.color = color;
  }
  eq(o) {
    return o.rev === this.rev && o.label === this.label && o.title === this.title && o.color === this.color;
  }
  toDOM() {
    const e = el('span', { class: 'blame', 'data-rev': this.rev, title: this.title }, el('span', { class: 'blame-text', text: this.label }));
    if (this.color) e.style.borderLeftColor = this.color;
    return e;
  }
}

const setBlame = StateEffect.define();
const blameField = StateField.define({
  create: () => RangeSet.empty,
  update(b, tr) {
    for (const e of tr.effects) if (e.is(setBlame)) return e.value;
    return tr.docChanged ? RangeSet.empty : b;
  },
});

const validColor = (c) => (typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) ? c : null);
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** "Mar 1, 2026, 09:00–09:12" for a session from start to end (ISO times). */
function timeSpan(start, end) {
  const a = new Date(start);
  const b = new Date(end);
  if (dayFmt.format(a) !== dayFmt.format(b)) return `${dayFmt.format(a)} ${timeFmt.format(a)} – ${dayFmt.format(b)} ${timeFmt.format(b)}`;
  const ta = timeFmt.format(a);
  const tb = timeFmt.format(b);
  return `${dayFmt.format(a)}, ${ta === tb ? ta : ta + '–' + tb}`;
}

const revsText = (s) => (s.revisions === 1 ? `r${s.last}` : `r${s.first}–r${s.last} · ${s.revisions} revisions`);

export async function main({ doc: docId }) {
  let t = theme();
  applyTheme(t);
  const base = docPath(docId);
  const $ = (id) => document.getElementById(id);
  const slider = $('slider');
  const info = $('rev-info');
  const restore = $('restore');
  const err = $('error');
  const narrow = matchMedia(NARROW);
  $('back').href = '/d/' + encodeURIComponent(docId);

  // Every view (the text and the diff's) shares the theme, the language,
  // line wrapping (on a phone) and the placeholders of invisible characters.
  const themeC = new Compartment();
  const langC = new Compartment();
  const wrapC = new Compartment();
  let lang = [];
  const themeExt = () => (t === 'dark' ? oneDark : []);
  const wrapExt = () => (narrow.matches ? EditorView.lineWrapping : []);
  const common = () => [
    lineEndings(),
    showInvisibles(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    themeC.of(themeExt()),
    langC.of(lang),
    wrapC.of(wrapExt()),
  ];
  const allViews = () => [textView, ...(diff ? diff.views : [])];
  const reconfigure = (effects) => {
    for (const v of allViews()) v.dispatch({ effects: effects() });
  };

  const textView = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      extensions: [
        common(),
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        gutter({
          class: 'cm-blame-gutter',
          markers: (v) => v.state.field(blameField),
          domEventHandlers: {
            // A line's blame opens the session that wrote it.
            click(_view, _line, ev) {
              const rev = ev.target instanceof Element && ev.target.closest('.blame')?.dataset.rev;
              if (rev) showSessionOf(Number(rev), true);
              return Boolean(rev);
            },
          },
        }),
        lineNumbers(),
        blameField,
      ],
    }),
  });
  window.collabHistory = textView; // for the console and the browser tests
  let diff = null; // the diff drawn: {views, destroy}

  // Authors: names and colours from every answer, by author id.
  const authors = new Map();
  const addAuthors = (m) => {
    for (const [id, p] of Object.entries(m || {})) authors.set(id, p);
  };
  const authorName = (id) => {
    if (!id) return 'unknown';
    const p = authors.get(id);
    if (p && p.name) return p.name;
    return id === 'api' ? 'API' : id;
  };
  const authorChip = (id) => {
    const dot = el('span', { class: 'dot' });
    const c = validColor(authors.get(id)?.color);
    if (c) dot.style.backgroundColor = c;
    else dot.classList.add('dot-none');
    return el('span', { class: 'author', title: id, 'data-author': id }, dot, el('span', { class: 'author-name' }, ...visibleNodes(authorName(id))));
  };

  let head = 0;
  let canEdit = false;
  let docName = '';
  // What is shown: {mode: 'text', rev, label?} or {mode: 'diff', from, to}.
  let cur = null;
  let layout = store.get('historyLayout', 'unified') === 'split' ? 'split' : 'unified';
  const effectiveLayout = () => (narrow.matches ? 'unified' : layout);

  // ---- revisions under the slider: pages of REV_PAGE, cached ----
  const revPages = new Map(); // page number -> Promise of revisions
  const pageOf = (rev) => Math.floor((rev - 1) / REV_PAGE);
  function revPage(k) {
    if (!revPages.has(k)) {
      const p = api('GET', `${base}/revisions?after=${k * REV_PAGE}&limit=${REV_PAGE}`).then((r) => {
        addAuthors(r.authors);
        return r.revisions;
      });
      p.catch(() => revPages.delete(k));
      revPages.set(k, p);
    }
    return revPages.get(k);
  }
  async function revisionInfo(rev) {
    if (rev === 0) return null;
    const revs = await revPage(pageOf(rev));
    return revs.find((r) => r.rev === rev) || null;
  }

  // ---- edit sessions, newest first ----
  let sessions = [];
  let sessionsNext; // undefined: none loaded yet; null: no older ones
  let sessionsLoading = null;
  function loadSessions() {
    if (sessionsLoading || sessionsNext === null) return sessionsLoading;
    const before = sessionsNext ? `&before=${sessionsNext}` : '';
    sessionsLoading = api('GET', `${base}/sessions?limit=${SESSION_PAGE}${before}`)
      .then((p) => {
        addAuthors(p.authors);
        sessions.push(...p.sessions);
        sessionsNext = p.next ?? null;
        renderSessions();
      })
      .finally(() => (sessionsLoading = null));
    return sessionsLoading;
  }
  // The newest page again, after others edited: it replaces the sessions
  // it covers (the newest may have grown).
  async function refreshSessions() {
    const p = await api('GET', `${base}/sessions?limit=${SESSION_PAGE}`);
    addAuthors(p.authors);
    const oldest = p.sessions.length ? p.sessions[p.sessions.length - 1].first : Infinity;
    const kept = sessions.filter((s) => s.first < oldest);
    if (sessions.length === 0 || (sessions.length && sessions[sessions.length - 1].first >= oldest)) sessionsNext = p.next ?? null;
    sessions = [...p.sessions, ...kept];
    renderSessions();
  }
  /** The session revision rev belongs to (rev ≥ 1), loaded or asked for. */
  async function sessionOf(rev) {
    const hit = sessions.find((s) => s.first <= rev && rev <= s.last);
    if (hit) return hit;
    const p = await api('GET', `${base}/sessions?limit=1&before=${rev + 1}`);
    addAuthors(p.authors);
    const s = p.sessions[0];
    return s && s.first <= rev && rev <= s.last ? s : null;
  }
  async function showSessionOf(rev, push) {
    try {
      const s = rev >= 1 ? await sessionOf(rev) : null;
      if (s) go({ mode: 'diff', from: s.first - 1, to: s.last }, push);
    } catch (e) {
      err.textContent = e.message;
    }
  }

  function sessionItem(s) {
    const shown = s.authors.slice(0, 4);
    const labelChips = labelsIn(s).map((l) => el('span', { class: 'label-chip', title: `named version at r${l.rev}` }, ...visibleNodes(l.name)));
    return el('li', { class: 'session', 'data-first': s.first, 'data-last': s.last },
      el('button', { type: 'button', class: 'session-btn', title: `Show what r${s.first}–r${s.last} changed`, onclick: () => go({ mode: 'diff', from: s.first - 1, to: s.last }, true) },
        el('span', { class: 'session-who' }, ...shown.map(authorChip), s.authors.length > shown.length ? el('span', { class: 'muted', text: `+${s.authors.length - shown.length}` }) : null),
        el('span', { class: 'session-when' },
          el('time', { datetime: s.end, title: `${new Date(s.start).toLocaleString()} – ${new Date(s.end).toLocaleString()}`, text: timeSpan(s.start, s.end) }),
          ' · ', ago(s.end)),
        el('span', { class: 'session-stats' },
          el('span', { class: 'plus', title: 'lines added', text: `+${s.added}` }), ' ',
          el('span', { class: 'minus', title: 'lines removed', text: `−${s.removed}` }), ' · ', revsText(s)),
        labelChips.length ? el('span', { class: 'session-labels' }, ...labelChips) : null));
  }
  function renderSessions() {
    $('sessions').replaceChildren(...sessions.map(sessionItem));
    $('more-sessions').hidden = !sessionsNext;
    $('no-sessions').hidden = sessions.length > 0 || sessionsNext !== null;
    markCurrent();
  }

  // ---- labels (named versions) ----
  let labels = []; // every label, in revision order
  let labelsLoaded = false;
  const labelsIn = (s) => (labelsLoaded ? labels.filter((l) => s.first <= l.rev && l.rev <= s.last) : s.labels);
  async function loadLabels() {
    const p = await api('GET', `${base}/labels`);
    addAuthors(p.authors);
    const ids = (ls) => ls.map((l) => l.id + ' ' + l.name).join('\n');
    if (labelsLoaded && ids(p.labels) === ids(labels)) return;
    labels = p.labels;
    labelsLoaded = true;
    renderLabels();
    renderSessions();
  }
  const labelLink = (l) => `${location.origin}${location.pathname}#label=${encodeURIComponent(l.id)}`;
  function labelItem(l) {
    const remove = el('button', { type: 'button', class: 'link label-remove', title: 'Remove this name (the revision stays)', text: 'remove' });
    let armed = null;
    remove.addEventListener('click', async () => {
      if (!armed) {
        // A second click within a few seconds removes it.
        remove.textContent = 'remove it?';
        remove.classList.add('danger');
        armed = setTimeout(() => {
          armed = null;
          remove.textContent = 'remove';
          remove.classList.remove('danger');
        }, 4000);
        return;
      }
      clearTimeout(armed);
      remove.disabled = true;
      try {
        await api('DELETE', `${base}/labels/${encodeURIComponent(l.id)}`);
        labels = labels.filter((x) => x.id !== l.id);
        renderLabels();
        renderSessions();
      } catch (e) {
        err.textContent = e.message;
        remove.disabled = false;
      }
    });
    const copy = el('button', { type: 'button', class: 'link', title: 'Copy a link to this version', text: 'copy link' });
    copy.addEventListener('click', async () => {
      copy.textContent = (await copyText(labelLink(l))) ? 'copied' : 'copy failed';
      setTimeout(() => (copy.textContent = 'copy link'), 1500);
    });
    return el('li', { class: 'label', 'data-label': l.id, 'data-rev': l.rev },
      el('a', { class: 'label-name', href: '#label=' + encodeURIComponent(l.id) }, ...visibleNodes(l.name)),
      el('span', { class: 'label-meta' }, `r${l.rev}`, l.author ? ' · ' : '', l.author ? authorChip(l.author) : null, ' · ',
        el('time', { datetime: l.created, title: new Date(l.created).toLocaleString(), text: ago(l.created) })),
      el('span', { class: 'label-actions' }, copy, canEdit ? remove : null));
  }
  function renderLabels() {
    $('labels').replaceChildren(...[...labels].reverse().map(labelItem));
    $('labels-section').hidden = labels.length === 0;
    renderMarks();
    markCurrent();
  }

  // ---- the timeslider ----
  // A position on the track, as a fraction (the thumb's centre travels
  // between half a thumb from each end: see history.css).
  const frac = (rev) => (head > 0 ? Math.min(1, rev / head) : 0);
  function renderMarks() {
    const byRev = new Map();
    for (const l of labels) byRev.set(l.rev, [...(byRev.get(l.rev) || []), l]);
    const marks = [];
    for (const [rev, ls] of byRev) {
      const names = ls.map((l) => l.name).join(', ');
      const m = el('button', { type: 'button', class: 'mark', 'data-rev': rev, title: `${names} (r${rev})`, 'aria-label': `Named version ${names}, revision ${rev}` });
      m.style.setProperty('--at', String(frac(rev)));
      m.addEventListener('click', () => go({ mode: 'text', rev, label: ls[0].id }, true));
      marks.push(m);
    }
    $('marks').replaceChildren(...marks);
  }
  function renderBand() {
    const band = $('band');
    band.hidden = !cur || cur.mode !== 'diff';
    if (band.hidden) return;
    const a = frac(Math.min(cur.from, cur.to));
    const b = frac(Math.max(cur.from, cur.to));
    band.style.setProperty('--from', String(a));
    band.style.setProperty('--to', String(b));
  }
  function setHead(rev) {
    head = rev;
    slider.max = String(head);
    renderMarks();
    renderBand();
  }

  // ---- what is shown ----
  const keyOf = (s) => (s.mode === 'text' ? `text:${s.rev}:${s.label || ''}` : `diff:${s.from}:${s.to}`);
  const hashOf = (s) => (s.mode === 'diff' ? `#from=${s.from}&to=${s.to}` : s.label ? `#label=${encodeURIComponent(s.label)}` : `#rev=${s.rev}`);
  const clamp = (n) => Math.max(0, Math.min(head, Math.floor(n)));

  /** The target the URL's fragment names, or null; missing: a label that is gone. */
  function fromHash() {
    const q = new URLSearchParams(location.hash.slice(1));
    if (q.has('label')) {
      const l = labels.find((x) => x.id === q.get('label'));
      return l ? { mode: 'text', rev: l.rev, label: l.id } : { missing: true };
    }
    const num = (k) => (q.has(k) && /^\d+$/.test(q.get(k)) ? clamp(Number(q.get(k))) : null);
    if (num('from') !== null || num('to') !== null) return { mode: 'diff', from: num('from') ?? 0, to: num('to') ?? head };
    if (num('rev') !== null) return { mode: 'text', rev: num('rev') };
    return null;
  }
  function route() {
    const target = fromHash();
    if (target && !target.missing) return go(target, false);
    if (sessions.length) go({ mode: 'diff', from: sessions[0].first - 1, to: sessions[0].last }, false);
    else go({ mode: 'text', rev: head }, false);
    if (target) err.textContent = 'That named version was removed; here are the newest changes.';
  }

  let seq = 0;
  let slideTimer = null;
  /**
   * Shows target; push records it in the browser's history (a click),
   * otherwise the URL is replaced (the slider, a reload).
   */
  function go(target, push) {
    clearTimeout(slideTimer);
    const same = cur && keyOf(cur) === keyOf(target);
    cur = target;
    const hash = hashOf(target);
    if (location.hash !== hash) {
      if (push) history.pushState(null, '', hash);
      else history.replaceState(null, '', hash);
    }
    renderChrome();
    if (!same) draw();
  }

  // The toolbar, the slider and the highlighted session: at once.
  function renderChrome() {
    const text = cur.mode === 'text';
    const rev = text ? cur.rev : cur.to;
    slider.value = String(rev);
    $('tab-text').setAttribute('aria-pressed', String(text));
    $('tab-diff').setAttribute('aria-pressed', String(!text));
    $('tab-diff').disabled = text && cur.rev === 0;
    $('layout').hidden = text;
    $('layout-unified').setAttribute('aria-pressed', String(layout === 'unified'));
    $('layout-split').setAttribute('aria-pressed', String(layout === 'split'));
    $('cmp-from').value = String(text ? cur.rev : cur.from);
    $('cmp-to').value = String(text ? head : cur.to);
    $('older').disabled = rev === 0;
    $('newer').disabled = rev === head;
    restore.textContent = `Restore r${rev}`;
    restore.title = rev === head ? 'This is the newest revision' : `Make the text what it was at revision ${rev} (a new revision: nothing is lost)`;
    restore.disabled = rev === head;
    restore.hidden = !canEdit;
    $('label-add').hidden = !canEdit;
    $('label-add').textContent = `Name r${rev}…`;
    $('label-for').textContent = `Name revision ${rev}:`;
    renderBand();
    markCurrent(true);
  }
  // Highlights what is shown in the lists; scroll: bring it into view (a
  // new choice, not a list drawn again).
  function markCurrent(scroll) {
    if (!cur) return;
    for (const li of $('sessions').children) {
      const first = Number(li.dataset.first);
      const last = Number(li.dataset.last);
      const current = cur.mode === 'diff' && cur.from === first - 1 && cur.to === last;
      li.classList.toggle('current', current);
      if (current) li.firstChild.setAttribute('aria-current', 'true');
      else li.firstChild.removeAttribute('aria-current');
      li.classList.toggle('contains', cur.mode === 'text' && first <= cur.rev && cur.rev <= last);
    }
    const current = $('sessions').querySelector('.current, .contains');
    if (scroll && current && !narrow.matches) current.scrollIntoView({ block: 'nearest' });
    for (const li of $('labels').children) li.classList.toggle('current', cur.mode === 'text' && Number(li.dataset.rev) === cur.rev);
    for (const m of $('marks').children) m.classList.toggle('current', cur.mode === 'text' && Number(m.dataset.rev) === cur.rev);
  }

  async function draw() {
    const my = ++seq;
    const target = cur;
    document.body.dataset.loading = 'true';
    err.textContent = '';
    try {
      if (target.mode === 'text') await drawText(target, my);
      else await drawDiff(target, my);
    } catch (e) {
      if (my === seq) err.textContent = e.message;
    } finally {
      if (my === seq) delete document.body.dataset.loading;
    }
  }

  async function drawText({ rev, label }, my) {
    const [doc, blame, meta] = await Promise.all([
      api('GET', `${base}?rev=${rev}`),
      api('GET', `${base}/blame?rev=${rev}`),
      revisionInfo(rev).catch(() => null),
    ]);
    if (my !== seq) return; // a newer choice is on its way
    addAuthors(blame.authors);
    $('diff').hidden = true;
    $('editor').hidden = false;
    textView.dispatch({ changes: { from: 0, to: textView.state.doc.length, insert: doc.text } });
    textView.dispatch({ effects: setBlame.of(blameMarkers(textView.state, blame.lines)) });
    delete document.body.dataset.diff;
    document.body.dataset.shown = String(rev);
    document.title = `r${rev} — ${docName} — history`;
    const here = labels.filter((l) => l.rev === rev);
    const parts = [];
    if (rev === 0) parts.push(`revision 0 of ${head} — the empty document`);
    else if (meta) parts.push(`revision ${rev} of ${head} — by `, authorChip(meta.author), `, ${new Date(meta.time).toLocaleString()} (${ago(meta.time)})`);
    else parts.push(`revision ${rev} of ${head}`);
    for (const l of here) parts.push(' ', el('span', { class: 'label-chip' + (l.id === label ? ' current' : '') }, ...visibleNodes(l.name)));
    info.replaceChildren(...parts);
  }

  function blameMarkers(state, lines) {
    const out = [];
    let prev = -1;
    for (const b of lines) {
      if (b.line > state.doc.lines) break;
      if (b.rev === 0) continue; // the empty line after the last line break
      const who = authorName(b.author);
      const label = b.rev === prev ? '' : `r${b.rev} ${who}`.slice(0, 22);
      prev = b.rev;
      const color = validColor(authors.get(b.author)?.color);
      out.push(new BlameMarker(b.rev, label, `line ${b.line}: revision ${b.rev} by ${who} (click for its session's changes)`, color).range(state.doc.line(b.line).from));
    }
    return RangeSet.of(out, true);
  }

  let lastDiff = null; // {key, rows}: drawn again without a request on a layout change
  async function drawDiff({ from, to }, my) {
    const key = `${from}:${to}`;
    let rows;
    if (lastDiff && lastDiff.key === key) rows = lastDiff.rows;
    else {
      const text = await api('GET', `${base}/diff?from=${from}&to=${to}&format=unified&context=${WHOLE}`);
      if (my !== seq) return;
      rows = parseUnified(typeof text === 'string' ? text : '');
      lastDiff = { key, rows };
    }
    if (my !== seq) return;
    if (diff) diff.destroy();
    diff = null;
    $('editor').hidden = true;
    const box = $('diff');
    box.hidden = false;
    if (rows.length === 0) {
      box.replaceChildren(el('p', { class: 'hist-same', text: from === to ? `r${from} compared with itself: nothing to show.` : `r${from} and r${to} have the same text.` }));
    } else {
      diff = renderDiff(box, rows, { layout: effectiveLayout(), extensions: common(), oldTitle: `r${from}`, newTitle: `r${to}` });
    }
    delete document.body.dataset.shown;
    document.body.dataset.diff = key;
    document.body.dataset.layout = rows.length ? effectiveLayout() : '';
    document.title = `r${from}→r${to} — ${docName} — history`;
    const { added, removed } = counts(rows);
    const stats = [el('span', { class: 'plus', text: `+${added}` }), ' ', el('span', { class: 'minus', text: `−${removed}` })];
    const s = sessions.find((x) => x.first - 1 === from && x.last === to);
    if (s) {
      const what = s.revisions === 1 ? `r${s.last}` : `r${s.first}–r${s.last} (${s.revisions} revisions)`;
      info.replaceChildren(`Session ${what} by `, ...join(s.authors.map(authorChip)), ` · ${timeSpan(s.start, s.end)} · `, ...stats);
    } else {
      info.replaceChildren(`Changes from r${from} to r${to} · `, ...stats);
    }
  }
  const join = (nodes) => nodes.flatMap((n, i) => (i ? [', ', n] : [n]));

  // ---- controls ----
  slider.addEventListener('input', () => {
    // Follow the thumb at once; ask for the text when it rests a moment.
    const rev = clamp(Number(slider.value));
    info.textContent = `revision ${rev} of ${head}…`;
    clearTimeout(slideTimer);
    slideTimer = setTimeout(() => go({ mode: 'text', rev }, false), 80);
  });
  const step = (d) => {
    const rev = cur.mode === 'text' ? cur.rev : cur.to;
    go({ mode: 'text', rev: clamp(rev + d) }, false);
  };
  $('older').addEventListener('click', () => step(-1));
  $('newer').addEventListener('click', () => step(1));
  $('tab-text').addEventListener('click', () => cur.mode !== 'text' && go({ mode: 'text', rev: cur.to }, true));
  $('tab-diff').addEventListener('click', () => cur.mode === 'text' && showSessionOf(cur.rev, true));
  for (const [id, l] of [['layout-unified', 'unified'], ['layout-split', 'split']]) {
    $(id).addEventListener('click', () => {
      if (layout === l) return;
      layout = l;
      store.set('historyLayout', l);
      renderChrome();
      if (cur.mode === 'diff') draw();
    });
  }
  $('compare').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = $('cmp-from').value.trim();
    const to = $('cmp-to').value.trim();
    if (!/^\d+$/.test(f) || !/^\d+$/.test(to)) {
      err.textContent = `Compare two revision numbers from 0 to ${head}.`;
      return;
    }
    go({ mode: 'diff', from: clamp(Number(f)), to: clamp(Number(to)) }, true);
  });
  $('more-sessions').addEventListener('click', () => loadSessions()?.catch((e) => (err.textContent = e.message)));
  // More sessions as the list is scrolled to its end.
  new IntersectionObserver((es) => {
    if (es.some((e) => e.isIntersecting) && sessionsNext) loadSessions()?.catch(() => {});
  }).observe($('more-sessions'));
  $('sessions').addEventListener('click', () => {
    if (narrow.matches) toggleSide(false); // a phone: show what was picked
  });
  $('labels').addEventListener('click', (ev) => {
    if (narrow.matches && ev.target instanceof Element && ev.target.closest('a')) toggleSide(false);
  });
  const toggleSide = (open) => {
    document.body.classList.toggle('side-open', open);
    $('side-toggle').setAttribute('aria-expanded', String(open));
    $('side-toggle').textContent = open ? 'Sessions ▴' : 'Sessions ▾';
  };
  $('side-toggle').addEventListener('click', () => toggleSide(!document.body.classList.contains('side-open')));
  narrow.addEventListener('change', () => {
    reconfigure(() => wrapC.reconfigure(wrapExt()));
    if (cur && cur.mode === 'diff' && layout === 'split') draw();
  });
  $('theme').addEventListener('click', () => {
    t = t === 'dark' ? 'light' : 'dark';
    store.set('theme', t);
    applyTheme(t);
    reconfigure(() => themeC.reconfigure(themeExt()));
  });

  // Naming the shown revision (edit links only).
  const labelForm = $('label-form');
  $('label-add').addEventListener('click', () => {
    labelForm.hidden = false;
    $('label-name').focus();
  });
  $('label-cancel').addEventListener('click', () => (labelForm.hidden = true));
  labelForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const rev = cur.mode === 'text' ? cur.rev : cur.to;
    const name = $('label-name').value.trim();
    if (!name) return;
    try {
      const l = await api('POST', `${base}/labels`, { rev, name }, authorHeader());
      labels = [...labels, l].sort((a, b) => a.rev - b.rev);
      $('label-name').value = '';
      labelForm.hidden = true;
      renderLabels();
      renderSessions();
      if (cur.mode === 'text') drawText(cur, seq);
    } catch (e) {
      err.textContent = e.message;
    }
  });

  restore.addEventListener('click', async () => {
    const rev = cur.mode === 'text' ? cur.rev : cur.to;
    restore.disabled = true;
    try {
      const r = await api('POST', `${base}/restore`, { rev }, authorHeader());
      revPages.delete(pageOf(head));
      setHead(Math.max(head, r.rev));
      await refreshSessions().catch(() => {});
      go({ mode: 'text', rev: r.rev }, true);
    } catch (e) {
      err.textContent = e.message;
      restore.disabled = false;
    }
  });

  // A link within the page, or Back and Forward.
  const follow = () => {
    const target = fromHash();
    if (target && target.missing) err.textContent = 'That named version was removed.';
    else if (target && (!cur || keyOf(target) !== keyOf(cur))) go(target, false);
  };
  addEventListener('hashchange', follow);
  addEventListener('popstate', follow);

  // ---- start ----
  try {
    const doc = await api('GET', base);
    docName = doc.name;
    canEdit = doc.mode === 'edit';
    document.body.classList.toggle('readonly', !canEdit);
    $('title').textContent = doc.name;
    $('title').title = doc.name;
    setHead(doc.rev);
    loadLanguage(doc);
    await Promise.all([loadSessions(), loadLabels()]);
    route();
  } catch (e) {
    err.textContent = e.message;
  }

  function loadLanguage(doc) {
    const desc = LanguageDescription.matchLanguageName(languages, doc.language || '', false) || LanguageDescription.matchFilename(languages, doc.name);
    if (!desc) return;
    desc.load().then(
      (support) => {
        lang = support;
        reconfigure(() => langC.reconfigure(lang));
      },
      () => {}, // shown without highlighting
    );
  }

  // Others keep editing: follow the newest revision, and their labels.
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const p = await api('GET', `${base}/presence`);
      await loadLabels();
      if (p.rev <= head) return;
      const old = head;
      revPages.delete(pageOf(old));
      setHead(p.rev);
      await refreshSessions();
      if (cur.mode === 'text' && cur.rev === old && !cur.label) go({ mode: 'text', rev: head }, false);
    } catch {
      // offline: try again later
    }
  }, POLL);
}

// The author of labels and restores made here: this browser's public
// author id, when the editor page has learnt it (joined.author).
function authorHeader() {
  const a = store.get('authorId', '');
  return typeof a === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(a) ? { 'X-Collab-Author': a } : {};
}
