import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditorState } from '@codemirror/state';
import { Walker, astralField, toCp, toUtf16, cpDocLength, manyToCp, manyToUtf16 } from '../src/positions.js';
import { changesToOp, opToChanges } from '../src/editor.js';
import { lineEndings } from '../src/lineendings.js';
import { remoteEdit } from '../src/remote.js';
import { TextOperation, cpLength } from '../src/ot.js';
import { seeded, randomText, randomOp } from './rand.js';

const stateOf = (doc) => EditorState.create({ doc, extensions: [lineEndings(), astralField] });

// The naive conversions, to check the walker against.
const naiveCp = (s, u) => cpLength(s.slice(0, u));
function naiveUtf16(s, cp) {
  let u = 0;
  for (const ch of s) {
    if (cp-- <= 0) break;
    u += ch.length;
  }
  return u;
}

test('a Walker converts like the naive count', () => {
  const r = seeded('walker');
  for (let i = 0; i < 500; i++) {
    const s = randomText(r, 30);
    const state = stateOf(s);
    assert.equal(state.doc.toString(), s, r.label);
    const units = [];
    for (let u = 0; u <= s.length; u++) {
      // only offsets between code points
      if (u > 0 && u < s.length && /[\ud800-\udbff]/.test(s[u - 1]) && /[\udc00-\udfff]/.test(s[u])) continue;
      units.push(u);
    }
    const w = new Walker(state.doc);
    for (const u of units) assert.equal(w.toCp(u), naiveCp(s, u), `${r.label} ${JSON.stringify(s)} at ${u}`);
    const n = cpLength(s);
    const w2 = new Walker(state.doc);
    for (let cp = 0; cp <= n + 1; cp++) assert.equal(w2.toUtf16(cp), naiveUtf16(s, cp), `${r.label} ${JSON.stringify(s)} cp ${cp}`);
    assert.equal(cpDocLength(state), n);
    const some = units.filter(() => r.int(3) === 0);
    const m = manyToCp(state, some);
    for (const u of some) assert.equal(m.get(u), naiveCp(s, u));
    const back = manyToUtf16(state, [...m.values()]);
    for (const u of some) assert.equal(back.get(m.get(u)), u);
    if (units.length) {
      const u = r.pick(units);
      assert.equal(toUtf16(state, toCp(state, u)), u);
    }
  }
});

test('emoji and CJK: UTF-16 offsets and code points', () => {
  const state = stateOf('a😀b日本\r\n👍🏽c');
  assert.equal(state.field(astralField), true);
  assert.equal(toCp(state, 3), 2); // after "a😀"
  assert.equal(toUtf16(state, 2), 3);
  assert.equal(toCp(state, 6), 5); // after "日本"
  assert.equal(toCp(state, 8), 7); // "\r\n" is two
  assert.equal(cpDocLength(state), 10);
  assert.equal(stateOf('plain').field(astralField), false);
  // the field turns true when an astral character arrives
  const later = stateOf('plain').update({ changes: { from: 5, insert: '🎉' } }).state;
  assert.equal(later.field(astralField), true);
});

test('CodeMirror changes and operations convert both ways', () => {
  const r = seeded('changes');
  for (let i = 0; i < 1500; i++) {
    const s = randomText(r, 15);
    const state = stateOf(s);
    const op = randomOp(r, s);
    const ctx = `${r.label}: ${JSON.stringify({ s, op: op.ops })}`;
    // op -> CodeMirror changes -> the same text
    const tr = state.update({ changes: opToChanges(op, state), annotations: remoteEdit.of(true) });
    assert.equal(tr.state.doc.toString(), op.apply(s), ctx);
    // CodeMirror changes -> op -> the same text
    const back = changesToOp(tr.changes, state);
    assert.equal(back.apply(s), op.apply(s), ctx);
    assert.ok(back instanceof TextOperation);
  }
});
