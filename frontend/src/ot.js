// Text operations over Unicode code points, in ot.js's JSON form (see
// docs/PROTOCOL.md): an array covering the whole text where a positive
// integer retains that many code points, a negative integer deletes that
// many, and a string inserts itself. Lengths count code points, as the
// server does; JavaScript strings count UTF-16 units, so every length and
// offset here goes through cpLength / cpOffset.
//
// A TextOperation is built only by retain / insert / delete, which keep it
// normal: neighbours of one kind are merged and an insert always comes
// before a delete at one place, so equal edits have equal components.

/** Whether c is the UTF-16 unit of a high (leading) surrogate. */
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
/** Whether c is the UTF-16 unit of a low (trailing) surrogate. */
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** The number of code points in s (a lone surrogate counts as one). */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * The UTF-16 offset in s reached by skipping n code points from UTF-16
 * offset from (s.length when s ends first).
 */
export function cpOffset(s, n, from = 0) {
  let i = from;
  while (n > 0 && i < s.length) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    n--;
  }
  return i;
}

/** Whether s holds a character outside the Basic Multilingual Plane. */
export function hasAstral(s) {
  return /[\ud800-\udbff][\udc00-\udfff]/.test(s);
}

const isRetain = (c) => typeof c === 'number' && c > 0;
const isDelete = (c) => typeof c === 'number' && c < 0;
const isInsert = (c) => typeof c === 'string';
/** A component's length in code points. */
const compLength = (c) => (isInsert(c) ? cpLength(c) : Math.abs(c));

/** The part of component c after its first m code points. */
function compRest(c, m) {
  if (isInsert(c)) return c.slice(cpOffset(c, m));
  return c > 0 ? c - m : c + m;
}

export class TextOperation {
  constructor() {
    /** Components: n > 0 retain, n < 0 delete, string insert. */
    this.ops = [];
    /** Code points of the text the operation applies to. */
    this.baseLength = 0;
    /** Code points of the text it produces. */
    this.targetLength = 0;
  }

  /** Parses ot.js JSON, refusing anything that is not a component. */
  static fromJSON(arr) {
    if (!Array.isArray(arr)) throw new Error('ot: an operation is an array');
    const op = new TextOperation();
    for (const c of arr) {
      if (isInsert(c) && c !== '') op.insert(c);
      else if (Number.isSafeInteger(c) && c > 0) op.retain(c);
      else if (Number.isSafeInteger(c) && c < 0) op.delete(-c);
      else throw new Error('ot: bad component ' + JSON.stringify(c));
    }
    return op;
  }

  toJSON() {
    return this.ops.slice();
  }

  /** Skips n code points. */
  retain(n) {
    if (n <= 0) return this;
    this.baseLength += n;
    this.targetLength += n;
    const last = this.ops.length - 1;
    if (isRetain(this.ops[last])) this.ops[last] += n;
    else this.ops.push(n);
    return this;
  }

  /** Inserts s here; an insert goes before a delete at the same place. */
  insert(s) {
    if (s === '') return this;
    this.targetLength += cpLength(s);
    const ops = this.ops;
    const last = ops.length - 1;
    if (isInsert(ops[last])) {
      ops[last] += s;
    } else if (isDelete(ops[last])) {
      if (isInsert(ops[last - 1])) {
        ops[last - 1] += s;
      } else {
        ops.push(ops[last]);
        ops[last] = s;
      }
    } else {
      ops.push(s);
    }
    return this;
  }

  /** Deletes n code points. */
  delete(n) {
    if (n <= 0) return this;
    this.baseLength += n;
    const last = this.ops.length - 1;
    if (isDelete(this.ops[last])) this.ops[last] -= n;
    else this.ops.push(-n);
    return this;
  }

  /** Whether the operation leaves every text unchanged. */
  isNoop() {
    return this.ops.length === 0 || (this.ops.length === 1 && isRetain(this.ops[0]));
  }

  /**
   * Returns s edited by the operation.
   * Law: cpLength(apply(s)) === targetLength whenever cpLength(s) === baseLength.
   */
  apply(s) {
    if (cpLength(s) !== this.baseLength) throw new Error('ot: the operation does not fit the text');
    const out = [];
    let i = 0;
    for (const c of this.ops) {
      if (isInsert(c)) {
        out.push(c);
      } else if (c > 0) {
        const j = cpOffset(s, c, i);
        out.push(s.slice(i, j));
        i = j;
      } else {
        i = cpOffset(s, -c, i);
      }
    }
    return out.join('');
  }

  /**
   * Returns the one operation that does this, then b.
   * Law: a.compose(b).apply(s) === b.apply(a.apply(s)).
   */
  compose(b) {
    if (this.targetLength !== b.baseLength) throw new Error('ot: compose: the second operation does not follow the first');
    const out = new TextOperation();
    const A = this.ops;
    const B = b.ops;
    let i = 0;
    let j = 0;
    let x = A[i++];
    let y = B[j++];
    while (x !== undefined || y !== undefined) {
      if (isDelete(x)) {
        out.delete(-x);
        x = A[i++];
        continue;
      }
      if (isInsert(y)) {
        out.insert(y);
        y = B[j++];
        continue;
      }
      if (x === undefined || y === undefined) throw new Error('ot: compose: the operations do not line up');
      const m = Math.min(compLength(x), compLength(y));
      if (isRetain(x) && isRetain(y)) out.retain(m);
      else if (isInsert(x) && isRetain(y)) out.insert(x.slice(0, cpOffset(x, m)));
      else if (isRetain(x) && isDelete(y)) out.delete(m);
      // An insert that b deletes again leaves nothing.
      x = compLength(x) > m ? compRest(x, m) : A[i++];
      y = compLength(y) > m ? compRest(y, m) : B[j++];
    }
    return out;
  }

  /**
   * Transforms concurrent a and b (made against one text) into [a', b']:
   * b.apply then a' equals a.apply then b'. Where both insert at one place,
   * a's insert goes first.
   * Law: bp.apply(a.apply(s)) === ap.apply(b.apply(s)).
   */
  static transform(a, b) {
    if (a.baseLength !== b.baseLength) throw new Error('ot: transform: the operations have different bases');
    const ap = new TextOperation();
    const bp = new TextOperation();
    const A = a.ops;
    const B = b.ops;
    let i = 0;
    let j = 0;
    let x = A[i++];
    let y = B[j++];
    while (x !== undefined || y !== undefined) {
      if (isInsert(x)) {
        ap.insert(x);
        bp.retain(cpLength(x));
        x = A[i++];
        continue;
      }
      if (isInsert(y)) {
        ap.retain(cpLength(y));
        bp.insert(y);
        y = B[j++];
        continue;
      }
      if (x === undefined || y === undefined) throw new Error('ot: transform: the operations do not line up');
      const m = Math.min(compLength(x), compLength(y));
      if (isRetain(x) && isRetain(y)) {
        ap.retain(m);
        bp.retain(m);
      } else if (isDelete(x) && isRetain(y)) {
        ap.delete(m);
      } else if (isRetain(x) && isDelete(y)) {
        bp.delete(m);
      }
      // Both deleting the same code points: neither needs to any more.
      x = compLength(x) > m ? compRest(x, m) : A[i++];
      y = compLength(y) > m ? compRest(y, m) : B[j++];
    }
    return [ap, bp];
  }

  /**
   * Where position pos (code points, in the text before the operation) is
   * after it. An insert exactly at pos pushes pos to its right, as the
   * server moves cursors; a deleted position moves to the deletion's start.
   */
  transformIndex(pos) {
    let left = pos; // code points of the base text still before pos
    let out = pos;
    for (const c of this.ops) {
      if (left < 0) break;
      if (isRetain(c)) {
        left -= c;
      } else if (isInsert(c)) {
        out += cpLength(c);
      } else {
        out -= Math.min(left, -c);
        left += c;
      }
    }
    return out;
  }
}
