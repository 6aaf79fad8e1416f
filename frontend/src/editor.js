// CodeMirror 6 bound to a Collab connection. Local changes become
// operations in code points; remote operations become CodeMirror changes
// marked remote, which stay out of the undo history (so undo undoes only
// our own edits, remapped over everyone else's); the others' selections
// are drawn with their names and colours, a name shown for a few seconds
// after its owner moves or types (and on hover), placed so that names
// never cover each other. The indentation follows the file's (indent.js),
// and invisible characters are shown (invisibles.js).
import { EditorState, EditorSelection, Compartment, StateField, StateEffect, Transaction, countColumn } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  Decoration, WidgetType, dropCursor, rectangularSelection, crosshairCursor,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from '@codemirror/commands';
import {
  syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput, foldGutter, foldKeymap, LanguageDescription, indentUnit,
} from '@codemirror/language';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { oneDark } from '@codemirror/theme-one-dark';
import { languages } from '@codemirror/language-data';
import { TextOperation } from './ot.js';
import { bytesText, utf8Length } from './collab.js';
import { Walker, astralField, componentChanges, cpDocLength, manyToCp, manyToUtf16 } from './positions.js';
import { lineEndings } from './lineendings.js';
import { remoteEdit, isRemote } from './remote.js';
import { showInvisibles } from './invisibles.js';
import { detectIndent, tabInsert } from './indent.js';
import { LABEL_SHOWN, labelWidth, placeLabels } from './labels.js';

// Edits inserting fewer UTF-16 units than this are not measured against
// the server's limits (typing); the Collab still checks what it sends.
const SMALL_INSERT = 4096;

// ---- the others' cursors and selections

const setCursors = StateEffect.define();

class CursorWidget extends WidgetType {
  /** place: {side: 'above' | 'below', row}; activeAt: when its owner last moved (ms). */
  constructor(user, name, color, place, activeAt) {
    super();
    this.user = user;
    this.name = name;
    this.color = color;
    this.place = place;
    this.activeAt = activeAt;
  }
  eq(o) {
    return o.user === this.user && o.name === this.name && o.color === this.color &&
      o.place.side === this.place.side && o.place.row === this.place.row && o.activeAt === this.activeAt;
  }
  toDOM(view) {
    const caret = document.createElement('span');
    caret.className = 'cm-remote-cursor';
    caret.style.borderLeftColor = this.color;
    caret.dataset.user = this.user;
    const label = document.createElement('span');
    label.className = this.place.side === 'below' ? 'cm-remote-label cm-remote-label-below' : 'cm-remote-label';
    label.style.backgroundColor = this.color;
    label.style.color = labelTextColor(this.color);
    label.textContent = this.name; // a name is text, never HTML
    if (this.place.row > 0) {
      label.style[this.place.side === 'below' ? 'top' : 'bottom'] = `calc(100% + ${Math.round(this.place.row * view.defaultLineHeight)}px)`;
    }
    // Shown for LABEL_SHOWN after its owner's last move, then faded out
    // by CSS (and shown again on hover).
    const age = Date.now() - this.activeAt;
    if (age >= LABEL_SHOWN) label.classList.add('cm-remote-label-idle');
    else label.style.animationDelay = `${LABEL_SHOWN - age}ms`;
    caret.appendChild(label);
    return caret;
  }
  ignoreEvent() {
    return true;
  }
}

/** Black or white, whichever reads better on background colour #rrggbb (WCAG contrast). */
export function labelTextColor(hex) {
  const lin = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#1f2328' : '#ffffff';
}

const cursorField = StateField.define({
  create: () => Decoration.none,
  update(decos, tr) {
    for (const e of tr.effects) if (e.is(setCursors)) return e.value;
    return decos.map(tr.changes);
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** users: [{id, name, color, activeAt, ranges: [{anchor, head}] in UTF-16 offsets}] */
function cursorDecorations(state, users, now) {
  const len = state.doc.length;
  const out = [];
  const carets = [];
  for (const u of users) {
    for (const r of u.ranges) {
      const head = Math.min(r.head, len);
      const anchor = Math.min(r.anchor, len);
      const from = Math.min(head, anchor);
      const to = Math.max(head, anchor);
      if (from < to) {
        out.push(Decoration.mark({ class: 'cm-remote-selection', attributes: { style: `background-color: ${u.color}40` } }).range(from, to));
      }
      const line = state.doc.lineAt(head);
      carets.push({ u, head, line: line.number, col: countColumn(line.text, state.tabSize, head - line.from) });
    }
  }
  const places = placeLabels(carets.map((c) => ({
    line: c.line, col: c.col, width: labelWidth(c.u.name), shown: now - c.u.activeAt < LABEL_SHOWN,
  })));
  carets.forEach((c, i) => {
    out.push(Decoration.widget({ widget: new CursorWidget(c.u.id, c.u.name, c.u.color, places[i], c.u.activeAt), side: 1 }).range(c.head));
  });
  return Decoration.set(out, true);
}

// ---- CodeMirror changes and operations

/** The operation (code points) of a CodeMirror change set made on startState. */
export function changesToOp(changes, startState) {
  const w = new Walker(startState.doc, startState.field(astralField));
  const op = new TextOperation();
  let pos = 0;
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const from = w.toCp(fromA);
    const to = w.toCp(toA);
    op.retain(from - pos);
    op.insert(inserted.toString());
    op.delete(to - from);
    pos = to;
  });
  op.retain(w.toCp(startState.doc.length) - pos);
  return op;
}

/** The CodeMirror change specs (UTF-16 offsets) of operation op on state's text. */
export function opToChanges(op, state) {
  return componentChanges(op.ops, state);
}

// ---- languages, loaded on demand

const loading = new Map();

function findLanguage(fileName, langName) {
  if (langName) {
    const byName = LanguageDescription.matchLanguageName(languages, langName, false);
    if (byName) return byName;
  }
  return LanguageDescription.matchFilename(languages, fileName || '');
}

// A language whose code failed to load (the network dropped) is asked for
// again: sooner at first, then every 30 s, and at once when the browser
// comes back online.
const RETRY_DELAYS = [1000, 2000, 5000, 10000, 30000];

function loadLanguage(desc) {
  if (!loading.has(desc.name)) {
    const p = preflight(desc.name).then(() => desc.load());
    loading.set(desc.name, p);
    p.catch(() => loading.delete(desc.name)); // the next call tries again
  }
  return loading.get(desc.name);
}

// A module whose fetch failed is remembered as failed by the browser for
// the life of the page: importing it again fails at once. So the files a
// language needs (dist/languages.json, made by languages.mjs) are fetched
// first, which leaves them in the HTTP cache (chunks are immutable), and
// the import is tried only once they all arrived.
let manifest = null;

async function preflight(name) {
  if (!manifest) {
    manifest = fetch('/assets/languages.json').then((r) => {
      if (r.status === 404) return {}; // an older server: import directly
      if (!r.ok) throw new Error(`languages.json: ${r.status}`);
      return r.json();
    });
    manifest.catch(() => (manifest = null));
  }
  const files = (await manifest)[name] || [];
  await Promise.all(files.map(async (f) => {
    const r = await fetch('/assets/' + f);
    if (!r.ok) throw new Error(`${f}: ${r.status}`);
    await r.arrayBuffer();
  }));
}

// ---- indentation

/**
 * Tab as editors have it: with a selection over several lines, indents
 * them; else inserts at each cursor (replacing a selection within a line)
 * a tab, or spaces up to the next multiple of the indent unit.
 */
export function indentAtCursor({ state, dispatch }) {
  if (state.readOnly) return false;
  if (state.selection.ranges.some((r) => state.doc.lineAt(r.from).number !== state.doc.lineAt(r.to).number)) {
    return indentMore({ state, dispatch });
  }
  const unit = state.facet(indentUnit);
  dispatch(state.update(state.changeByRange((r) => {
    const line = state.doc.lineAt(r.from);
    const text = tabInsert(unit, countColumn(line.text, state.tabSize, r.from - line.from));
    return { changes: { from: r.from, to: r.to, insert: text }, range: EditorSelection.cursor(r.from + text.length) };
  }), { scrollIntoView: true, userEvent: 'input' }));
  return true;
}

/** The indent unit and tab size of detectIndent's answer. */
const indentExt = (d) => [indentUnit.of(d.unit), EditorState.tabSize.of(d.tabSize)];

// ---- the editor

export class CollabEditor {
  /**
   * opts: {parent, collab, readOnly, theme ('light'|'dark'), lineNumbers,
   * onLocalChange(), onRefused(why)}
   */
  constructor(opts) {
    this.collab = opts.collab;
    this.opts = opts;
    this.lang = new Compartment();
    this.theme = new Compartment();
    this.ro = new Compartment();
    this.gutters = new Compartment();
    this.indent = new Compartment();
    this.indentation = { unit: '  ', tabSize: 4, from: 'language' };
    this.indentTimer = null;
    this.langDesc = null;
    this.langName = '';
    this.langRetry = null;
    this.langAttempt = 0;
    this.view = null;
    this.cursorTimer = null;
    addEventListener('online', () => {
      if (this.langRetry) this.retryLanguage(0);
    });
  }

  extensions() {
    const o = this.opts;
    return [
      lineEndings(),
      astralField,
      this.gutters.of(o.lineNumbers === false ? [] : [lineNumbers(), highlightActiveLineGutter(), foldGutter()]),
      showInvisibles(),
      this.indent.of(indentExt(this.indentation)),
      history(),
      drawSelection(),
      dropCursor(),
      rectangularSelection(),
      crosshairCursor(),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      // Tab indents (Escape, then Tab, leaves the editor: CodeMirror's).
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap, { key: 'Tab', run: indentAtCursor, shift: indentLess }]),
      EditorState.transactionFilter.of((tr) => this.admit(tr)),
      cursorField,
      this.lang.of([]),
      this.theme.of(o.theme === 'dark' ? oneDark : []),
      this.ro.of(readOnlyExt(!!o.readOnly)),
      EditorView.contentAttributes.of({ 'aria-label': 'document text' }),
      EditorView.updateListener.of((u) => this.onUpdate(u)),
    ];
  }

  /** Shows text as the document, with a fresh undo history. */
  load(text) {
    this.indentation = detectIndent(text, this.langName);
    const state = EditorState.create({ doc: text, extensions: this.extensions() });
    if (this.view) this.view.setState(state);
    else this.view = new EditorView({ state, parent: this.opts.parent });
  }

  /** The indentation in use: {unit, tabSize, from: 'file' | 'language'}. */
  indentUnit() {
    return { ...this.indentation };
  }

  /**
   * Looks at the text's indentation again (after it changed, or its
   * language did) and switches to it if it differs.
   */
  detectIndentation() {
    if (!this.view) return;
    const d = detectIndent(this.view.state.doc.sliceString(0, 256 * 1024), this.langName);
    const o = this.indentation;
    if (d.unit === o.unit && d.tabSize === o.tabSize && d.from === o.from) return;
    this.indentation = d;
    this.view.dispatch({ effects: this.indent.reconfigure(indentExt(d)) });
  }

  scheduleIndentation() {
    if (this.indentTimer) return;
    this.indentTimer = setTimeout(() => {
      this.indentTimer = null;
      this.detectIndentation();
    }, 1000);
  }

  /** Replaces the text after a resync, keeping the cursor near where it was. */
  reset(text) {
    const head = this.view.state.selection.main.head;
    const ro = this.view.state.readOnly;
    this.load(text);
    this.setReadOnly(ro);
    this.view.dispatch({ selection: EditorSelection.cursor(Math.min(head, this.view.state.doc.length)) });
    if (this.langDesc) this.applyLanguage(this.langDesc);
  }

  setReadOnly(ro) {
    this.opts.readOnly = ro;
    this.view.dispatch({ effects: this.ro.reconfigure(readOnlyExt(ro)) });
  }

  setTheme(theme) {
    this.opts.theme = theme;
    this.view.dispatch({ effects: this.theme.reconfigure(theme === 'dark' ? oneDark : []) });
  }

  /** Picks syntax highlighting from the file name (or a language name), loading it lazily. */
  async setLanguage(fileName, langName) {
    const desc = findLanguage(fileName, langName);
    if (desc !== this.langDesc) this.langAttempt = 0;
    this.langDesc = desc;
    this.langName = desc ? desc.name : langName || '';
    this.detectIndentation();
    if (!desc) {
      clearTimeout(this.langRetry);
      this.langRetry = null;
      this.view.dispatch({ effects: this.lang.reconfigure([]) });
      return null;
    }
    await this.applyLanguage(desc);
    return desc.name;
  }

  async applyLanguage(desc) {
    clearTimeout(this.langRetry);
    this.langRetry = null;
    let support;
    try {
      support = await loadLanguage(desc);
    } catch (e) {
      if (this.langDesc !== desc) return;
      const delay = RETRY_DELAYS[Math.min(this.langAttempt++, RETRY_DELAYS.length - 1)];
      console.warn(`collab: loading the language ${desc.name} failed; trying again in ${delay / 1000} s:`, e);
      this.retryLanguage(delay);
      return;
    }
    this.langAttempt = 0;
    if (this.langDesc === desc) this.view.dispatch({ effects: this.lang.reconfigure(support) });
  }

  retryLanguage(delay) {
    clearTimeout(this.langRetry);
    this.langRetry = setTimeout(() => {
      this.langRetry = null;
      if (this.langDesc) this.applyLanguage(this.langDesc);
    }, delay);
  }

  /**
   * Refuses a local edit the server would refuse for its size (a big
   * paste), before it is made: the text stays as it was, the session goes
   * on, and onRefused says why.
   */
  admit(tr) {
    if (!tr.docChanged || isRemote(tr)) return tr;
    let inserted = 0;
    tr.changes.iterChanges((_fromA, _toA, _fromB, _toB, text) => {
      inserted += text.length;
    });
    if (inserted < SMALL_INSERT) return tr;
    let why = this.collab.tooLarge(changesToOp(tr.changes, tr.startState));
    if (!why && this.collab.maxDocBytes) {
      let n = 0;
      for (const iter = tr.newDoc.iter(); !iter.next().done; ) n += utf8Length(iter.value);
      if (n > this.collab.maxDocBytes) why = `the document would be ${bytesText(n)}; the server keeps documents of at most ${bytesText(this.collab.maxDocBytes)}`;
    }
    if (!why) return tr;
    if (this.opts.onRefused) this.opts.onRefused(why);
    return [];
  }

  onUpdate(u) {
    let local = false;
    for (const tr of u.transactions) {
      if (!tr.docChanged || isRemote(tr)) continue;
      this.collab.applyLocal(changesToOp(tr.changes, tr.startState));
      local = true;
    }
    if (local && this.opts.onLocalChange) this.opts.onLocalChange();
    if (u.docChanged) this.scheduleIndentation();
    if (u.docChanged || u.selectionSet) this.scheduleCursor();
  }

  /** Applies a remote operation (code points, on the local text). */
  applyRemote(op) {
    const state = this.view.state;
    if (op.baseLength !== cpDocLength(state)) throw new Error('editor: a remote operation does not fit the text');
    this.view.dispatch({
      changes: opToChanges(op, state),
      annotations: [remoteEdit.of(true), Transaction.remote.of(true), Transaction.addToHistory.of(false)],
    });
  }

  /** Redraws the others' cursors from the Collab's users. */
  drawCursors() {
    if (!this.view) return;
    const state = this.view.state;
    const users = [...this.collab.users.values()].map((u) => ({ u, ranges: this.collab.localRanges(u) }));
    const conv = manyToUtf16(state, users.flatMap(({ ranges }) => ranges.flatMap((r) => [r.anchor, r.head])));
    const drawn = users.map(({ u, ranges }) => ({
      id: u.id,
      name: u.name || 'Anonymous',
      color: /^#[0-9a-fA-F]{6}$/.test(u.color) ? u.color : '#888888',
      activeAt: u.activeAt || 0,
      ranges: ranges.map((r) => ({ anchor: conv.get(r.anchor), head: conv.get(r.head) })),
    }));
    this.view.dispatch({ effects: setCursors.of(cursorDecorations(state, drawn, Date.now())) });
  }

  scheduleCursor() {
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null;
      this.sendCursor();
    }, 40);
  }

  /** Sends our selection; the Collab drops it unless synchronized, and asks again when it is. */
  sendCursor() {
    if (!this.view) return;
    const state = this.view.state;
    const rs = state.selection.ranges;
    const conv = manyToCp(state, rs.flatMap((r) => [r.anchor, r.head]));
    this.collab.sendCursor(rs.map((r) => ({ anchor: conv.get(r.anchor), head: conv.get(r.head) })));
  }

  text() {
    return this.view.state.doc.toString();
  }

  focus() {
    this.view.focus();
  }

  /** Moves the cursor to the start of line n (1-based) and scrolls it to the top. */
  scrollToLine(n) {
    const doc = this.view.state.doc;
    const line = doc.line(Math.max(1, Math.min(n, doc.lines)));
    this.view.dispatch({ selection: { anchor: line.from }, effects: EditorView.scrollIntoView(line.from, { y: 'start' }) });
  }
}

function readOnlyExt(ro) {
  return [EditorState.readOnly.of(ro), EditorView.editable.of(!ro)];
}
