// The history page, /d/{id}/history: a slider over the revisions. For the
// chosen revision it shows the text then, what has changed since (against
// the newest text: removed text struck through, added text in green),
// who made the revision and when, blame in the gutter, and a button that
// restores it.
//
// It never reads the whole log: the text, the diff and the blame are one
// request each for the chosen revision, and authors and times come in
// pages of PAGE revisions around it (cached), so a document with 100,000
// revisions costs what one with ten does.
import { EditorState, StateField, StateEffect, RangeSet, Compartment } from '@codemirror/state';
import { EditorView, Decoration, WidgetType, gutter, GutterMarker, lineNumbers } from '@codemirror/view';
import { syntaxHighlighting, defaultHighlightStyle, LanguageDescription } from '@codemirror/language';
import { oneDark } from '@codemirror/theme-one-dark';
import { languages } from '@codemirror/language-data';
import { api, docPath, el, store, theme, applyTheme, ago } from './ui.js';
import { lineEndings } from './lineendings.js';
import { astralField, componentChanges } from './positions.js';
import { showInvisibles, visibleNodes } from './invisibles.js';

const PAGE = 50;
const MAX_SHOWN_INSERT = 2000; // code units of an added text drawn inline

class Added extends WidgetType {
  constructor(text) {
    super();
    this.text = text;
  }
  eq(o) {
    return o.text === this.text;
  }
  toDOM() {
    // Line breaks are drawn as symbols, so the lines stay those of the
    // revision and line numbers and blame stay beside their lines.
    let t = this.text.length > MAX_SHOWN_INSERT ? this.text.slice(0, MAX_SHOWN_INSERT) + '…' : this.text;
    t = t.replace(/\r?\n/g, '⏎');
    return el('span', { class: 'hist-ins', title: 'added since: ' + this.text.slice(0, 500) }, ...visibleNodes(t));
  }
}

class BlameMarker extends GutterMarker {
  constructor(rev, label, title) {
    super();
    this.rev = rev;
    this.label = label;
    this.title = title;
  }
  eq(o) {
    return o.rev === this.rev && o.label === this.label;
  }
  toDOM() {
    return el('span', { class: 'blame', 'data-rev': this.rev, title: this.title, text: this.label });
  }
}

const setDiff = StateEffect.define();
const diffField = StateField.define({
  create: () => Decoration.none,
  update(d, tr) {
    for (const e of tr.effects) if (e.is(setDiff)) return e.value;
    return d.map(tr.changes);
  },
  provide: (f) => EditorView.decorations.from(f),
});

const setBlame = StateEffect.define();
const blameField = StateField.define({
  create: () => RangeSet.empty,
  update(b, tr) {
    for (const e of tr.effects) if (e.is(setBlame)) return e.value;
    return tr.docChanged ? RangeSet.empty : b;
  },
});

/** Names for author ids: people here now, and this browser's own past sessions. */
function authorName(names, id) {
  if (!id) return 'unknown';
  if (names.has(id)) return names.get(id);
  if (id === 'api') return 'API';
  return id.length > 12 ? id.slice(0, 10) + '…' : id;
}

export async function main({ doc: docId }) {
  let t = theme();
  applyTheme(t);
  const base = docPath(docId);
  const $ = (id) => document.getElementById(id);
  const slider = $('slider');
  const info = $('rev-info');
  const restore = $('restore');
  const err = $('error');
  const list = $('revisions');
  $('back').href = '/d/' + encodeURIComponent(docId);

  const themeC = new Compartment();
  const langC = new Compartment();
  const view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      extensions: [
        lineEndings(),
        astralField,
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        showInvisibles(),
        gutter({ class: 'cm-blame-gutter', markers: (v) => v.state.field(blameField) }),
        lineNumbers(),
        diffField,
        blameField,
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        themeC.of(t === 'dark' ? oneDark : []),
        langC.of([]),
        EditorView.domEventHandlers({
          click(ev) {
            const rev = ev.target instanceof Element && ev.target.closest('.blame')?.dataset.rev;
            if (rev !== undefined && rev !== null) choose(Number(rev));
          },
        }),
      ],
    }),
  });
  window.collabHistory = view; // for the console and the browser tests

  const names = new Map((store.get('myClients', [])).map((c) => [c.id, c.name + ' (you)']));
  let head = 0;
  const pages = new Map(); // page number -> Promise of revisions

  function page(k) {
    if (!pages.has(k)) {
      const p = api('GET', `${base}/revisions?after=${k * PAGE}&limit=${PAGE}`).then((r) => r.revisions);
      p.catch(() => pages.delete(k));
      pages.set(k, p);
    }
    return pages.get(k);
  }
  const pageOf = (rev) => Math.floor((rev - 1) / PAGE);

  async function revisionInfo(rev) {
    if (rev === 0) return null;
    const revs = await page(pageOf(rev));
    return revs.find((r) => r.rev === rev) || null;
  }

  async function refreshHead() {
    const p = await api('GET', base + '/presence');
    for (const u of p.users) names.set(u.id, u.name);
    if (p.rev !== head) {
      // The newest page may have grown.
      pages.delete(pageOf(head));
      const follow = Number(slider.value) === head;
      head = p.rev;
      slider.max = String(head);
      if (follow) slider.value = String(head);
      return true;
    }
    return false;
  }

  let shown = -1;
  let seq = 0;
  async function show(rev) {
    const my = ++seq;
    try {
      const [doc, diff, blame, meta] = await Promise.all([
        api('GET', `${base}?rev=${rev}`),
        rev === head ? Promise.resolve({ op: [] }) : api('GET', `${base}/diff?from=${rev}&to=${head}`),
        api('GET', `${base}/blame?rev=${rev}`),
        revisionInfo(rev),
      ]);
      if (my !== seq) return; // a newer choice is on its way
      err.textContent = '';
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc.text } });
      const state = view.state;
      view.dispatch({ effects: [setDiff.of(diffDecorations(state, diff.op)), setBlame.of(blameMarkers(state, blame.lines))] });
      shown = rev;
      document.body.dataset.shown = String(rev);
      renderInfo(rev, meta);
      await renderList(rev);
    } catch (e) {
      if (my === seq) err.textContent = e.message;
    }
  }

  function diffDecorations(state, op) {
    const out = [];
    for (const c of componentChanges(op, state)) {
      if (c.insert !== undefined) out.push(Decoration.widget({ widget: new Added(c.insert), side: 1 }).range(c.from));
      else if (c.to > c.from) out.push(Decoration.mark({ class: 'hist-del', attributes: { title: 'removed since' } }).range(c.from, c.to));
    }
    return Decoration.set(out, true);
  }

  function blameMarkers(state, lines) {
    const out = [];
    let prev = -1;
    for (const b of lines) {
      if (b.line > state.doc.lines) break;
      if (b.rev === 0) continue; // the empty line after the last line break
      const who = authorName(names, b.author);
      const label = b.rev === prev ? '' : `r${b.rev} ${who}`.slice(0, 22);
      prev = b.rev;
      out.push(new BlameMarker(b.rev, label, `line ${b.line}: revision ${b.rev} by ${who}`).range(state.doc.line(b.line).from));
    }
    return RangeSet.of(out, true);
  }

  function renderInfo(rev, meta) {
    document.title = `revision ${rev} — history — collab`;
    if (rev === 0) {
      info.textContent = `revision 0 of ${head} — the empty document`;
    } else if (meta) {
      info.textContent = `revision ${rev} of ${head} — by ${authorName(names, meta.author)}, ${new Date(meta.time).toLocaleString()} (${ago(meta.time)})`;
    } else {
      info.textContent = `revision ${rev} of ${head}`;
    }
    restore.disabled = rev === head;
    $('older').disabled = rev === 0;
    $('newer').disabled = rev === head;
  }

  async function renderList(rev) {
    const k = rev === 0 ? 0 : pageOf(rev);
    const revs = await page(k);
    if (shown !== rev) return;
    const items = revs.map((r) =>
      el('li', { 'data-rev': r.rev, class: r.rev === rev ? 'current' : '' },
        el('button', { class: 'link', onclick: () => choose(r.rev) },
          el('span', { class: 'rev', text: 'r' + r.rev }), ' ',
          el('span', { class: 'who', text: authorName(names, r.author) }), ' ',
          el('time', { datetime: r.time, title: new Date(r.time).toLocaleString(), text: ago(r.time) }))));
    if (k === 0) items.unshift(el('li', { 'data-rev': 0, class: rev === 0 ? 'current' : '' }, el('button', { class: 'link', onclick: () => choose(0), text: 'r0 (empty)' })));
    list.replaceChildren(...items);
    $('page-info').textContent = revs.length ? `revisions ${k === 0 ? 0 : revs[0].rev}–${revs[revs.length - 1].rev}` : '';
    list.querySelector('.current')?.scrollIntoView({ block: 'nearest' });
  }

  let timer = null;
  function choose(rev) {
    rev = Math.max(0, Math.min(head, rev));
    slider.value = String(rev);
    clearTimeout(timer);
    timer = setTimeout(() => show(rev), 60);
  }

  slider.addEventListener('input', () => choose(Number(slider.value)));
  $('older').addEventListener('click', () => choose(Number(slider.value) - 1));
  $('newer').addEventListener('click', () => choose(Number(slider.value) + 1));
  $('theme').addEventListener('click', () => {
    t = t === 'dark' ? 'light' : 'dark';
    store.set('theme', t);
    applyTheme(t);
    view.dispatch({ effects: themeC.reconfigure(t === 'dark' ? oneDark : []) });
  });
  restore.addEventListener('click', async () => {
    const rev = Number(slider.value);
    restore.disabled = true;
    try {
      const r = await api('POST', `${base}/restore`, { rev });
      pages.delete(pageOf(head));
      head = r.rev;
      slider.max = String(head);
      slider.value = String(head);
      await show(head);
    } catch (e) {
      err.textContent = e.message;
      restore.disabled = false;
    }
  });

  try {
    const doc = await api('GET', base);
    head = doc.rev;
    $('title').textContent = doc.name;
    slider.min = '0';
    slider.max = String(head);
    slider.value = String(head);
    const desc = LanguageDescription.matchLanguageName(languages, doc.language || '', false) || LanguageDescription.matchFilename(languages, doc.name);
    if (desc) desc.load().then((s) => view.dispatch({ effects: langC.reconfigure(s) }), () => {});
    await refreshHead().catch(() => false);
    await show(Number(slider.value));
  } catch (e) {
    err.textContent = e.message;
  }
  // Others keep editing: follow the newest revision's number.
  setInterval(async () => {
    try {
      if ((await refreshHead()) && shown !== -1) {
        const rev = Number(slider.value);
        show(rev);
      }
    } catch {
      // offline: try again later
    }
  }, 10000);
}
