// Builds dist/ from src/: one ESM entry per page kind, shared chunks, and
// the languages of @codemirror/language-data as lazily loaded chunks. The
// output depends only on the sources (no timestamps), so CI can rebuild it
// and compare with the committed copy.
import * as esbuild from 'esbuild';
import { rmSync, mkdirSync, copyFileSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist', { recursive: true });
await esbuild.build({
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
});
copyFileSync('src/style.css', 'dist/style.css');
copyFileSync('src/embed-demo.html', 'dist/embed-demo.html');
copyFileSync('src/embed-demo.js', 'dist/embed-demo.js');
