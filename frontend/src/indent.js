// The indentation a file uses, so that Enter and Tab write what the file
// already has: tabs in a tab-indented file, its own number of spaces in a
// space-indented one, and for a file without indented lines yet the
// convention of its language (Go: tabs, Python: four spaces, …).
// Pure functions; editor.js applies the result.

/** At most this many lines are looked at (the start of a big file says enough). */
const MAX_LINES = 2000;

// Languages by their conventional indentation, under the names of
// @codemirror/language-data and the server's language names.
const TABS = new Set(['go', 'makefile', 'make', 'tsv']);
const TWO = new Set([
  'javascript', 'typescript', 'jsx', 'tsx', 'json', 'json5', 'html', 'css', 'scss', 'sass', 'less', 'yaml', 'yml',
  'ruby', 'markdown', 'xml', 'lua', 'dart', 'elixir', 'erlang', 'haskell', 'ocaml', 'elm', 'clojure', 'scheme',
  'common lisp', 'lisp', 'vue', 'svelte', 'angular template', 'nix', 'terraform', 'hcl', 'toml', 'coffeescript',
  'crystal', 'r', 'julia', 'sql', 'graphql', 'protobuf', 'liquid', 'jinja2', 'handlebars',
]);

/**
 * The conventional indent unit of a language (a language-data name such as
 * "Go" or "Python", or the server's "go", "python"): "\t" or spaces.
 * Unknown languages and plain text get four spaces.
 */
export function languageIndent(lang) {
  const l = String(lang || '').toLowerCase();
  if (TABS.has(l)) return '\t';
  if (TWO.has(l)) return '  ';
  return '    ';
}

/**
 * The indentation of text: {unit, tabSize, from}. unit is "\t" or a run
 * of 1-8 spaces; from is "file" when the text decided it, else "language".
 *
 * A file is tab-indented when more of its indented lines start with a tab
 * than with spaces. For spaces, the unit is the most common step between
 * the indentation of a line and that of the nearest less-indented line
 * before it (so that a 2-space file with deep nesting is 2, not 8);
 * continuation lines and block comments (" * ") count less than steps
 * of 2, 4 and 8.
 */
export function detectIndent(text, lang) {
  const langUnit = languageIndent(lang);
  let tabs = 0;
  let spaces = 0;
  const steps = new Map(); // step -> votes
  const stack = [0]; // the indentation widths of the enclosing lines
  let start = 0;
  for (let n = 0; n < MAX_LINES && start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    let i = 0;
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    const rest = line.slice(i).replace(/\r$/, '');
    if (rest === '') continue; // blank lines say nothing
    const lead = line.slice(0, i);
    if (lead === '') {
      stack.length = 1;
      continue;
    }
    if (lead[0] === '\t') {
      tabs++;
      continue;
    }
    if (lead.includes('\t')) continue; // mixed: no vote
    if (rest.startsWith('* ') || rest === '*' || rest.startsWith('*/')) continue; // inside a block comment
    spaces++;
    const w = lead.length;
    while (stack.length > 1 && stack[stack.length - 1] >= w) stack.pop();
    const step = w - stack[stack.length - 1];
    stack.push(w);
    if (step >= 1 && step <= 8) steps.set(step, (steps.get(step) || 0) + (step === 2 || step === 4 || step === 8 ? 2 : 1));
  }
  if (tabs === 0 && spaces === 0) return { unit: langUnit, tabSize: tabSizeFor(langUnit), from: 'language' };
  if (tabs > spaces) return { unit: '\t', tabSize: 4, from: 'file' };
  let best = 0;
  let votes = 0;
  for (const [step, v] of steps) {
    if (v > votes || (v === votes && step < best)) [best, votes] = [step, v];
  }
  if (!best) return { unit: langUnit, tabSize: tabSizeFor(langUnit), from: 'language' };
  const unit = ' '.repeat(best);
  return { unit, tabSize: tabSizeFor(unit), from: 'file' };
}

/** The width of a tab where unit is the indent unit. */
function tabSizeFor(unit) {
  return unit.length === 8 ? 8 : 4;
}

/**
 * What Tab inserts at a cursor in column col (counted with tabSize): the
 * unit when it is a tab, else spaces up to the next multiple of the unit.
 */
export function tabInsert(unit, col) {
  if (unit === '\t') return '\t';
  const n = unit.length - (col % unit.length);
  return ' '.repeat(n);
}
