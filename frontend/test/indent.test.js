// Indentation detection: the file decides when it has indented lines,
// its language when it has none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectIndent, languageIndent, tabInsert } from '../src/indent.js';

const unit = (text, lang) => detectIndent(text, lang).unit;

test('a tab-indented file is tabs, whatever its language says', () => {
  const goFile = 'package main\n\nfunc main() {\n\tif x {\n\t\tfmt.Println("hi")\n\t}\n}\n';
  assert.deepEqual(detectIndent(goFile, 'go'), { unit: '\t', tabSize: 4, from: 'file' });
  assert.equal(unit(goFile, 'python'), '\t');
  assert.equal(unit(goFile.replace(/\n/g, '\r\n'), ''), '\t', 'CRLF line endings');
  // A few space-indented lines (a doc comment) among many tab-indented ones.
  assert.equal(unit('func f() {\n\ta()\n\tb()\n\tc()\n}\n/*\n   note\n*/\n', 'go'), '\t');
});

test('a space-indented file is its step, however deep it nests', () => {
  const js = 'function f() {\n  if (a) {\n    if (b) {\n      if (c) {\n        g();\n      }\n    }\n  }\n}\n';
  assert.deepEqual(detectIndent(js, 'javascript'), { unit: '  ', tabSize: 4, from: 'file' });
  assert.equal(unit(js, 'go'), '  ', 'the file wins over the language');
  const py = 'class A:\n    def f(self):\n        if x:\n            return 1\n        return 2\n\n    def g(self):\n        pass\n';
  assert.equal(unit(py, 'python'), '    ');
  assert.equal(unit(py, 'javascript'), '    ');
  const eight = 'a {\n        b\n        c\n}\n';
  assert.deepEqual(detectIndent(eight, ''), { unit: ' '.repeat(8), tabSize: 8, from: 'file' });
});

test('block comments and continuation lines do not decide the step', () => {
  const js = '/**\n * A doc comment.\n * Its stars are one space in.\n */\nfunction f() {\n  return g(a,\n           b);\n}\nfunction h() {\n  x();\n  y();\n}\n';
  assert.equal(unit(js, 'javascript'), '  ');
});

test('a file without indented lines takes its language’s convention', () => {
  for (const [lang, want] of [
    ['go', '\t'], ['Go', '\t'], ['python', '    '], ['Python', '    '], ['rust', '    '], ['java', '    '],
    ['javascript', '  '], ['TypeScript', '  '], ['json', '  '], ['yaml', '  '], ['ruby', '  '], ['makefile', '\t'],
    ['', '    '], ['no such language', '    '],
  ]) {
    assert.equal(languageIndent(lang), want, lang);
    assert.deepEqual(detectIndent('', lang), { unit: want, tabSize: want.length === 8 ? 8 : 4, from: 'language' }, lang);
    assert.equal(unit('package main\n\nfunc main() {}\n', lang), want, lang + ': no indented line');
  }
  assert.equal(unit('\n\n   \n\t\n', 'go'), '\t', 'blank lines say nothing');
});

test('Tab inserts a tab, or spaces up to the next stop', () => {
  assert.equal(tabInsert('\t', 3), '\t');
  assert.equal(tabInsert('    ', 0), '    ');
  assert.equal(tabInsert('    ', 1), '   ');
  assert.equal(tabInsert('    ', 4), '    ');
  assert.equal(tabInsert('  ', 3), ' ');
});

test('the Tab command: at each cursor a tab or spaces to the next stop; over several lines it indents them', async () => {
  const { EditorState, EditorSelection } = await import('@codemirror/state');
  const { indentUnit } = await import('@codemirror/language');
  const { indentAtCursor } = await import('../src/editor.js');
  const run = (doc, ranges, unit) => {
    let state = EditorState.create({
      doc,
      selection: EditorSelection.create(ranges.map(([a, h]) => EditorSelection.range(a, h ?? a))),
      extensions: [EditorState.allowMultipleSelections.of(true), indentUnit.of(unit), EditorState.tabSize.of(4)],
    });
    assert.ok(indentAtCursor({ state, dispatch: (tr) => (state = tr.state) }));
    return state;
  };
  assert.equal(run('ab', [[1]], '\t').doc.toString(), 'a\tb');
  assert.equal(run('ab', [[1]], '    ').doc.toString(), 'a   b', 'to column 4');
  assert.equal(run('\tx', [[1]], '    ').doc.toString(), '\t    x', 'a tab counts as its width');
  const two = run('ab\ncd', [[0], [4]], '  ');
  assert.equal(two.doc.toString(), '  ab\nc d', 'every cursor');
  assert.deepEqual(two.selection.ranges.map((r) => r.head), [2, 7]);
  assert.equal(run('abc', [[0, 2]], '  ').doc.toString(), '  c', 'a selection within a line is replaced');
  assert.equal(run('ab\ncd\n', [[1, 4]], '  ').doc.toString(), '  ab\n  cd\n', 'over lines: indents them');
  const ro = EditorState.create({ doc: 'x', extensions: [EditorState.readOnly.of(true)] });
  assert.equal(indentAtCursor({ state: ro, dispatch: () => assert.fail('read-only') }), false, 'read-only: Tab leaves the editor');
});
