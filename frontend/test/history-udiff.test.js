import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnified, counts, sideBySide, foldRanges, changedSpan, replacedPairs } from '../src/history-udiff.js';
import { seeded } from './rand.js';

// Diffs as the server writes them (docs.UnifiedContext).
test('parseUnified reads the server diffs', () => {
  const whole = '--- a/x@1\n+++ b/x@2\n@@ -1,3 +1,4 @@\n a\n-b\n-c\n\\ No newline at end of file\n+B\n+c\n+d\n';
  assert.deepEqual(parseUnified(whole), [
    { kind: ' ', text: 'a', old: 1, new: 1 },
    { kind: '-', text: 'b', old: 2 },
    { kind: '-', text: 'c', old: 3, noEol: true },
    { kind: '+', text: 'B', new: 2 },
    { kind: '+', text: 'c', new: 3 },
    { kind: '+', text: 'd', new: 4 },
  ]);
  assert.deepEqual(parseUnified('--- a/x@0\n+++ b/x@1\n@@ -0,0 +1 @@\n+x\n'), [{ kind: '+', text: 'x', new: 1 }]);
  assert.deepEqual(parseUnified('--- a/x@1\n+++ b/x@2\n@@ -1,2 +0,0 @@\n-x\n-y\n'), [
    { kind: '-', text: 'x', old: 1 },
    { kind: '-', text: 'y', old: 2 },
  ]);
  const hunks = '--- a/x@1\n+++ b/x@2\n@@ -1,3 +1,3 @@\n 1\n-2\n+2x\n 3\n@@ -10,3 +10,3 @@\n 10\n-11\n+11x\n 12\n';
  const rows = parseUnified(hunks);
  assert.deepEqual(rows[4], { kind: 'gap', lines: 6 });
  assert.deepEqual(rows[5], { kind: ' ', text: '10', old: 10, new: 10 });
  assert.deepEqual(counts(rows), { added: 2, removed: 2 });
  assert.deepEqual(parseUnified(''), []);
  // CRLF lines lose their "\r"; lines that look like headers are lines.
  assert.deepEqual(parseUnified('--- a\n+++ b\n@@ -1,2 +1,2 @@\n--- x\r\n+++ y\r\n @@ z\n'), [
    { kind: '-', text: '-- x', old: 1 },
    { kind: '+', text: '++ y', new: 1 },
    { kind: ' ', text: '@@ z', old: 2, new: 2 },
  ]);
  assert.throws(() => parseUnified('--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n'), /ends early/);
});

// writeUnified is diff -u over rows: hunks with context lines of context.
function writeUnified(rows, context) {
  const out = ['--- a/f', '+++ b/f'];
  const changed = rows.map((r) => r.kind !== ' ');
  let i = 0;
  let oldAt = 1;
  let newAt = 1;
  const lineAt = []; // [old, new] line numbers before row i
  for (const r of rows) {
    lineAt.push([oldAt, newAt]);
    if (r.kind !== '+') oldAt++;
    if (r.kind !== '-') newAt++;
  }
  lineAt.push([oldAt, newAt]);
  while (i < rows.length) {
    if (!changed[i]) {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i; // last changed row of the hunk
    for (let j = i + 1; j < rows.length && j <= end + 2 * context; j++) if (changed[j]) end = j;
    const stop = Math.min(rows.length, end + context + 1);
    const hunk = rows.slice(start, stop);
    const nOld = hunk.filter((r) => r.kind !== '+').length;
    const nNew = hunk.filter((r) => r.kind !== '-').length;
    const at = (n, first) => (n === 0 ? `${first - 1},0` : n === 1 ? `${first}` : `${first},${n}`);
    out.push(`@@ -${at(nOld, lineAt[start][0])} +${at(nNew, lineAt[start][1])} @@`);
    for (const r of hunk) {
      out.push(r.kind + r.text);
      if (r.noEol) out.push('\\ No newline at end of file');
    }
    i = stop;
  }
  return out.join('\n') + '\n';
}

function randomRows(r) {
  const texts = ['a', '', '-- x', '++ y', '@@ z', '\\ w', ' lead', 'tab\there', '日本😀'];
  const rows = [];
  let oldAt = 1;
  let newAt = 1;
  for (let n = r.int(30); n > 0; n--) {
    const kind = r.pick([' ', ' ', '-', '+']);
    const row = { kind, text: r.pick(texts) };
    if (kind !== '+') row.old = oldAt++;
    if (kind !== '-') row.new = newAt++;
    rows.push(row);
  }
  // A side may end without a line break: its last line says so.
  const lastOld = rows.findLastIndex((x) => x.kind !== '+');
  const lastNew = rows.findLastIndex((x) => x.kind !== '-');
  if (lastOld >= 0 && lastOld === lastNew) {
    if (r.int(2)) rows[lastOld].noEol = true;
  } else {
    if (lastOld >= 0 && r.int(2)) rows[lastOld].noEol = true;
    if (lastNew >= 0 && r.int(2)) rows[lastNew].noEol = true;
  }
  return rows;
}

test('parseUnified reads back what diff -u writes, at any context', () => {
  const r = seeded('parseUnified');
  for (let k = 0; k < 2000; k++) {
    const rows = randomRows(r);
    const whole = parseUnified(writeUnified(rows, 1000));
    if (!rows.some((x) => x.kind !== ' ')) {
      assert.deepEqual(whole, [], r.label); // equal texts: an empty diff
      continue;
    }
    // With as much context as the text has lines: every row.
    assert.deepEqual(whole, rows, r.label);
    // With little context, the changed rows are all there, in order, and
    // the numbers add up across gaps.
    const small = parseUnified(writeUnified(rows, r.int(3)));
    assert.deepEqual(small.filter((x) => x.kind !== ' ' && x.kind !== 'gap'), rows.filter((x) => x.kind !== ' '), r.label);
    assert.deepEqual(counts(small), counts(rows), r.label);
    let old = 1;
    for (const x of small) {
      if (x.kind === 'gap') old += x.lines;
      else if (x.kind !== '+') assert.equal(x.old, old++, r.label);
    }
  }
});

test('sideBySide keeps unchanged lines facing each other', () => {
  const r = seeded('sideBySide');
  for (let k = 0; k < 500; k++) {
    const rows = randomRows(r);
    const { left, right } = sideBySide(rows);
    assert.equal(left.length, right.length, r.label);
    assert.deepEqual(left.filter(Boolean), rows.filter((x) => x.kind !== '+'), r.label);
    assert.deepEqual(right.filter(Boolean), rows.filter((x) => x.kind !== '-'), r.label);
    left.forEach((x, i) => {
      if (x && x.kind === ' ') assert.equal(right[i], x, r.label);
      if (x === null) assert.equal(right[i].kind, '+', r.label);
      if (right[i] === null) assert.equal(x.kind, '-', r.label);
    });
  }
  const { left, right } = sideBySide(parseUnified('--- a\n+++ b\n@@ -1,2 +1,3 @@\n-x\n+X\n+Y\n z\n'));
  assert.deepEqual(left.map((x) => x && x.text), ['x', null, 'z']);
  assert.deepEqual(right.map((x) => x && x.text), ['X', 'Y', 'z']);
});

test('foldRanges folds long unchanged runs and keeps context', () => {
  const kinds = (s) => (i) => s[i];
  //            0123456789012345678901
  const s = '          -          ';
  assert.deepEqual(foldRanges(s.length, kinds(s)), [
    { from: 0, to: 6 },
    { from: 14, to: 20 },
  ]);
  assert.deepEqual(foldRanges(5, kinds('  +  ')), []);
  assert.deepEqual(foldRanges(12, kinds('+          +')), [{ from: 4, to: 7 }]);
  assert.deepEqual(foldRanges(11, kinds('+         +')), []); // 3 would be folded: too few
  assert.deepEqual(foldRanges(8, kinds('        ')), [{ from: 0, to: 7 }]);
  const r = seeded('foldRanges');
  for (let k = 0; k < 500; k++) {
    const rows = randomRows(r);
    const kindAt = (i) => rows[i].kind;
    for (const { from, to } of foldRanges(rows.length, kindAt)) {
      assert.ok(to - from + 1 >= 4, r.label);
      for (let i = Math.max(0, from - 3); i <= Math.min(rows.length - 1, to + 3); i++) assert.equal(rows[i].kind, ' ', r.label);
    }
  }
});

test('changedSpan marks the changed middle of a replaced line', () => {
  assert.deepEqual(changedSpan('fmt.Println("hi")', 'fmt.Println("hello")'), { a: [14, 15], b: [14, 18] });
  assert.equal(changedSpan('abc', 'xyz'), null);
  assert.equal(changedSpan('a-long-line', 'x'), null);
  // Never between the two halves of an astral character.
  const sp = changedSpan('x😀y', 'x😃y');
  assert.deepEqual(sp, { a: [1, 3], b: [1, 3] });
  assert.deepEqual(replacedPairs(parseUnified('--- a\n+++ b\n@@ -1,3 +1,2 @@\n-a\n-b\n+A\n c\n')), [[0, 2]]);
});
