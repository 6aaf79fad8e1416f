// Positions between CodeMirror and the protocol. CodeMirror counts UTF-16
// units; the protocol counts Unicode code points, so "😀" is 2 here and 1
// there. While a document holds no character outside the Basic
// Multilingual Plane the two agree and nothing is converted; astralField
// knows when that stops being true.
//
// The editor keeps lines split on "\n" only (see lineendings.js), so a
// "\r" is an ordinary character here as on the wire: no other conversion.
import { StateField } from '@codemirror/state';
import { hasAstral } from './ot.js';

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * Whether the document may hold astral characters: true once any was
 * loaded or inserted (it does not turn false again when they are deleted,
 * which only costs conversions that change nothing).
 */
export const astralField = StateField.define({
  create: (state) => textHasAstral(state.doc),
  update(value, tr) {
    if (value || !tr.docChanged) return value;
    let found = false;
    tr.changes.iterChanges((_fa, _ta, _fb, _tb, inserted) => {
      if (!found && textHasAstral(inserted)) found = true;
    });
    return found;
  },
});

function textHasAstral(text) {
  for (const iter = text.iter(); !iter.next().done; ) {
    if (hasAstral(iter.value)) return true;
  }
  return false;
}

/**
 * A Walker converts increasing positions of one CodeMirror Text between
 * UTF-16 offsets and code points in a single pass, so converting every
 * position of an edit costs one walk over the text before the last of
 * them, however many there are. Lines come from Text.iter, which never
 * splits a surrogate pair.
 */
export class Walker {
  constructor(doc, astral = true) {
    this.doc = doc;
    this.astral = astral;
    this.iter = doc.iter();
    this.chunk = ''; // the current piece of text
    this.k = 0; // UTF-16 offset within chunk
    this.u = 0; // UTF-16 offset in the document
    this.c = 0; // code points in the document
  }

  /** Loads the next chunk when the current one is used up. */
  more() {
    while (this.k >= this.chunk.length) {
      if (this.iter.next().done) return false;
      this.chunk = this.iter.value;
      this.k = 0;
    }
    return true;
  }

  /** Steps over one code point. */
  step() {
    const s = this.chunk;
    const w = isHigh(s.charCodeAt(this.k)) && this.k + 1 < s.length && isLow(s.charCodeAt(this.k + 1)) ? 2 : 1;
    this.k += w;
    this.u += w;
    this.c++;
  }

  /** The code point count at UTF-16 offset pos (pos >= every earlier call). */
  toCp(pos) {
    if (!this.astral) return pos;
    if (pos < this.u) throw new Error('positions: the walker only goes forward');
    while (this.u < pos && this.more()) this.step();
    return this.c;
  }

  /** The UTF-16 offset of code point cp (cp >= every earlier call), clamped to the text. */
  toUtf16(cp) {
    if (!this.astral) return Math.min(cp, this.doc.length);
    if (cp < this.c) throw new Error('positions: the walker only goes forward');
    while (this.c < cp && this.more()) this.step();
    return this.u;
  }
}

/**
 * The CodeMirror change specs (UTF-16 offsets) of an operation's components
 * (ot.js's form: n > 0 retains, n < 0 deletes, a string inserts) on
 * state's text: {from, insert} for an insert, {from, to} for a delete.
 */
export function componentChanges(components, state) {
  const w = new Walker(state.doc, state.field(astralField));
  const specs = [];
  let cp = 0;
  let at = 0;
  for (const c of components) {
    if (typeof c === 'string') {
      specs.push({ from: at, insert: c });
    } else if (c > 0) {
      cp += c;
      at = w.toUtf16(cp);
    } else {
      cp -= c;
      const end = w.toUtf16(cp);
      specs.push({ from: at, to: end });
      at = end;
    }
  }
  return specs;
}

/** The code points of doc before UTF-16 offset pos. */
export function toCp(state, pos) {
  return new Walker(state.doc, state.field(astralField)).toCp(pos);
}

/** The UTF-16 offset of code point cp in doc (clamped to its end). */
export function toUtf16(state, cp) {
  return new Walker(state.doc, state.field(astralField)).toUtf16(cp);
}

/** The document's length in code points. */
export function cpDocLength(state) {
  return toCp(state, state.doc.length);
}

/**
 * Converts many code point positions to UTF-16 offsets in one walk;
 * returns a Map from each position to its offset.
 */
export function manyToUtf16(state, cps) {
  const sorted = [...new Set(cps)].sort((a, b) => a - b);
  const w = new Walker(state.doc, state.field(astralField));
  return new Map(sorted.map((cp) => [cp, w.toUtf16(cp)]));
}

/** Converts many UTF-16 offsets to code point positions in one walk. */
export function manyToCp(state, offsets) {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const w = new Walker(state.doc, state.field(astralField));
  return new Map(sorted.map((u) => [u, w.toCp(u)]));
}
