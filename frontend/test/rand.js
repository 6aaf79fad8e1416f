import { TextOperation, cpLength } from '../src/ot.js';

// A seeded random source for the property tests. Every test prints its
// seed when it fails; SEED=<n> npm test replays it.
export function seeded(name) {
  const seed = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { seed, label: `${name} (SEED=${seed})`, next, int, pick: (xs) => xs[int(xs.length)] };
}

// Text pieces that differ between UTF-16 and code points, and line breaks
// of both kinds.
export const pieces = ['a', 'b', 'xyz', ' ', '\n', '\r\n', 'é', 'e\u0301', '日本', '😀', '👍🏽', '\t'];

export function randomText(r, max) {
  let s = '';
  for (let n = r.int(max + 1); n > 0; n--) s += r.pick(pieces);
  return s;
}

/** A random operation on s. */
export function randomOp(r, s) {
  const op = new TextOperation();
  let left = cpLength(s);
  while (left > 0) {
    const k = 1 + r.int(Math.min(left, 6));
    const kind = r.int(5);
    if (kind < 2) {
      op.retain(k);
      left -= k;
    } else if (kind === 2) {
      op.insert(randomText(r, 3));
    } else {
      op.delete(k);
      left -= k;
    }
  }
  if (r.int(2)) op.insert(randomText(r, 3));
  return op;
}
