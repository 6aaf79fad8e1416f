// Line endings kept byte for byte. CodeMirror normally splits text on any
// of "\n", "\r\n" and "\r" and joins it again with "\n", which would
// rewrite every line ending of a Windows file on the first edit. Here the
// line separator is "\n" alone, so a "\r" stays an ordinary character of
// its line: positions agree with the server's (a "\r\n" is two), and text
// nobody edited is never touched, whatever mix of endings it has.
//
// What the user sees and does is made to match:
//   - a "\r" before a line break is hidden, and the cursor never stops
//     between it and the "\n": a cursor that lands there (a click past the
//     end of a line, Up, Down, End, a DOM selection CodeMirror reads back)
//     moves before the "\r", and Right at the end of a line steps over the
//     pair. (Not an atomic range over the pair: CodeMirror resolves a
//     position in the middle of one to its end, so clicking past the end
//     of a line would put the cursor on the next.)
//   - a lone "\r" is shown as a visible control character;
//   - typed, pasted and dropped line breaks take the document's style (that
//     of its first line break; "\n" when it has none);
//   - a local edit never splits a "\r\n": an insert between the two goes
//     before the "\r"; Backspace or Delete of either takes both; typing
//     never deletes the "\r" alone.
// Remote changes are applied as they come.
import { ChangeSet, EditorState, EditorSelection, Prec, RangeSetBuilder, StateEffect } from '@codemirror/state';
import { Decoration, ViewPlugin, WidgetType, keymap } from '@codemirror/view';
import { isRemote } from './remote.js';

/** The document's line break: that of its first line. */
export function lineBreakOf(doc) {
  if (doc.lines < 2) return '\n';
  return doc.line(1).text.endsWith('\r') ? '\r\n' : '\n';
}

/** Whether pos sits between a "\r" and a "\n" of doc. */
export function splitsCRLF(doc, pos) {
  return pos > 0 && pos < doc.length && doc.sliceString(pos - 1, pos + 1) === '\r\n';
}

class ControlCR extends WidgetType {
  eq() {
    return true;
  }
  toDOM() {
    const s = document.createElement('span');
    s.className = 'cm-lone-cr';
    s.textContent = '␍';
    s.title = 'carriage return';
    return s;
  }
}

const hiddenCR = Decoration.replace({});
const shownCR = Decoration.replace({ widget: new ControlCR() });

// Builds the decorations of the "\r"s of the visible lines.
function scan(view) {
  const deco = new RangeSetBuilder();
  const doc = view.state.doc;
  let next = 0; // visible ranges can share a line: scan each line once
  for (const { from, to } of view.visibleRanges) {
    for (let pos = Math.max(from, next); pos <= to; ) {
      const line = doc.lineAt(pos);
      let i = line.text.indexOf('\r');
      while (i >= 0) {
        const at = line.from + i;
        if (i === line.text.length - 1 && line.to < doc.length) {
          deco.add(at, at + 1, hiddenCR);
        } else {
          deco.add(at, at + 1, shownCR);
        }
        i = line.text.indexOf('\r', i + 1);
      }
      pos = next = line.to + 1;
    }
  }
  return deco.finish();
}

const crPlugin = ViewPlugin.fromClass(
  class {
    constructor(view) {
      this.deco = scan(view);
    }
    update(u) {
      if (u.docChanged || u.viewportChanged) this.deco = scan(u.view);
    }
  },
  { decorations: (p) => p.deco },
);

// Right (by character or by word, extending or not) at the end of a line
// that ends in "\r\n" goes to the start of the next line. Elsewhere, or
// with several cursors, the usual commands run.
function stepOverPair(extend) {
  return (view) => {
    const { state } = view;
    if (state.selection.ranges.length !== 1) return false;
    const r = state.selection.main;
    if (!extend && !r.empty) return false;
    if (state.doc.sliceString(r.head, r.head + 2) !== '\r\n') return false;
    const head = r.head + 2;
    view.dispatch({
      selection: extend ? EditorSelection.range(r.anchor, head) : EditorSelection.cursor(head),
      scrollIntoView: true,
      userEvent: 'select',
    });
    return true;
  };
}

const pairKeys = keymap.of([
  { key: 'ArrowRight', run: stepOverPair(false), shift: stepOverPair(true) },
  { key: 'Ctrl-ArrowRight', run: stepOverPair(false), shift: stepOverPair(true) },
  { key: 'Alt-ArrowRight', run: stepOverPair(false), shift: stepOverPair(true) },
]);

// Fixes a local transaction. Its changes are rebuilt from the original
// ones with adjusted ends and inserted text, so the operation sent is as
// small as the edit (typing Enter is an insert of "\r\n", Backspace at the
// start of a line a deletion of "\r\n"). The same fixes, written as a
// change set on the transaction's result (fix), carry its selection over.
//
// Where an edit ends between "\r" and "\n": Delete, Backspace and the
// like meant the line break, so the "\n" goes too; typing keeps the "\r"
// (CodeMirror's Enter removes the whitespace after the cursor up to the
// end of the line, and "\r" is whitespace to it).
const keepPairs = EditorState.transactionFilter.of((tr) => {
  if (isRemote(tr) || (!tr.docChanged && !tr.selection)) return tr;
  const old = tr.startState.doc;
  const specs = [];
  const fixes = [];
  if (tr.docChanged) {
    const style = lineBreakOf(old);
    const typed = tr.isUserEvent('input');
    tr.changes.iterChanges((fromA, toA, fromB, toB, inserted) => {
      let from = fromA;
      let to = toA;
      if (splitsCRLF(old, fromA) && fromA === toA) {
        // An insert between "\r" and "\n" goes before the "\r".
        from = to = fromA - 1;
        fixes.push({ from: fromB - 1, to: fromB }, { from: toB, insert: '\r' });
      } else if (splitsCRLF(old, fromA)) {
        from = fromA - 1; // the "\n" goes: so does its "\r"
        fixes.push({ from: fromB - 1, to: fromB });
      }
      if (toA > fromA && splitsCRLF(old, toA)) {
        if (typed) {
          to = toA - 1; // keep the "\r"
          fixes.push({ from: toB, insert: '\r' });
        } else {
          to = toA + 1; // the "\r" goes: so does its "\n"
          fixes.push({ from: toB, to: toB + 1 });
        }
      }
      let text = inserted.toString();
      if (typed && /[\r\n]/.test(text)) {
        for (const m of text.matchAll(/\r\n|\r|\n/g)) {
          if (m[0] === style) continue;
          const at = fromB + m.index;
          if (m[0] === '\n') fixes.push({ from: at, insert: '\r' });
          else if (m[0] === '\r\n') fixes.push({ from: at, to: at + 1 });
          else fixes.push({ from: at, to: at + 1, insert: style });
        }
        text = text.replace(/\r\n|\r|\n/g, style);
      }
      specs.push({ from, to: Math.max(from, to), insert: text });
    });
  }
  const fix = fixes.length ? ChangeSet.of(fixes, tr.newDoc.length, '\n') : null;
  const changes = fix ? tr.startState.changes(specs) : tr.changes;
  const doc = fix ? changes.apply(old) : tr.newDoc;
  let sel = fix ? tr.newSelection.map(fix) : tr.newSelection;
  const out = (p) => (splitsCRLF(doc, p) ? p - 1 : p);
  const moved = sel.ranges.some((r) => out(r.anchor) !== r.anchor || out(r.head) !== r.head);
  if (!fix && !moved) return tr;
  if (moved) sel = EditorSelection.create(sel.ranges.map((r) => EditorSelection.range(out(r.anchor), out(r.head))), sel.mainIndex);
  if (!fix) return [tr, { selection: sel, sequential: true }];
  return {
    changes,
    selection: sel,
    effects: StateEffect.mapEffects(tr.effects, fix),
    annotations: tr.annotations,
    scrollIntoView: tr.scrollIntoView,
  };
});

/** The extension: "\n" as the only line separator, the display, the keys and the filter. */
export function lineEndings() {
  return [EditorState.lineSeparator.of('\n'), Prec.high(crPlugin), Prec.high(pairKeys), keepPairs];
}
