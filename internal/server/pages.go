package server

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/collab-editor/collab/frontend"
	"github.com/go-chi/chi/v5"
)

// pageRoutes adds the browser pages. Each page is a small HTML shell that
// loads the bundle; the page kind and the ids it needs are data attributes,
// so no inline script is needed (the CSP forbids it).
func (s *Server) pageRoutes(r chi.Router) {
	r.Get("/", s.page("start", "collab", ""))
	r.Get("/d/{id}", s.page("editor", "collab", "id"))
	r.Get("/d/{id}/history", s.page("history", "history — collab", "id"))
	r.Get("/w/{ws}", s.page("workspace", "workspace — collab", "ws"))
	r.Get("/embed/{id}", s.page("embed", "collab", "id"))
	r.Get("/embed-demo", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, frontend.Dist, "embed-demo.html")
	})
	assets := http.StripPrefix("/assets/", http.FileServerFS(frontend.Dist))
	r.Get("/assets/*", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/chunks/") {
			// Chunk names carry a hash of their content.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		assets.ServeHTTP(w, r)
	})
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/assets/style.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body data-page="{{.Kind}}" data-doc="{{.Doc}}" data-workspace="{{.Workspace}}" class="{{.Kind}}">
{{- if eq .Kind "start"}}
<main id="main"></main>
{{- else if eq .Kind "editor"}}
<header>
  <h1 id="title">…</h1><span id="status">connecting…</span>
  <ul id="users"></ul>
  <span id="links"></span>
  <label>Name <input id="my-name" maxlength="64" size="12"></label>
  <input id="my-color" type="color" title="Your colour">
  <button id="theme" title="Light or dark">◐</button>
</header>
<div id="editor"></div>
{{- else if eq .Kind "history"}}
<header>
  <a id="back" href="#">← editor</a>
  <input id="slider" type="range" min="0" max="0" step="1">
  <span id="rev-info"></span>
  <button id="restore">Restore this revision</button>
  <span id="error" class="error"></span>
</header>
<div id="editor"></div>
{{- else if eq .Kind "workspace"}}
<main>
  <h1>Workspace</h1>
  <div class="row"><input id="new-file-name" value="new.txt"><button id="new-file">New file</button></div>
  <ul id="files"></ul>
  <p id="error" class="error"></p>
</main>
{{- else}}
<div id="editor"></div>
{{- end}}
</body>
</html>
`))

// page serves a page shell of the given kind; param names the path value
// that goes into its data attributes.
func (s *Server) page(kind, title, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := struct{ Kind, Title, Doc, Workspace string }{Kind: kind, Title: title}
		switch param {
		case "id":
			data.Doc = r.PathValue("id")
		case "ws":
			data.Workspace = r.PathValue("ws")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if err := pageTmpl.Execute(w, data); err != nil {
			s.log.Error("rendering a page", "kind", kind, "err", err)
		}
	}
}
