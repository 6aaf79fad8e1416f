// Package frontend holds collab's browser code: sources in src/, bundled by
// `npm run build` (esbuild) into dist/, which is committed and embedded
// here so that the Go binary serves the editor without Node.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist is the built bundle: app.js, its chunks, style.css and the embed
// demo page.
var Dist, _ = fs.Sub(dist, "dist")
