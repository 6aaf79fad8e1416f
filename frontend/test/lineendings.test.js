import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditorState, EditorSelection } from '@codemirror/state';
import { lineEndings, lineBreakOf } from '../src/lineendings.js';
import { remoteEdit } from '../src/remote.js';
import { changesToOp } from '../src/editor.js';
import { astralField } from '../src/positions.js';

const stateOf = (doc, cursor = 0) =>
  EditorState.create({ doc, selection: EditorSelection.cursor(cursor), extensions: [lineEndings(), astralField] });

/** Runs a transaction spec; returns the new text, the cursor and the operation sent. */
function edit(doc, spec, cursor = 0) {
  const state = stateOf(doc, cursor);
  const tr = state.update(spec);
  return { text: tr.state.doc.toString(), head: tr.state.selection.main.head, op: changesToOp(tr.changes, state).toJSON() };
}

test('text is kept byte for byte: "\\r\\n", lone "\\r" and mixed endings', () => {
  for (const s of ['one\r\ntwo\r\n', 'a\rb\nc\r\nd', '\r\n\r\n', 'x\r', '\r']) {
    const state = stateOf(s);
    assert.equal(state.doc.toString(), s);
    assert.equal(state.doc.length, s.length); // positions agree with the server's
  }
  assert.equal(lineBreakOf(stateOf('a\r\nb\nc').doc), '\r\n');
  assert.equal(lineBreakOf(stateOf('a\nb\r\nc').doc), '\n');
  assert.equal(lineBreakOf(stateOf('abc').doc), '\n');
});

test('a typed line break takes the document style', () => {
  // Enter at the end of "one" in a CRLF document.
  const r = edit('one\r\ntwo', { changes: { from: 3, insert: '\n' }, selection: { anchor: 4 }, userEvent: 'input' }, 3);
  assert.equal(r.text, 'one\r\n\r\ntwo');
  assert.deepEqual(r.op, [3, '\r\n', 5]);
  assert.equal(r.head, 5); // after the new "\r\n"
  // In an LF document nothing changes.
  assert.equal(edit('one\ntwo', { changes: { from: 3, insert: '\n' }, userEvent: 'input' }).text, 'one\n\ntwo');
});

test('pasted text takes the document style', () => {
  assert.equal(edit('a\nb', { changes: { from: 1, insert: 'x\r\ny\rz' }, userEvent: 'input.paste' }).text, 'ax\ny\nz\nb');
  assert.equal(edit('a\r\nb', { changes: { from: 1, insert: 'x\ny' }, userEvent: 'input.paste' }).text, 'ax\r\ny\r\nb');
  // Undo and programmatic changes are not rewritten.
  assert.equal(edit('a\r\nb', { changes: { from: 1, insert: 'x\ny' }, userEvent: 'undo' }).text, 'ax\ny\r\nb');
});

test('a local edit never splits "\\r\\n"', () => {
  // Backspace at the start of line 2 deletes only the "\n": the "\r" goes too.
  let r = edit('ab\r\ncd', { changes: { from: 3, to: 4 }, userEvent: 'delete.backward' }, 4);
  assert.equal(r.text, 'abcd');
  assert.deepEqual(r.op, [2, -2, 2]);
  // Delete at the end of line 1 deletes only the "\r": the "\n" goes too.
  r = edit('ab\r\ncd', { changes: { from: 2, to: 3 }, userEvent: 'delete.forward' }, 2);
  assert.equal(r.text, 'abcd');
  assert.deepEqual(r.op, [2, -2, 2]);
  // An insert between the two goes before the "\r".
  r = edit('ab\r\ncd', { changes: { from: 3, insert: 'X' }, userEvent: 'input.type' });
  assert.equal(r.text, 'abX\r\ncd');
  // A cursor between them moves before the "\r".
  const state = stateOf('ab\r\ncd');
  assert.equal(state.update({ selection: { anchor: 3 } }).state.selection.main.head, 2);
});

test('remote edits are applied as they come', () => {
  const state = stateOf('ab\r\ncd');
  const tr = state.update({ changes: { from: 3, insert: 'X\n' }, annotations: remoteEdit.of(true) });
  assert.equal(tr.state.doc.toString(), 'ab\rX\n\ncd');
});

test('Enter at the end of a CRLF line keeps the "\\r" CodeMirror takes for whitespace', async () => {
  const { insertNewlineAndIndent } = await import('@codemirror/commands');
  let state = stateOf('two!\r\nthree', 4);
  let op;
  insertNewlineAndIndent({ state, dispatch: (tr) => ((op = changesToOp(tr.changes, tr.startState).toJSON()), (state = tr.state)) });
  assert.equal(state.doc.toString(), 'two!\r\n\r\nthree');
  assert.deepEqual(op, [4, '\r\n', 7]); // an insert, nothing deleted and put back
  assert.equal(state.selection.main.head, 6); // on the new, empty line
  state = stateOf('a  \r\nb', 1);
  insertNewlineAndIndent({ state, dispatch: (tr) => (state = tr.state) });
  assert.equal(state.doc.toString(), 'a\r\n\r\nb'); // trailing spaces go, the "\r" stays
});
