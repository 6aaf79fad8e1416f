// The chunks each language of @codemirror/language-data needs, for
// dist/languages.json: {"Go": ["chunks/dist-….js", "chunks/chunk-….js"], …},
// the chunk the language's load() imports first, then every chunk it
// imports, transitively. The editor fetches them before it imports a
// language (editor.js, loadLanguage): a module whose fetch failed once is
// remembered as failed by the browser for the life of the page, so the
// import must not be tried until its files are known to arrive.
//
// Made from esbuild's metafile and language-data's source (which package
// each language's load() imports), so it follows the locked packages.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

/** language name -> the package its load() imports. */
function languagePackages() {
  const src = readFileSync(fileURLToPath(import.meta.resolve('@codemirror/language-data')), 'utf8');
  const out = {};
  for (const part of src.split('LanguageDescription.of({').slice(1)) {
    const name = /name:\s*"([^"]+)"/.exec(part);
    const pkg = /import\('([^']+)'\)/.exec(part) || (/\bsql\(/.test(part) ? [null, '@codemirror/lang-sql'] : null);
    if (name && pkg) out[name[1]] = pkg[1];
  }
  return out;
}

/** The manifest of metafile (esbuild's, with outdir dist), keys sorted. */
export function languageChunks(metafile) {
  const byEntry = new Map(); // a module's path -> the chunk that is its dynamic import
  for (const [out, o] of Object.entries(metafile.outputs)) {
    if (o.entryPoint) byEntry.set(o.entryPoint, out);
  }
  const manifest = {};
  for (const [name, pkg] of Object.entries(languagePackages()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entry = relative(process.cwd(), fileURLToPath(import.meta.resolve(pkg)));
    const first = byEntry.get(entry);
    if (!first) continue;
    const files = [];
    const visit = (out) => {
      if (files.includes(out)) return;
      files.push(out);
      for (const imp of metafile.outputs[out].imports) {
        if (imp.kind === 'import-statement' && metafile.outputs[imp.path]) visit(imp.path);
      }
    };
    visit(first);
    manifest[name] = files.map((f) => relative('dist', f));
  }
  return manifest;
}
