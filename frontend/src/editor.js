// CodeMirror 6 bound to a Collab connection: local changes become
// operations in code points, remote operations become CodeMirror changes
// that stay out of the undo history, and remote selections are drawn with
// their user's name and colour.
import { EditorState, EditorSelection, Compartment, StateField, StateEffect, Annotation, Transaction } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars, Decoration, WidgetType, MatchDecorator, ViewPlugin, dropCursor, rectangularSelection,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput, LanguageDescription } from '@codemirror/language';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { oneDark } from '@codemirror/theme-one-dark';
import { languages } from '@codemirror/language-data';
import { TextOperation, cpLength } from './ot.js';

const remote = Annotation.define();

// ---- positions: CodeMirror counts UTF-16 units, the protocol code points.

/** Counts code points in doc before UTF-16 offset pos. */
export function toCp(doc, pos, astral) {
  if (!astral) return pos;
  return cpLength(doc.sliceString(0, pos));
}

/** UTF-16 offset of code point cp in doc. */
export function toUtf16(doc, cp, astral) {
  if (!astral) return Math.min(cp, doc.length);
  let n = 0;
  let i = 0;
  const iter = doc.iter();
  while (!iter.next().done) {
    const s = iter.value;
    for (let k = 0; k < s.length; k++) {
      if (n === cp) return i;
      const c = s.charCodeAt(k);
      if (c >= 0xd800 && c <= 0xdbff && k + 1 < s.length) {
        k++;
        i++;
      }
      i++;
      n++;
    }
  }
  return i;
}

const hasAstral = (s) => /[\ud800-\udbff][\udc00-\udfff]/.test(s);

// ---- remote cursors

const setCursors = StateEffect.define();

class CursorWidget extends WidgetType {
  constructor(name, color) {
    super();
    this.name = name;
    this.color = color;
  }
  eq(o) {
    return o.name === this.name && o.color === this.color;
  }
  toDOM() {
    const el = document.createElement('span');
    el.className = 'cm-remote-cursor';
    el.style.borderLeftColor = this.color;
    const label = document.createElement('span');
    label.className = 'cm-remote-label';
    label.style.backgroundColor = this.color;
    label.textContent = this.name; // text, never HTML
    el.appendChild(label);
    return el;
  }
  ignoreEvent() {
    return true;
  }
}

const cursorField = StateField.define({
  create: () => Decoration.none,
  update(decos, tr) {
    decos = decos.map(tr.changes);
    for (const e of tr.effects) if (e.is(setCursors)) decos = e.value;
    return decos;
  },
  provide: (f) => EditorView.decorations.from(f),
});

function cursorDecorations(users, len) {
  const ranges = [];
  for (const u of users) {
    for (const r of u.ranges) {
      const from = Math.min(r.anchor, r.head, len);
      const to = Math.min(Math.max(r.anchor, r.head), len);
      if (from < to) {
        ranges.push(Decoration.mark({ attributes: { style: `background-color: ${u.color}33` } }).range(from, to));
      }
      ranges.push(Decoration.widget({ widget: new CursorWidget(u.name || 'Anonymous', u.color || '#888'), side: 1 }).range(Math.min(r.head, len)));
    }
  }
  return Decoration.set(ranges, true);
}

// ---- CRLF: keep \r\n byte-identical. Lines split on \n only; a \r before
// \n is hidden, and in a CRLF document a typed newline becomes \r\n.

const hideCR = ViewPlugin.fromClass(
  class {
    constructor(view) {
      this.deco = hideCRMatcher.createDeco(view);
    }
    update(u) {
      this.deco = hideCRMatcher.updateDeco(u, this.deco);
    }
  },
  { decorations: (v) => v.deco },
);
const hideCRMatcher = new MatchDecorator({ regexp: /\r(?=\n|$)/g, decoration: () => Decoration.replace({}) });

function isCRLF(doc, pos) {
  return pos > 0 && pos < doc.length && doc.sliceString(pos - 1, pos + 1) === '\r\n';
}

// In a CRLF document: typed and pasted newlines become \r\n, an edit never
// splits a \r\n (a deletion that would takes both characters, an insert
// goes before the \r), and the cursor never rests between \r and \n.
function crlfInput(enabled) {
  return EditorState.transactionFilter.of((tr) => {
    if (!enabled() || tr.annotation(remote)) return tr;
    const user = tr.isUserEvent('input') || tr.isUserEvent('paste') || tr.isUserEvent('delete') || tr.isUserEvent('move') || tr.isUserEvent('select');
    if (!user) return tr;
    if (tr.docChanged) {
      const old = tr.startState.doc;
      let changed = false;
      const specs = [];
      tr.changes.iterChanges((fromA, toA, _fromB, _toB, text) => {
        let from = fromA;
        let to = toA;
        if (isCRLF(old, from)) {
          from--;
          if (to === fromA) to--; // an insert moves before the \r
          changed = true;
        }
        if (to > from && isCRLF(old, to)) {
          to++;
          changed = true;
        }
        const s = text.toString();
        const fixed = s.replace(/\r?\n/g, '\r\n');
        if (fixed !== s) changed = true;
        specs.push({ from, to, insert: fixed });
      });
      if (changed) {
        const cs = tr.startState.changes(specs);
        return [{ changes: cs, selection: tr.startState.selection.map(cs, 1), scrollIntoView: tr.scrollIntoView, userEvent: tr.annotation(Transaction.userEvent) }];
      }
    }
    const sel = tr.newSelection;
    const doc = tr.newDoc;
    if (sel.ranges.some((r) => isCRLF(doc, r.head) || isCRLF(doc, r.anchor))) {
      const fix = (p) => (isCRLF(doc, p) ? p - 1 : p);
      const ranges = sel.ranges.map((r) => EditorSelection.range(fix(r.anchor), fix(r.head)));
      return [tr, { selection: EditorSelection.create(ranges, sel.mainIndex), sequential: true }];
    }
    return tr;
  });
}

const specialChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u200b\u200e\u200f\u2028\u2029\u202d\u202e\u2066\u2067\u2069\ufeff\ufff9-\ufffc]/;

// ---- the editor

export class CollabEditor {
  /** opts: {parent, collab, readOnly, theme, lineNumbers, onChange, onSelection} */
  constructor(opts) {
    this.collab = opts.collab;
    this.opts = opts;
    this.astral = false;
    this.crlf = false;
    this.lang = new Compartment();
    this.theme = new Compartment();
    this.ro = new Compartment();
    this.gutters = new Compartment();
    this.view = null;
    this.cursorTimer = null;
  }

  /** Loads the text of the joined document. */
  load(text) {
    this.astral = hasAstral(text);
    this.crlf = text.includes('\r\n');
    const self = this;
    const state = EditorState.create({
      doc: text,
      extensions: [
        EditorState.lineSeparator.of('\n'),
        this.gutters.of(this.opts.lineNumbers === false ? [] : [lineNumbers(), highlightActiveLineGutter()]),
        highlightSpecialChars({ specialChars }),
        hideCR,
        history(),
        drawSelection(),
        dropCursor(),
        rectangularSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, indentWithTab]),
        crlfInput(() => self.crlf),
        cursorField,
        this.lang.of([]),
        this.theme.of(this.opts.theme === 'dark' ? oneDark : []),
        this.ro.of([EditorState.readOnly.of(!!this.opts.readOnly), EditorView.editable.of(!this.opts.readOnly)]),
        EditorView.updateListener.of((u) => this.onUpdate(u)),
      ],
    });
    if (this.view) this.view.setState(state);
    else this.view = new EditorView({ state, parent: this.opts.parent });
  }

  setReadOnly(ro) {
    this.view.dispatch({ effects: this.ro.reconfigure([EditorState.readOnly.of(ro), EditorView.editable.of(!ro)]) });
  }

  setTheme(theme) {
    this.view.dispatch({ effects: this.theme.reconfigure(theme === 'dark' ? oneDark : []) });
  }

  /** Picks syntax highlighting from a file name (or a language name), loading it lazily. */
  async setLanguage(fileName, langName) {
    let desc = LanguageDescription.matchFilename(languages, fileName || '');
    if (langName) desc = LanguageDescription.matchLanguageName(languages, langName, true) || desc;
    if (!desc) return;
    const support = await desc.load();
    this.view.dispatch({ effects: this.lang.reconfigure(support) });
  }

  onUpdate(u) {
    if (u.docChanged && !u.transactions.some((t) => t.annotation(remote))) {
      const before = u.startState.doc;
      for (const tr of u.transactions) {
        if (!tr.docChanged || tr.annotation(remote)) continue;
        this.collab.applyLocal(this.toOp(tr.changes, tr.startState.doc));
      }
      void before;
      if (this.opts.onChange) this.opts.onChange();
    }
    if (u.docChanged || u.selectionSet) this.scheduleCursor();
  }

  /** A CodeMirror change set as an operation in code points. */
  toOp(changes, doc) {
    let inserted = false;
    changes.iterChanges((_a, _b, _c, _d, text) => {
      if (!inserted && hasAstral(text.toString())) inserted = true;
    });
    const astral = this.astral;
    const op = new TextOperation();
    let pos = 0; // code points of doc consumed
    changes.iterChanges((fromA, toA, _fromB, _toB, text) => {
      const from = toCp(doc, fromA, astral);
      const to = toCp(doc, toA, astral);
      op.retain(from - pos);
      op.insert(text.toString());
      op.delete(to - from);
      pos = to;
    });
    op.retain(toCp(doc, doc.length, astral) - pos);
    if (inserted) this.astral = true;
    return op;
  }

  /** Applies a remote operation (code points, on the local text). */
  applyRemote(op) {
    const doc = this.view.state.doc;
    const astral = this.astral;
    const changes = [];
    let cp = 0;
    let at = 0;
    for (const c of op.ops) {
      if (typeof c === 'string') {
        changes.push({ from: at, insert: c });
        if (hasAstral(c)) this.astral = true;
      } else if (c > 0) {
        cp += c;
        at = toUtf16(doc, cp, astral);
      } else {
        const end = toUtf16(doc, cp - c, astral);
        changes.push({ from: at, to: end });
        cp -= c;
        at = end;
      }
    }
    this.view.dispatch({ changes, annotations: [remote.of(true), Transaction.addToHistory.of(false)] });
    this.drawCursors();
  }

  /** Replaces the whole text (after a resync). */
  reset(text) {
    this.astral = hasAstral(text);
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
    });
  }

  drawCursors() {
    if (!this.view) return;
    const doc = this.view.state.doc;
    const users = [];
    for (const u of this.collab.users.values()) {
      const ranges = this.collab.localRanges(u).map((r) => ({
        anchor: toUtf16(doc, r.anchor, this.astral),
        head: toUtf16(doc, r.head, this.astral),
      }));
      users.push({ name: u.name, color: u.color, ranges });
    }
    this.view.dispatch({ effects: setCursors.of(cursorDecorations(users, doc.length)) });
  }

  scheduleCursor() {
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null;
      this.sendCursor();
    }, 50);
  }

  sendCursor() {
    if (!this.view || this.collab.readOnly) return;
    const { doc, selection } = this.view.state;
    const ranges = selection.ranges.map((r) => ({ anchor: toCp(doc, r.anchor, this.astral), head: toCp(doc, r.head, this.astral) }));
    this.collab.sendCursor(ranges);
  }

  text() {
    return this.view.state.doc.toString();
  }

  scrollToLine(n) {
    const doc = this.view.state.doc;
    const line = doc.line(Math.max(1, Math.min(n, doc.lines)));
    this.view.dispatch({ selection: { anchor: line.from }, effects: EditorView.scrollIntoView(line.from, { y: 'start' }) });
  }
}
