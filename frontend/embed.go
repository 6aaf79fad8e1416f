// Package frontend holds collab's browser code: the editor, the history
// view, the workspace view and the iframe embed.
//
// The sources are in src/ (JavaScript, CodeMirror 6). `npm run build`
// bundles them with esbuild into dist/, which is committed, so building
// and running collab needs Go only; CI rebuilds dist/ and fails when it
// differs from the committed copy. This package embeds dist/ as Dist;
// internal/server serves it under /assets/.
//
// See docs/PROTOCOL.md for what the browser speaks and docs/EMBED.md for
// the embed's URL parameters and postMessage API.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist is the built bundle: app.js (the entry point of every page), its
// chunks under chunks/, style.css, and the embed demo's files.
var Dist fs.FS = mustSub(dist, "dist")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant that go:embed made sure exists
	}
	return sub
}
