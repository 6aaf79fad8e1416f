import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextOperation, cpLength, cpOffset } from '../src/ot.js';
import { seeded, randomText, randomOp } from './rand.js';

test('code points', () => {
  assert.equal(cpLength(''), 0);
  assert.equal(cpLength('a😀é'), 3);
  assert.equal(cpLength('e\u0301'), 2);
  assert.equal(cpLength('\r\n'), 2);
  assert.equal(cpLength('\ud83d'), 1); // a lone surrogate
  assert.equal(cpOffset('a😀é', 2), 3);
  assert.equal(cpOffset('a😀é', 9), 4);
  assert.equal(cpOffset('a😀é', 1, 1), 3);
});

test('the protocol examples', () => {
  assert.equal(TextOperation.fromJSON([5, ',', 6, '!']).apply('hello world'), 'hello, world!');
  assert.equal(TextOperation.fromJSON(['j', -1, 4]).apply('hello'), 'jello');
  assert.equal(TextOperation.fromJSON([1, '😀', -1, 1]).apply('a日b'), 'a😀b');
  for (const bad of [[0], [1.5], [''], [[1]], {}, [null]]) assert.throws(() => TextOperation.fromJSON(bad));
});

test('operations are normal: neighbours merge, an insert goes before a delete', () => {
  const op = new TextOperation().retain(2).retain(3).delete(1).insert('x').delete(2).insert('y');
  assert.deepEqual(op.toJSON(), [5, 'xy', -3]);
  assert.equal(op.baseLength, 8);
  assert.equal(op.targetLength, 7);
});

test('laws: apply, compose, transform, transformIndex', () => {
  const r = seeded('ot laws');
  for (let i = 0; i < 4000; i++) {
    const s = randomText(r, 12);
    const a = randomOp(r, s);
    const b = randomOp(r, s);
    const ctx = () => `${r.label}: ${JSON.stringify({ s, a: a.ops, b: b.ops })}`;
    const sa = a.apply(s);
    assert.equal(cpLength(sa), a.targetLength, ctx());
    // transform converges
    const [ap, bp] = TextOperation.transform(a, b);
    assert.equal(bp.apply(sa), ap.apply(b.apply(s)), ctx());
    // compose agrees with applying one after the other
    const c = randomOp(r, sa);
    assert.equal(a.compose(c).apply(s), c.apply(sa), ctx());
    // JSON round trip
    assert.deepEqual(TextOperation.fromJSON(JSON.parse(JSON.stringify(a))).ops, a.ops, ctx());
    // a retained code point keeps its character under transformIndex
    const n = cpLength(s);
    if (n > 0) {
      const pos = r.int(n);
      const chars = [...s];
      const moved = a.transformIndex(pos);
      assert.ok(moved >= 0 && moved <= a.targetLength, ctx());
      const survives = survivesAt(a, pos);
      if (survives) assert.equal([...sa][moved], chars[pos], ctx() + ` pos ${pos}`);
    }
  }
});

// Whether the code point at pos is retained by op (not deleted).
function survivesAt(op, pos) {
  let at = 0;
  for (const c of op.ops) {
    if (typeof c === 'string') continue;
    const n = Math.abs(c);
    if (pos < at + n) return c > 0;
    at += n;
  }
  return false;
}
