// Invisible characters: every control, bidirectional and format character
// is found, except the joiners and tags that build emoji and the
// non-joiner of scripts that need it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invisibleName, invisibleRegExp, splitInvisibles } from '../src/invisibles.js';

const codes = (s) => splitInvisibles(s).filter((p) => p.code !== undefined).map((p) => p.code);

test('the Trojan Source string shows its zero-width space and its override', () => {
  assert.deepEqual(splitInvisibles('a\u200bb\u202ec'), [{ text: 'a' }, { code: 0x200b }, { text: 'b' }, { code: 0x202e }, { text: 'c' }]);
  assert.deepEqual(invisibleName(0x202e), ['RLO', 'right-to-left override']);
  assert.deepEqual(invisibleName(0x200b), ['ZWSP', 'zero width space']);
});

test('CodeMirror gets a regexp with the g flag (its MatchDecorator refuses one without)', () => {
  const re = invisibleRegExp();
  assert.ok(re.global && re.unicode);
  assert.notEqual(invisibleRegExp(), re, 'a fresh one each time: lastIndex is state');
});

test('every bidirectional control is shown', () => {
  const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
  for (const c of bidi) {
    assert.deepEqual(codes('x' + String.fromCodePoint(c) + 'y'), [c], c.toString(16));
    assert.doesNotMatch(invisibleName(c)[0], /^U\+/, `${c.toString(16)} has a name`);
  }
});

test('control and format characters are shown; tab, line breaks and ordinary text are not', () => {
  const shown = [0x00, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x7f, 0x85, 0x9f, 0xad, 0x34f, 0x115f, 0x180e, 0x2028, 0x2029, 0x2060, 0x2064, 0x206a, 0x3164, 0xfeff, 0xffa0, 0xfff9, 0xfffc, 0x1d173, 0xe0001, 0xe0041];
  for (const c of shown) assert.deepEqual(codes('a' + String.fromCodePoint(c) + 'b'), [c], c.toString(16));
  assert.deepEqual(codes('\tindented\r\nline\n'), []);
  assert.deepEqual(codes('héllo wörld — “quoted” 日本語 😀 \u00a0'), []);
  assert.equal(invisibleName(0)[0], 'NUL');
  assert.deepEqual(invisibleName(7), ['BEL', 'bell']);
  assert.equal(invisibleName(0x1b)[1], 'escape');
});

test('joiners in emoji, non-joiners in Persian and tags in flags stay; anywhere else they show', () => {
  const family = '👨\u200d👩\u200d👧';
  const coder = '👩🏽\u200d💻';
  const heart = '❤️\u200d🔥';
  for (const s of [family, coder, heart]) assert.deepEqual(codes(s), [], s);
  assert.deepEqual(codes('a\u200db'), [0x200d]);
  assert.deepEqual(codes('👩\u200d'), [0x200d], 'a joiner at the end joins nothing');
  const persian = 'می\u200cخواهم';
  assert.deepEqual(codes(persian), []);
  assert.deepEqual(codes('if (user\u200cname)'), [0x200c], 'in ASCII code it is shown');
  const scotland = '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}';
  assert.deepEqual(codes(scotland), []);
  assert.deepEqual(codes('ok\u{e0069}\u{e0067}'), [0xe0069, 0xe0067], 'tags smuggled into text');
});
