// Reads JSON cases (one per line) on stdin and answers, per case, what
// ot.js's TextOperation computes: apply, compose and transform.
'use strict';
const TextOperation = require('ot').TextOperation;
const readline = require('readline');

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line);
  const a = TextOperation.fromJSON(c.a);
  const b = TextOperation.fromJSON(c.b);
  const out = { applyA: a.apply(c.s) };
  const [ap, bp] = TextOperation.transform(a, b);
  out.aPrime = ap.toJSON();
  out.bPrime = bp.toJSON();
  const b2 = TextOperation.fromJSON(c.b2); // made on apply(s, a)
  out.compose = a.compose(b2).toJSON();
  process.stdout.write(JSON.stringify(out) + '\n');
});
