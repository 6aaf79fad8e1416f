// The server's unified diffs (GET /api/docs/{id}/diff?format=unified), read
// into rows a history view draws: pure functions, no DOM.
//
// A row is one line of the diff:
//   {kind: ' ', text, old, new}  a line both sides have (old and new: its
//                                line numbers, 1-based)
//   {kind: '-', text, old}       a line only the old side has
//   {kind: '+', text, new}       a line only the new side has
//   {kind: 'gap', lines}         lines both sides have that the diff left
//                                out between two hunks (a diff with less
//                                context than the text); lines is their
//                                number. (What follows the last hunk is not
//                                known: ask for the whole text as context.)
// A row whose side has no line break after it has noEol set. A "\r" that
// ends a line (a CRLF file) is not part of text.

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * The rows of unified diff text (as diff -u writes it: two header lines,
 * then hunks). Lines are read by the hunks' counts, not by their look, so
 * a removed line "-- x" or a line starting "@@" is read as what it is.
 * Throws on a diff that does not parse.
 */
export function parseUnified(text) {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const rows = [];
  let i = 0;
  while (i < lines.length && !lines[i].startsWith('@@')) i++; // the --- and +++ lines
  let oldNext = 1; // the first old line not shown yet
  while (i < lines.length) {
    const h = HUNK.exec(lines[i]);
    if (!h) throw new Error(`diff: a hunk header was expected at line ${i + 1}`);
    i++;
    let oldAt = Number(h[1]);
    let newAt = Number(h[3]);
    let oldLeft = h[2] === undefined ? 1 : Number(h[2]);
    let newLeft = h[4] === undefined ? 1 : Number(h[4]);
    // An empty side's hunk starts at 0: its first line would be 1.
    if (oldLeft === 0) oldAt++;
    if (newLeft === 0) newAt++;
    if (oldAt > oldNext) rows.push({ kind: 'gap', lines: oldAt - oldNext });
    while (oldLeft > 0 || newLeft > 0) {
      if (i >= lines.length) throw new Error('diff: a hunk ends early');
      const l = lines[i++];
      const kind = l[0];
      const body = stripCR(l.slice(1));
      if (kind === ' ' || (kind === undefined && l === '')) {
        rows.push({ kind: ' ', text: body, old: oldAt++, new: newAt++ });
        oldLeft--;
        newLeft--;
      } else if (kind === '-') {
        rows.push({ kind: '-', text: body, old: oldAt++ });
        oldLeft--;
      } else if (kind === '+') {
        rows.push({ kind: '+', text: body, new: newAt++ });
        newLeft--;
      } else if (kind === '\\') {
        markNoEol(rows);
      } else {
        throw new Error(`diff: unexpected line ${i}: ${l.slice(0, 40)}`);
      }
      if (oldLeft < 0 || newLeft < 0) throw new Error('diff: a hunk is longer than its header says');
    }
    while (i < lines.length && lines[i].startsWith('\\')) markNoEol(rows), i++;
    oldNext = oldAt;
  }
  return rows;
}

const stripCR = (s) => (s.endsWith('\r') ? s.slice(0, -1) : s);

function markNoEol(rows) {
  if (rows.length) rows[rows.length - 1].noEol = true;
}

/** Lines added and removed. */
export function counts(rows) {
  let added = 0;
  let removed = 0;
  for (const r of rows) {
    if (r.kind === '+') added++;
    else if (r.kind === '-') removed++;
  }
  return { added, removed };
}

/**
 * The rows side by side: {left, right}, two arrays of one length, where
 * row i of each is drawn on the same line; null is a filler line (the
 * other side has a line there). Within a run of changed lines the removed
 * ones go left, the added ones right, in order, the shorter side padded at
 * the end of the run; so unchanged lines always face each other.
 */
export function sideBySide(rows) {
  const left = [];
  const right = [];
  let dels = [];
  let adds = [];
  const flush = () => {
    const n = Math.max(dels.length, adds.length);
    for (let k = 0; k < n; k++) {
      left.push(dels[k] || null);
      right.push(adds[k] || null);
    }
    dels = [];
    adds = [];
  };
  for (const r of rows) {
    if (r.kind === '-') dels.push(r);
    else if (r.kind === '+') adds.push(r);
    else {
      flush();
      left.push(r);
      right.push(r);
    }
  }
  flush();
  return { left, right };
}

/**
 * The runs of unchanged rows worth folding away: [{from, to}] row indices
 * (inclusive), keeping context rows next to each change, and only runs
 * of at least minFold rows. kindAt(i) is the kind of row i of n (' ' for
 * an unchanged row).
 */
export function foldRanges(n, kindAt, context = 3, minFold = 4) {
  const out = [];
  let i = 0;
  while (i < n) {
    if (kindAt(i) !== ' ') {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < n && kindAt(j + 1) === ' ') j++;
    const from = i === 0 ? 0 : i + context;
    const to = j === n - 1 ? n - 1 : j - context;
    if (to - from + 1 >= minFold) out.push({ from, to });
    i = j + 1;
  }
  return out;
}

/**
 * What changed within a line that was replaced: the removed line a and
 * the added line b share a prefix and a suffix; the rest of each, as
 * [from, to) code unit offsets {a: [f, t], b: [f, t]}, or null when the
 * lines share too little for that to help (then the whole line is the
 * change). Never splits a surrogate pair.
 */
export function changedSpan(a, b) {
  let p = 0;
  const max = Math.min(a.length, b.length);
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  if (p > 0 && p < max && isLowSurrogate(a.charCodeAt(p))) p--;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  if (s > 0 && isLowSurrogate(a.charCodeAt(a.length - s))) s--;
  const shared = p + s;
  if (shared === 0 || shared * 3 < Math.max(a.length, b.length)) return null;
  return { a: [p, a.length - s], b: [p, b.length - s] };
}

const isLowSurrogate = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The pairs of a removed and an added line that replaced it, as row
 * index pairs [del, add]: in each run of changed rows, the k-th removed
 * line with the k-th added line.
 */
export function replacedPairs(rows) {
  const out = [];
  let dels = [];
  let adds = [];
  const flush = () => {
    for (let k = 0; k < Math.min(dels.length, adds.length); k++) out.push([dels[k], adds[k]]);
    dels = [];
    adds = [];
  };
  rows.forEach((r, i) => {
    if (r.kind === '-') {
      if (adds.length) flush();
      dels.push(i);
    } else if (r.kind === '+') adds.push(i);
    else flush();
  });
  flush();
  return out;
}
