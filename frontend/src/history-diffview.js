// Draws the rows of a diff (history-udiff.js) in read-only CodeMirror
// views, so a diff of a long file scrolls as the editor does (only what is
// on screen is drawn) and is highlighted in the file's language:
//
//   unified      one view, each line once: removed lines on red, added
//                lines on green, the old and new line numbers in the gutter
//   side by side two views in one scroller, the old text left and the new
//                right, a changed run's shorter side padded with filler
//                lines, so lines that are equal face each other
//
// Within a replaced line the part that changed is marked. Long runs of
// unchanged lines are folded to a bar that unfolds them on a click (in
// both halves at once).
import { EditorState, StateField, StateEffect, Text } from '@codemirror/state';
import { EditorView, Decoration, WidgetType, gutter, GutterMarker } from '@codemirror/view';
import { sideBySide, foldRanges, changedSpan, replacedPairs } from './history-udiff.js';
import { el } from './ui.js';

class Num extends GutterMarker {
  constructor(text, cls) {
    super();
    this.text = text;
    this.elementClass = cls;
  }
  eq(o) {
    return o.text === this.text && o.elementClass === this.elementClass;
  }
  toDOM() {
    return document.createTextNode(this.text);
  }
}

const rowClass = { '-': 'hist-removed', '+': 'hist-added', ' ': '', gap: '' };

// A gutter of one number of each line's row (row[key]), or a sign.
function rowGutter(lineRows, cls, text) {
  let widest = '';
  for (const r of lineRows) {
    const t = r ? text(r) : '';
    if (t.length > widest.length) widest = t;
  }
  return gutter({
    class: cls,
    lineMarker(view, line) {
      const r = lineRows[view.state.doc.lineAt(line.from).number - 1];
      if (r === undefined) return null;
      if (r === null) return new Num('', 'hist-filler');
      return new Num(text(r), rowClass[r.kind]);
    },
    initialSpacer: () => new Num(widest || '0', ''),
  });
}

class Fold extends WidgetType {
  constructor(id, lines, unfold) {
    super();
    this.id = id;
    this.lines = lines;
    this.unfold = unfold; // null: not expandable (a gap the diff left out)
  }
  eq(o) {
    return o.id === this.id && o.lines === this.lines;
  }
  toDOM() {
    const n = this.lines;
    const what = n === 1 ? '1 unchanged line' : `${n} unchanged lines`;
    if (!this.unfold) return el('div', { class: 'hist-fold hist-gap', text: `⋯ ${what} not shown` });
    return el('div', { class: 'hist-fold', 'data-fold': this.id },
      el('button', { type: 'button', class: 'link', title: 'Show them', onclick: () => this.unfold(this.id), text: `⋯ Show ${what}` }));
  }
}

class NoEol extends WidgetType {
  eq() {
    return true;
  }
  toDOM() {
    return el('span', { class: 'hist-noeol', title: 'no line break at the end of the file', 'aria-label': 'no line break at the end of the file', text: '⊘' });
  }
}

const unfoldEffect = StateEffect.define();

// The folds of one view: block replacements of whole lines, dropped one by
// one as they are unfolded.
function foldField(doc, folds, gaps, unfold) {
  return StateField.define({
    create() {
      const ranges = [];
      for (const f of folds) {
        const widget = new Fold(f.id, f.to - f.from + 1, unfold);
        ranges.push(Decoration.replace({ widget, block: true, foldId: f.id }).range(doc.line(f.from + 1).from, doc.line(f.to + 1).to));
      }
      for (const g of gaps) {
        const widget = new Fold('gap' + g.line, g.lines, null);
        ranges.push(Decoration.replace({ widget, block: true }).range(doc.line(g.line + 1).from, doc.line(g.line + 1).to));
      }
      return Decoration.set(ranges, true);
    },
    update(deco, tr) {
      for (const e of tr.effects) if (e.is(unfoldEffect)) deco = deco.update({ filter: (_f, _t, d) => d.spec.foldId !== e.value });
      return deco;
    },
    provide: (f) => EditorView.decorations.from(f),
  });
}

// The line classes, the changed parts of replaced lines and the
// no-line-break markers of one view, whose line i shows lineRows[i].
function lineDecorations(doc, lineRows, pairs) {
  const ranges = [];
  lineRows.forEach((r, i) => {
    const line = doc.line(i + 1);
    if (r === null) ranges.push(Decoration.line({ class: 'hist-filler' }).range(line.from));
    else if (r.kind === '-' || r.kind === '+') ranges.push(Decoration.line({ class: rowClass[r.kind] }).range(line.from));
    if (r && r.noEol) ranges.push(Decoration.widget({ widget: new NoEol(), side: 1 }).range(line.to));
  });
  const lineOf = new Map(lineRows.map((r, i) => [r, i]));
  for (const [d, a] of pairs) {
    const span = changedSpan(d.text, a.text);
    if (!span) continue;
    for (const [r, [from, to], cls] of [[d, span.a, 'hist-removed-part'], [a, span.b, 'hist-added-part']]) {
      if (!lineOf.has(r) || to <= from) continue;
      const line = doc.line(lineOf.get(r) + 1);
      ranges.push(Decoration.mark({ class: cls }).range(line.from + from, line.from + to));
    }
  }
  return EditorView.decorations.of(Decoration.set(ranges, true));
}

// One read-only view of lineRows (null: a filler line).
function sideView(parent, lineRows, pairs, folds, gutters, extensions, unfold) {
  const doc = Text.of(lineRows.map((r) => (r === null || r.kind === 'gap' ? '' : r.text)));
  const gaps = [];
  lineRows.forEach((r, i) => r && r.kind === 'gap' && gaps.push({ line: i, lines: r.lines }));
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        extensions,
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        gutters,
        lineDecorations(doc, lineRows, pairs),
        foldField(doc, folds, gaps, unfold),
      ],
    }),
  });
}

const num = (k) => (r) => (r.kind === 'gap' || r[k] === undefined ? '' : String(r[k]));
const sign = (r) => (r.kind === '-' ? '−' : r.kind === '+' ? '+' : '');

/**
 * Draws rows into parent (emptied first) as layout 'unified' or 'split';
 * extensions are those of every view (language, theme, placeholders).
 * Returns {views, destroy()}.
 */
export function renderDiff(parent, rows, { layout, extensions, oldTitle, newTitle }) {
  parent.replaceChildren();
  const pairs = replacedPairs(rows).map(([d, a]) => [rows[d], rows[a]]);
  const views = [];
  const unfold = (id) => {
    for (const v of views) v.dispatch({ effects: unfoldEffect.of(id) });
  };
  const foldsOf = (lineRows) =>
    foldRanges(lineRows.length, (i) => (lineRows[i] && lineRows[i].kind === ' ' ? ' ' : 'x')).map((f) => ({ ...f, id: 'f' + f.from }));
  if (layout === 'split') {
    const { left, right } = sideBySide(rows);
    const folds = foldsOf(left); // the same rows are unchanged on both sides
    const box = el('div', { class: 'hist-split' });
    const heads = el('div', { class: 'hist-split-heads' }, el('div', { text: oldTitle }), el('div', { text: newTitle }));
    const scroller = el('div', { class: 'hist-split-body' });
    const l = el('div', { class: 'hist-side hist-side-old' });
    const r = el('div', { class: 'hist-side hist-side-new' });
    scroller.append(l, r);
    box.append(heads, scroller);
    parent.append(box);
    views.push(sideView(l, left, pairs, folds, [rowGutter(left, 'hist-num', num('old'))], extensions, unfold));
    views.push(sideView(r, right, pairs, folds, [rowGutter(right, 'hist-num', num('new'))], extensions, unfold));
  } else {
    const box = el('div', { class: 'hist-unified' });
    parent.append(box);
    const gutters = [rowGutter(rows, 'hist-num hist-num-old', num('old')), rowGutter(rows, 'hist-num', num('new')), rowGutter(rows, 'hist-sign', sign)];
    views.push(sideView(box, rows, pairs, foldsOf(rows), gutters, extensions, unfold));
  }
  return {
    views,
    destroy() {
      for (const v of views) v.destroy();
      parent.replaceChildren();
    },
  };
}
