package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/collab-editor/collab/frontend"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/go-chi/chi/v5"
)

// pageRoutes adds the browser pages and their assets (frontend/dist,
// embedded in the binary). A page is a small HTML shell naming its kind
// and ids in data attributes of <body>; /assets/app.js does the rest, so
// no page needs an inline script (the CSP forbids them).
func (s *Server) pageRoutes(r chi.Router) {
	a := &assets{files: map[string]*asset{}}
	r.Get("/", s.handlePage("start"))
	r.Get("/d/{id}", s.handlePage("editor"))
	r.Get("/d/{id}/history", s.handlePage("history"))
	r.Get("/w/{ws}", s.handlePage("workspace"))
	r.Get("/embed/{id}", s.handlePage("embed"))
	r.Get("/embed-demo", func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, "embed-demo.html", s)
	})
	r.Get("/assets/*", func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, strings.TrimPrefix(r.URL.Path, "/assets/"), s)
	})
}

// pageData fills the page template.
type pageData struct {
	Kind      string // start, editor, history, workspace, embed
	Doc       string // the {id} of the URL: a document link (or its handle, with a token)
	Workspace string // the {ws} of the URL
	Missing   bool   // the link resolves to nothing: a 404 page
}

// handlePage serves the shell of one kind of page. Pages of a document or
// a workspace answer 404 when the link resolves to nothing (an embed with
// a token names the document by id, which is checked over the WebSocket
// instead).
func (s *Server) handlePage(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := pageData{Kind: kind, Doc: r.PathValue("id"), Workspace: r.PathValue("ws")}
		status := http.StatusOK
		switch {
		case d.Doc != "" && !(kind == "embed" && r.URL.Query().Has("token")):
			d.Missing = !s.linkExists(d.Doc, "doc")
		case d.Workspace != "":
			d.Missing = !s.linkExists(d.Workspace, "workspace")
		}
		if d.Missing {
			status = http.StatusNotFound
		}
		var buf bytes.Buffer
		if err := pageTmpl.Execute(&buf, d); err != nil {
			s.log.Error("rendering a page", "kind", kind, "err", err)
			s.problem(w, r, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(status)
		w.Write(buf.Bytes())
	}
}

// linkExists reports whether key is a live link of the given kind ("doc"
// or "workspace").
func (s *Server) linkExists(key, kind string) bool {
	l, err := s.docs.ResolveLink(key)
	if errors.Is(err, docs.ErrNotFound) {
		return false
	}
	// On any other error the page loads and the app reports what it finds.
	return err != nil || l.Kind == kind
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{if .Missing}}not found — {{end}}collab</title>
<link rel="icon" href="/assets/favicon.svg">
<link rel="stylesheet" href="/assets/style.css">
{{- if eq .Kind "history"}}
<link rel="stylesheet" href="/assets/history.css">
{{- end}}
{{- if not .Missing}}
<script type="module" src="/assets/app.js"></script>
{{- end}}
</head>
{{- if .Missing}}
<body class="missing">
<main class="start">
<h1>Not found</h1>
<p>There is no such {{if .Workspace}}workspace{{else}}document{{end}}, or its link was changed.</p>
<p><a href="/">Start page</a></p>
</main>
{{- else}}
<body data-page="{{.Kind}}" data-doc="{{.Doc}}" data-workspace="{{.Workspace}}" class="{{.Kind}}">
{{- if eq .Kind "start"}}
<main class="start">
<h1>collab</h1>
<p>Edit code together, live. Create a file, then share its link.</p>
<form id="new-file-form" class="row">
  <input id="new-name" value="untitled.txt" aria-label="File name" size="30">
  <button id="new-file">New file</button>
</form>
<div class="row"><button id="new-workspace">New workspace</button>
<span class="muted">a set of files edited together</span></div>
<p id="error" class="error" role="alert"></p>
<section id="recent-section" hidden>
<h2>Recent</h2>
<ul id="recent"></ul>
</section>
</main>
{{- else if eq .Kind "editor"}}
<header class="bar">
  <a class="home" href="/" title="Start page">collab</a>
  <h1 id="title">…</h1>
  <span id="status" data-state="connecting" role="status">connecting…</span>
  <ul id="users" aria-label="Who is here"></ul>
  <span class="spacer"></span>
  <nav id="links"></nav>
  <span class="profile">
    <label>Name <input id="my-name" maxlength="64" size="14"></label>
    <input id="my-color" type="color" title="Your colour" aria-label="Your colour">
  </span>
  <button id="theme" title="Light or dark">◐</button>
</header>
<div id="notice" role="alert" hidden></div>
<div id="editor"></div>
{{- else if eq .Kind "history"}}
<header class="bar">
  <a id="back" href="#">← editor</a>
  <h1 id="title">History</h1>
  <span class="spacer"></span>
  <button id="side-toggle" class="hist-narrow" aria-controls="hist-side" aria-expanded="false">Sessions ▾</button>
  <button id="theme" title="Light or dark">◐</button>
</header>
<p id="error" class="error" role="alert"></p>
<div class="hist-body">
  <aside id="hist-side" aria-label="Edit sessions and named versions">
    <section id="labels-section" hidden>
      <h2>Named versions</h2>
      <ul id="labels"></ul>
    </section>
    <section>
      <h2>Edit sessions</h2>
      <ol id="sessions"></ol>
      <button id="more-sessions" class="link" hidden>Older sessions</button>
      <p id="no-sessions" class="muted" hidden>No edits yet.</p>
    </section>
  </aside>
  <main id="hist-main">
    <div class="hist-timeline">
      <button id="older" title="Older revision" aria-label="Older revision">‹</button>
      <div id="track"><div id="band" hidden></div><input id="slider" type="range" min="0" max="0" step="1" aria-label="Revision"><div id="marks"></div></div>
      <button id="newer" title="Newer revision" aria-label="Newer revision">›</button>
    </div>
    <div class="hist-toolbar">
      <span class="seg" role="group" aria-label="Show">
        <button id="tab-diff" aria-pressed="false" title="What changed">Changes</button><button id="tab-text" aria-pressed="false" title="The whole text at this revision, with who wrote each line">Text</button>
      </span>
      <span id="layout" class="seg hist-wide" role="group" aria-label="Diff layout">
        <button id="layout-unified" aria-pressed="true">Unified</button><button id="layout-split" aria-pressed="false">Side by side</button>
      </span>
      <button id="label-add" hidden>Name this version…</button>
      <button id="restore" hidden>Restore</button>
      <form id="compare" class="hist-compare">
        <label>Compare r<input id="cmp-from" inputmode="numeric" pattern="[0-9]*" autocomplete="off" aria-label="From revision"></label>
        <label>→ r<input id="cmp-to" inputmode="numeric" pattern="[0-9]*" autocomplete="off" aria-label="To revision"></label>
        <button>Compare</button>
      </form>
    </div>
    <form id="label-form" class="hist-label-form" hidden>
      <label id="label-for" for="label-name">Name this revision:</label>
      <input id="label-name" maxlength="200" required placeholder="v1.2 sent to review" autocomplete="off">
      <button>Save</button>
      <button type="button" id="label-cancel" class="link">Cancel</button>
    </form>
    <p id="rev-info" role="status"></p>
    <div id="editor"></div>
    <div id="diff" hidden></div>
  </main>
</div>
{{- else if eq .Kind "workspace"}}
<main class="workspace">
<p><a class="home" href="/">collab</a></p>
<h1>Workspace</h1>
<form id="new-file-form" class="row">
  <input id="new-file-name" placeholder="src/main.go" aria-label="New file name" size="30">
  <button id="new-file">New file</button>
  <button type="button" id="refresh" class="link">refresh</button>
</form>
<p id="error" class="error" role="alert"></p>
<ul id="tree" aria-label="Files"></ul>
<p id="empty" class="muted" hidden>No files yet.</p>
</main>
{{- else}}
<div id="editor"></div>
{{- end}}
{{- end}}
</body>
</html>
`))

// assets serves frontend.Dist: gzip-compressed when the browser takes it,
// with an ETag of the content. Chunks carry a hash of their content in
// their name and are cached for good; other files are revalidated.
type assets struct {
	mu    sync.Mutex        // guards files
	files map[string]*asset // loaded on first use
}

// An asset is one file, as is and gzipped (gz is nil when that does not
// make it smaller). Each form has its own ETag.
type asset struct {
	body, gz    []byte
	ctype, etag string
}

var errIsDir = errors.New("a directory")

func (a *assets) get(name string) (*asset, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.files[name]; ok {
		return f, nil
	}
	if st, err := fs.Stat(frontend.Dist, name); err != nil {
		return nil, err
	} else if st.IsDir() {
		return nil, errIsDir
	}
	body, err := fs.ReadFile(frontend.Dist, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	f := &asset{body: body, ctype: mime.TypeByExtension(path.Ext(name)), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	if len(body) > 512 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if b.Len() < len(body) {
			f.gz = b.Bytes()
		}
	}
	a.files[name] = f
	return f, nil
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string, s *Server) {
	if name == "" || !fs.ValidPath(name) {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such asset")
		return
	}
	f, err := a.get(name)
	if err != nil {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such asset")
		return
	}
	body, tag := f.body, f.etag
	gz := f.gz != nil && acceptsGzip(r)
	if gz {
		body, tag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", tag)
	h.Set("Vary", "Accept-Encoding")
	if strings.HasPrefix(name, "chunks/") {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == "*" || strings.Contains(inm, tag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	w.Write(body)
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (a "gzip;q=0" refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
