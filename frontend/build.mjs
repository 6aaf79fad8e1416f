// Builds dist/ from src/: app.js (the entry every page loads), one chunk
// per page kind, shared chunks, and the languages of
// @codemirror/language-data as chunks loaded on demand; the stylesheet
// and the embed demo's files. The output depends only on the sources and
// the locked packages (chunk names carry a hash of their content, nothing
// carries a time), so CI rebuilds it and compares with the committed copy.
// The history page has a stylesheet of its own (history.css), after style.css.
import * as esbuild from 'esbuild';
import { rmSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { languageChunks } from './languages.mjs';

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist', { recursive: true });

const app = await esbuild.build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  splitting: true,
  format: 'esm',
  outdir: 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  sourcemap: false,
  target: ['es2022'],
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
// Which chunks each language needs (see languages.mjs).
writeFileSync('dist/languages.json', JSON.stringify(languageChunks(app.metafile)) + '\n');

await esbuild.build({
  entryPoints: ['src/style.css', 'src/history.css', 'src/embed-demo.css'],
  bundle: true,
  outdir: 'dist',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});

for (const f of ['embed-demo.html', 'embed-demo.js', 'favicon.svg']) copyFileSync('src/' + f, 'dist/' + f);
