// Text operations over Unicode code points, in ot.js's JSON form: an array
// where a positive integer retains, a negative integer deletes and a
// string inserts. Lengths count code points, as the server does.

/** Number of code points in s. */
export function cpLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** UTF-16 offset of code point cp in s (s.length when beyond). */
export function cpToUtf16(s, cp) {
  let i = 0;
  while (cp > 0 && i < s.length) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    cp--;
  }
  return i;
}

function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Splits s after n code points. */
function splitCp(s, n) {
  const i = cpToUtf16(s, n);
  return [s.slice(0, i), s.slice(i)];
}

export class TextOperation {
  constructor() {
    this.ops = [];
    this.baseLength = 0;
    this.targetLength = 0;
  }

  static fromJSON(arr) {
    if (!Array.isArray(arr)) throw new Error('operation is not an array');
    const op = new TextOperation();
    for (const c of arr) {
      if (typeof c === 'string') op.insert(c);
      else if (Number.isInteger(c) && c > 0) op.retain(c);
      else if (Number.isInteger(c) && c < 0) op.delete(-c);
      else throw new Error('bad component ' + JSON.stringify(c));
    }
    return op;
  }

  toJSON() {
    return this.ops.map((c) => (typeof c === 'string' ? c : c));
  }

  retain(n) {
    if (n <= 0) return this;
    this.baseLength += n;
    this.targetLength += n;
    const last = this.ops[this.ops.length - 1];
    if (isRetain(last)) this.ops[this.ops.length - 1] += n;
    else this.ops.push(n);
    return this;
  }

  insert(s) {
    if (s === '') return this;
    this.targetLength += cpLength(s);
    const ops = this.ops;
    const last = ops[ops.length - 1];
    if (typeof last === 'string') {
      ops[ops.length - 1] += s;
    } else if (isDelete(last)) {
      // Inserts go before deletes at one place.
      if (typeof ops[ops.length - 2] === 'string') ops[ops.length - 2] += s;
      else {
        ops[ops.length] = last;
        ops[ops.length - 2] = s;
      }
    } else {
      ops.push(s);
    }
    return this;
  }

  delete(n) {
    if (n <= 0) return this;
    this.baseLength += n;
    const last = this.ops[this.ops.length - 1];
    if (isDelete(last)) this.ops[this.ops.length - 1] -= n;
    else this.ops.push(-n);
    return this;
  }

  isNoop() {
    return this.ops.length === 0 || (this.ops.length === 1 && isRetain(this.ops[0]));
  }

  /** Applies the operation to s. */
  apply(s) {
    if (cpLength(s) !== this.baseLength) throw new Error('operation base length does not match the text');
    const out = [];
    let i = 0;
    for (const c of this.ops) {
      if (isRetain(c)) {
        const j = i + cpToUtf16(s.slice(i), c);
        out.push(s.slice(i, j));
        i = j;
      } else if (typeof c === 'string') {
        out.push(c);
      } else {
        i += cpToUtf16(s.slice(i), -c);
      }
    }
    return out.join('');
  }

  /** The operation that does this, then b. */
  compose(b) {
    const a = this;
    if (a.targetLength !== b.baseLength) throw new Error('compose: lengths do not match');
    const out = new TextOperation();
    const A = a.ops.slice();
    const B = b.ops.slice();
    let i = 0;
    let j = 0;
    let x = A[i++];
    let y = B[j++];
    for (;;) {
      if (x === undefined && y === undefined) break;
      if (isDelete(x)) {
        out.delete(-x);
        x = A[i++];
        continue;
      }
      if (typeof y === 'string') {
        out.insert(y);
        y = B[j++];
        continue;
      }
      if (x === undefined || y === undefined) throw new Error('compose: operations do not line up');
      const xl = len(x);
      const yl = len(y);
      const m = Math.min(xl, yl);
      if (isRetain(x) && isRetain(y)) out.retain(m);
      else if (typeof x === 'string' && isRetain(y)) out.insert(splitCp(x, m)[0]);
      else if (isRetain(x) && isDelete(y)) out.delete(m);
      // insert then delete: nothing
      x = xl > m ? rest(x, m) : A[i++];
      y = yl > m ? rest(y, m) : B[j++];
    }
    return out;
  }

  /**
   * Transforms concurrent a and b into [a', b'] with
   * apply(apply(s, a), b') == apply(apply(s, b), a'); a's inserts go first.
   */
  static transform(a, b) {
    if (a.baseLength !== b.baseLength) throw new Error('transform: base lengths differ');
    const ap = new TextOperation();
    const bp = new TextOperation();
    const A = a.ops;
    const B = b.ops;
    let i = 0;
    let j = 0;
    let x = A[i++];
    let y = B[j++];
    for (;;) {
      if (x === undefined && y === undefined) break;
      if (typeof x === 'string') {
        ap.insert(x);
        bp.retain(cpLength(x));
        x = A[i++];
        continue;
      }
      if (typeof y === 'string') {
        ap.retain(cpLength(y));
        bp.insert(y);
        y = B[j++];
        continue;
      }
      if (x === undefined || y === undefined) throw new Error('transform: operations do not line up');
      const xl = len(x);
      const yl = len(y);
      const m = Math.min(xl, yl);
      if (isRetain(x) && isRetain(y)) {
        ap.retain(m);
        bp.retain(m);
      } else if (isDelete(x) && isRetain(y)) {
        ap.delete(m);
      } else if (isRetain(x) && isDelete(y)) {
        bp.delete(m);
      }
      x = xl > m ? rest(x, m) : A[i++];
      y = yl > m ? rest(y, m) : B[j++];
    }
    return [ap, bp];
  }

  /** Where position pos (code points) moves; an insert at pos pushes it right. */
  transformIndex(pos) {
    let index = pos;
    let out = pos;
    for (const c of this.ops) {
      if (isRetain(c)) index -= c;
      else if (typeof c === 'string') out += cpLength(c);
      else {
        out -= Math.min(index, -c);
        index += c;
      }
      if (index < 0) break;
    }
    return out;
  }
}

function isRetain(c) {
  return typeof c === 'number' && c > 0;
}
function isDelete(c) {
  return typeof c === 'number' && c < 0;
}
function len(c) {
  return typeof c === 'string' ? cpLength(c) : Math.abs(c);
}
function rest(c, m) {
  if (typeof c === 'string') return splitCp(c, m)[1];
  return c > 0 ? c - m : c + m;
}
