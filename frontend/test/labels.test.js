// The names on the others' cursors never cover each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelWidth, placeLabels } from '../src/labels.js';
import { seeded } from './rand.js';

// The band (line) and columns each shown label covers.
const covers = (items, places) => items.map((it, i) => ({
  shown: it.shown,
  band: it.line + (places[i].side === 'above' ? -1 - places[i].row : 1 + places[i].row),
  from: it.col,
  to: it.col + it.width,
}));

test('a name goes above its line, below on the first', () => {
  assert.deepEqual(placeLabels([{ line: 5, col: 3, width: 6, shown: true }]), [{ side: 'above', row: 0 }]);
  assert.deepEqual(placeLabels([{ line: 1, col: 3, width: 6, shown: true }]), [{ side: 'below', row: 0 }]);
});

test('two names at one place take two places; names that do not show reserve none', () => {
  const items = [{ line: 5, col: 3, width: 6, shown: true }, { line: 5, col: 5, width: 6, shown: true }];
  assert.deepEqual(placeLabels(items), [{ side: 'above', row: 0 }, { side: 'below', row: 0 }]);
  items[0].shown = false;
  assert.deepEqual(placeLabels(items), [{ side: 'above', row: 0 }, { side: 'above', row: 0 }]);
  // Far apart on one line: both above.
  assert.deepEqual(placeLabels([{ line: 5, col: 0, width: 6, shown: true }, { line: 5, col: 30, width: 6, shown: true }]),
    [{ side: 'above', row: 0 }, { side: 'above', row: 0 }]);
  // Below line 4 and above line 6 cover the same line 5.
  const p = placeLabels([{ line: 4, col: 0, width: 8, shown: true }, { line: 4, col: 2, width: 8, shown: true }, { line: 6, col: 4, width: 8, shown: true }]);
  assert.deepEqual(p[2], { side: 'below', row: 0 });
});

test('shown names never overlap (random carets)', () => {
  const r = seeded('labels');
  for (let round = 0; round < 300; round++) {
    const items = Array.from({ length: 1 + r.int(12) }, () => ({ line: 1 + r.int(4), col: r.int(30), width: labelWidth('x'.repeat(1 + r.int(24))), shown: r.int(4) > 0 }));
    const c = covers(items, placeLabels(items)).filter((x) => x.shown);
    for (const a of c) assert.ok(a.band >= 1, `${r.label}: a name above the first line`);
    for (let i = 0; i < c.length; i++) {
      for (let j = i + 1; j < c.length; j++) {
        const [a, b] = [c[i], c[j]];
        assert.ok(a.band !== b.band || a.to <= b.from || b.to <= a.from, `${r.label} round ${round}: ${JSON.stringify(items)}`);
      }
    }
  }
});
