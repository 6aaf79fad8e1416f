// CodeMirror 6 bound to a Collab connection. Local changes become
// operations in code points; remote operations become CodeMirror changes
// marked remote, which stay out of the undo history (so undo undoes only
// our own edits, remapped over everyone else's); the others' selections
// are drawn with their names and colours.
import { EditorState, EditorSelection, Compartment, StateField, StateEffect, Transaction } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars, Decoration, WidgetType, dropCursor, rectangularSelection, crosshairCursor,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput, foldGutter, foldKeymap, LanguageDescription } from '@codemirror/language';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { oneDark } from '@codemirror/theme-one-dark';
import { languages } from '@codemirror/language-data';
import { TextOperation } from './ot.js';
import { bytesText, utf8Length } from './collab.js';
import { Walker, astralField, componentChanges, cpDocLength, manyToCp, manyToUtf16 } from './positions.js';
import { lineEndings } from './lineendings.js';
import { remoteEdit, isRemote } from './remote.js';

// Control characters CodeMirror shows as placeholders: its default set
// without "\r", which lineendings.js draws itself. CodeMirror matches it
// with a MatchDecorator, which needs the g flag (without it the plugin
// crashes at the first document and shows nothing).
const specialChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u200b\u200e\u200f\u2028\u2029\u202d\u202e\u2066\u2067\u2069\ufeff\ufff9-\ufffc]/gu;

// Edits inserting fewer UTF-16 units than this are not measured against
// the server's limits (typing); the Collab still checks what it sends.
const SMALL_INSERT = 4096;

// ---- the others' cursors and selections

const setCursors = StateEffect.define();

class CursorWidget extends WidgetType {
  constructor(name, color, below) {
    super();
    this.name = name;
    this.color = color;
    this.below = below;
  }
  eq(o) {
    return o.name === this.name && o.color === this.color && o.below === this.below;
  }
  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'cm-remote-cursor';
    caret.style.borderLeftColor = this.color;
    const label = document.createElement('span');
    label.className = this.below ? 'cm-remote-label cm-remote-label-below' : 'cm-remote-label';
    label.style.backgroundColor = this.color;
    label.style.color = labelTextColor(this.color);
    label.textContent = this.name; // a name is text, never HTML
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

/** users: [{name, color, ranges: [{anchor, head}] in UTF-16 offsets}] */
function cursorDecorations(state, users) {
  const len = state.doc.length;
  const out = [];
  for (const u of users) {
    for (const r of u.ranges) {
      const head = Math.min(r.head, len);
      const anchor = Math.min(r.anchor, len);
      const from = Math.min(head, anchor);
      const to = Math.max(head, anchor);
      if (from < to) {
        out.push(Decoration.mark({ class: 'cm-remote-selection', attributes: { style: `background-color: ${u.color}40` } }).range(from, to));
      }
      const below = state.doc.lineAt(head).number === 1;
      out.push(Decoration.widget({ widget: new CursorWidget(u.name, u.color, below), side: 1 }).range(head));
    }
  }
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

function loadLanguage(desc) {
  if (!loading.has(desc.name)) loading.set(desc.name, desc.load());
  return loading.get(desc.name);
}

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
    this.langDesc = null;
    this.view = null;
    this.cursorTimer = null;
  }

  extensions() {
    const o = this.opts;
    return [
      lineEndings(),
      astralField,
      this.gutters.of(o.lineNumbers === false ? [] : [lineNumbers(), highlightActiveLineGutter(), foldGutter()]),
      highlightSpecialChars({ specialChars }),
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
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap, indentWithTab]),
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
    const state = EditorState.create({ doc: text, extensions: this.extensions() });
    if (this.view) this.view.setState(state);
    else this.view = new EditorView({ state, parent: this.opts.parent });
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
    this.langDesc = desc;
    if (!desc) {
      this.view.dispatch({ effects: this.lang.reconfigure([]) });
      return null;
    }
    await this.applyLanguage(desc);
    return desc.name;
  }

  async applyLanguage(desc) {
    let support;
    try {
      support = await loadLanguage(desc);
    } catch (e) {
      console.warn('loading the language', desc.name, e);
      return;
    }
    if (this.langDesc === desc) this.view.dispatch({ effects: this.lang.reconfigure(support) });
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
      name: u.name || 'Anonymous',
      color: /^#[0-9a-fA-F]{6}$/.test(u.color) ? u.color : '#888888',
      ranges: ranges.map((r) => ({ anchor: conv.get(r.anchor), head: conv.get(r.head) })),
    }));
    this.view.dispatch({ effects: setCursors.of(cursorDecorations(state, drawn)) });
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
