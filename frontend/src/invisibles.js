// Characters a reader cannot see, shown as visible placeholders: control
// characters, the bidirectional controls that reorder a line ("Trojan
// Source": a right-to-left override makes code read differently from what
// the compiler sees), zero-width and other format characters, invisible
// fillers. The editor and the history draw them with CodeMirror's
// highlightSpecialChars (showInvisibles); any other text a user wrote
// (chat) goes through visibleNodes.
//
// Two kinds of format characters are left alone where they do their job:
// a zero-width joiner between two emoji (👩‍💻), a zero-width non-joiner
// between two letters of a script that needs it (Persian, the Indic
// scripts), and the tag characters of a flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿). Anywhere else, in
// ASCII code above all, they are shown.
import { highlightSpecialChars } from '@codemirror/view';

// The characters, by name. A placeholder shows the short name; its title
// and aria-label the long one.
const NAMES = {
  0x00ad: ['SHY', 'soft hyphen'],
  0x034f: ['CGJ', 'combining grapheme joiner'],
  0x061c: ['ALM', 'Arabic letter mark'],
  0x115f: ['HF', 'Hangul choseong filler'],
  0x1160: ['HF', 'Hangul jungseong filler'],
  0x17b4: ['KIV', 'Khmer inherent vowel aq'],
  0x17b5: ['KIV', 'Khmer inherent vowel aa'],
  0x180e: ['MVS', 'Mongolian vowel separator'],
  0x200b: ['ZWSP', 'zero width space'],
  0x200c: ['ZWNJ', 'zero width non-joiner'],
  0x200d: ['ZWJ', 'zero width joiner'],
  0x200e: ['LRM', 'left-to-right mark'],
  0x200f: ['RLM', 'right-to-left mark'],
  0x2028: ['LSEP', 'line separator'],
  0x2029: ['PSEP', 'paragraph separator'],
  0x202a: ['LRE', 'left-to-right embedding'],
  0x202b: ['RLE', 'right-to-left embedding'],
  0x202c: ['PDF', 'pop directional formatting'],
  0x202d: ['LRO', 'left-to-right override'],
  0x202e: ['RLO', 'right-to-left override'],
  0x2060: ['WJ', 'word joiner'],
  0x2061: ['FA', 'function application'],
  0x2062: ['IT', 'invisible times'],
  0x2063: ['IS', 'invisible separator'],
  0x2064: ['IP', 'invisible plus'],
  0x2066: ['LRI', 'left-to-right isolate'],
  0x2067: ['RLI', 'right-to-left isolate'],
  0x2068: ['FSI', 'first strong isolate'],
  0x2069: ['PDI', 'pop directional isolate'],
  0x3164: ['HF', 'Hangul filler'],
  0xfeff: ['BOM', 'zero width no-break space (byte order mark)'],
  0xffa0: ['HF', 'halfwidth Hangul filler'],
  0xfff9: ['IAA', 'interlinear annotation anchor'],
  0xfffa: ['IAS', 'interlinear annotation separator'],
  0xfffb: ['IAT', 'interlinear annotation terminator'],
  0xfffc: ['OBJ', 'object replacement character'],
};

// The C0 controls' abbreviations (a box with "BEL" reads better than the
// tiny, often missing, control picture ␇).
const C0 = 'NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US'.split(' ');
const C0_NAMES = {
  0: 'null', 7: 'bell', 8: 'backspace', 11: 'vertical tab', 12: 'form feed', 13: 'carriage return', 27: 'escape',
};

// Emoji that a zero-width joiner joins: a pictograph, then maybe a
// variation selector or a skin tone.
const EMOJI_BEFORE = '\\p{Extended_Pictographic}[\\u{fe0f}\\u{1f3fb}-\\u{1f3ff}]?';
// Letters outside ASCII, with their marks.
const NON_ASCII_LETTER = '[^\\P{L}\\x00-\\x7f]';

/**
 * The source of the regexp of every character shown as a placeholder.
 * Tab, line feed and carriage return are not in it: a tab is indentation,
 * and lineendings.js draws a "\r" itself.
 */
export const INVISIBLE_SOURCE = [
  '[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffc\\u{1d173}-\\u{1d17a}]',
  // a zero-width joiner not between two emoji
  `(?<!${EMOJI_BEFORE})\\u200d|\\u200d(?!\\p{Extended_Pictographic})`,
  // a zero-width non-joiner not between two letters of a script that uses it
  `(?<!${NON_ASCII_LETTER}\\p{M}*)\\u200c|\\u200c(?!${NON_ASCII_LETTER})`,
  // a tag character that is not part of a flag
  '(?<!\\u{1f3f4}[\\u{e0020}-\\u{e007e}]*)[\\u{e0000}-\\u{e007f}]',
].join('|');

/** A fresh regexp (g and u flags: CodeMirror's MatchDecorator needs g). */
export const invisibleRegExp = () => new RegExp(INVISIBLE_SOURCE, 'gu');

/** [short, long] names of code point code. */
export function invisibleName(code) {
  if (NAMES[code]) return NAMES[code];
  if (code < 0x20) return [C0[code], C0_NAMES[code] || 'control character ' + C0[code]];
  if (code === 0x7f) return ['DEL', 'delete'];
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  if (code >= 0xe0000 && code <= 0xe007f) return ['TAG', 'tag character U+' + hex];
  if (code >= 0x80 && code <= 0x9f) return ['U+' + hex, 'control character U+' + hex];
  return ['U+' + hex, 'format character U+' + hex];
}

/** The placeholder element of code point code. */
export function placeholder(code) {
  const [short, long] = invisibleName(code);
  const span = document.createElement('span');
  span.className = 'cm-specialChar cm-invisible';
  span.textContent = short;
  span.title = `${long} (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  span.setAttribute('aria-label', long);
  span.dataset.code = code.toString(16);
  return span;
}

/** CodeMirror's highlightSpecialChars, drawing every invisible character. */
export function showInvisibles() {
  return highlightSpecialChars({
    specialChars: invisibleRegExp(),
    render: (code) => placeholder(code),
  });
}

/**
 * The pieces of text s: runs of ordinary text and the invisible
 * characters between them, as [{text}|{code}] (a pure function).
 */
export function splitInvisibles(s) {
  const out = [];
  const re = invisibleRegExp();
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > at) out.push({ text: s.slice(at, m.index) });
    out.push({ code: m[0].codePointAt(0) });
    at = m.index + m[0].length;
  }
  if (at < s.length) out.push({ text: s.slice(at) });
  return out;
}

/** Text s as DOM nodes (text nodes and placeholders), never HTML. */
export function visibleNodes(s) {
  return splitInvisibles(s).map((p) => (p.text !== undefined ? document.createTextNode(p.text) : placeholder(p.code)));
}
