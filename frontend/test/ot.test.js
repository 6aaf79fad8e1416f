import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextOperation, cpLength, cpToUtf16 } from '../src/ot.js';

const alphabet = ['a', 'b', ' ', '\n', '\r\n', 'é', '日', '😀', '👍🏽'];
function rnd(n) {
  return Math.floor(Math.random() * n);
}
function text(max) {
  let s = '';
  for (let n = rnd(max); n > 0; n--) s += alphabet[rnd(alphabet.length)];
  return s;
}
function randomOp(s) {
  const op = new TextOperation();
  let n = cpLength(s);
  while (n > 0) {
    const k = 1 + rnd(Math.min(n, 5));
    const r = rnd(4);
    if (r < 2) {
      op.retain(k);
      n -= k;
    } else if (r === 2) op.insert(text(4));
    else {
      op.delete(k);
      n -= k;
    }
  }
  if (rnd(2)) op.insert(text(3));
  return op;
}

test('code points', () => {
  assert.equal(cpLength('a😀é'), 3);
  assert.equal(cpToUtf16('a😀é', 2), 3);
});

test('transform converges; compose agrees; transformIndex moves positions', () => {
  for (let i = 0; i < 3000; i++) {
    const s = text(20);
    const a = randomOp(s);
    const b = randomOp(s);
    const [ap, bp] = TextOperation.transform(a, b);
    assert.equal(bp.apply(a.apply(s)), ap.apply(b.apply(s)), JSON.stringify({ s, a, b }));
    const b2 = randomOp(a.apply(s));
    assert.equal(a.compose(b2).apply(s), b2.apply(a.apply(s)));
    const json = TextOperation.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    assert.deepEqual(json.ops, a.ops);
  }
});
