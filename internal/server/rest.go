package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"path"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/presence"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready() {
		s.problem(w, r, http.StatusServiceUnavailable, "unavailable", "shutting down")
		return
	}
	// Still ready while the disk refuses writes: reads are served, and
	// edits get storage_full (see docs/OPERATIONS.md).
	st := map[string]string{"status": "ready", "storage": "ok"}
	if s.docs.Storage().Failing {
		st["storage"] = "failing"
	}
	writeJSON(w, http.StatusOK, st)
}

// docBody is a document with its text, as the REST API returns it.
type docBody struct {
	docView
	Text string `json:"text"`
}

// readText reads a request body holding text: JSON {"text": ...} (with
// other fields into extra) or a raw text/plain or octet-stream body.
func (s *Server) readText(w http.ResponseWriter, r *http.Request, extra any) (string, bool) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		s.problem(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "unreadable Content-Type")
		return "", false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body over %d bytes", mbe.Limit))
			return "", false
		}
		s.problem(w, r, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
		return "", false
	}
	switch {
	case ct == "application/json":
		var v struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			s.problem(w, r, http.StatusBadRequest, "bad_request", "body is not valid JSON: "+err.Error())
			return "", false
		}
		if err := exactNames(body, reflect.TypeOf(v)); err != nil {
			s.problem(w, r, http.StatusBadRequest, "bad_request", "body: "+err.Error())
			return "", false
		}
		if extra != nil {
			if err := json.Unmarshal(body, extra); err != nil {
				s.problem(w, r, http.StatusBadRequest, "bad_request", "body is not valid JSON: "+err.Error())
				return "", false
			}
			if err := exactNames(body, reflect.TypeOf(extra)); err != nil {
				s.problem(w, r, http.StatusBadRequest, "bad_request", "body: "+err.Error())
				return "", false
			}
		}
		if v.Text == nil {
			s.problem(w, r, http.StatusBadRequest, "bad_request", `body needs a "text" field`)
			return "", false
		}
		return *v.Text, true
	case ct == "" || strings.HasPrefix(ct, "text/") || ct == "application/octet-stream":
		if !utf8.Valid(body) {
			s.problem(w, r, http.StatusBadRequest, "invalid", "the body is not UTF-8 text")
			return "", false
		}
		return string(body), true
	}
	s.problem(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json or text/plain")
	return "", false
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Name      string `json:"name"`
		Language  string `json:"language"`
		Workspace string `json:"workspace"`
	}
	text, ok := s.readText(w, r, &p)
	if !ok {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		q := r.URL.Query()
		p.Name, p.Language, p.Workspace = q.Get("name"), q.Get("language"), q.Get("workspace")
	}
	// A workspace is named by its edit link (or, with a token, its
	// handle); without one, the document gets a workspace of its own.
	var wg wsGrant
	if p.Workspace != "" {
		var ok bool
		if wg, ok = s.workspaceAccess(w, r, p.Workspace); !ok {
			return
		}
		if wg.mode != docs.ModeEdit {
			s.problem(w, r, http.StatusForbidden, "forbidden", "this workspace link or token is view-only")
			return
		}
	}
	meta, err := s.docs.Create(docs.CreateParams{Name: p.Name, Text: text, Language: p.Language, Workspace: wg.ws, Author: s.wsAuthor(r, wg)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if wg.token != nil {
		// No link: the token's holder has the document for as long as
		// the token lasts, no longer.
		g := s.fileGrant(wg, meta)
		v := s.viewFor(meta, g)
		w.Header().Set("Location", "/api/docs/"+g.handle)
		w.Header().Set("ETag", docTag(v))
		writeJSON(w, http.StatusCreated, createdBody{docBody: docBody{docView: v, Text: text}})
		return
	}
	wsp, err := s.docs.GetWorkspace(meta.Workspace)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g := grant{doc: meta.ID, mode: docs.ModeEdit, link: meta.EditLink}
	v := s.viewFor(meta, g)
	w.Header().Set("Location", "/api/docs/"+meta.EditLink)
	w.Header().Set("ETag", docTag(v))
	writeJSON(w, http.StatusCreated, createdBody{docBody: docBody{docView: v, Text: text},
		WorkspaceLinks: &linksView{Edit: wsp.EditLink, View: wsp.ViewLink}})
}

// createdBody is a new document, with its workspace's links (none when
// it was made with a token).
type createdBody struct {
	docBody
	WorkspaceLinks *linksView `json:"workspaceLinks,omitempty"`
}

func (s *Server) handleCreateWorkspace(w http.ResponseWriter, r *http.Request) {
	wsp, err := s.docs.CreateWorkspace()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/workspaces/"+wsp.EditLink+"/files")
	writeJSON(w, http.StatusCreated, map[string]any{"id": wsp.EditLink, "links": linksView{Edit: wsp.EditLink, View: wsp.ViewLink},
		"handle": s.handles.Workspace(wsp.ID), "created": wsp.Created.UTC().Format(timeLayout)})
}

// authorOf names the caller of a REST write.
func authorOf(r *http.Request) string {
	if a := r.Header.Get("X-Collab-Author"); validID(a) {
		return a
	}
	return "api"
}

// docTag is the ETag of a document shown at v.Rev: its revision and a hash
// of the metadata shown with it, so that a rename changes it too.
func docTag(v docView) string {
	h := fnv.New32a()
	json.NewEncoder(h).Encode(v)
	return fmt.Sprintf("\"%s-%d.%08x\"", v.ID, v.Rev, h.Sum32())
}

// ifMatchRev reads the revision of an If-Match header: "<rev>", or an
// ETag of this API ("<id>-<rev>" or "<id>-<rev>.<hash>"). "*" asks for
// no condition.
func ifMatchRev(h string) (rev *uint64, ok bool) {
	if h == "*" {
		return nil, true
	}
	v, quoted := strings.CutPrefix(h, `"`)
	v, closed := strings.CutSuffix(v, `"`)
	if quoted != closed {
		return nil, false
	}
	v, _, _ = strings.Cut(v, ".")
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[i+1:]
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, false
	}
	return &n, true
}

// revParam reads ?name=N as a revision; def when absent.
func revParam(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not a revision number", docs.ErrInvalid, name, v)
	}
	return n, nil
}

// textAt returns the document's metadata and text at ?rev (head when absent).
func (s *Server) textAt(r *http.Request, id string) (docs.Meta, string, bool, error) {
	meta, text, err := s.docs.Head(id)
	if err != nil {
		return meta, "", false, err
	}
	rev, err := revParam(r, "rev", meta.Rev)
	if err != nil {
		return meta, "", false, err
	}
	if rev == meta.Rev {
		return meta, text.String(), false, nil
	}
	old, err := s.docs.TextAt(id, rev)
	if err != nil {
		return meta, "", false, err
	}
	meta.Rev = rev
	return meta, old.String(), true, nil
}

// cacheHeaders sets ETag and Cache-Control, and answers 304 when the
// client's copy is current. A past revision never changes: it may be kept
// for a year, by the caller only (private), since its URL holds a link or
// token that rotation or expiry revokes.
func cacheHeaders(w http.ResponseWriter, r *http.Request, tag string, immutable bool) bool {
	w.Header().Set("ETag", tag)
	if immutable {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// noneMatch reports whether an If-None-Match header lists tag (weak
// comparison, as RFC 9110 asks) or is "*".
func noneMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	meta, text, past, err := s.textAt(r, g.doc)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	v := s.viewFor(meta, g)
	if cacheHeaders(w, r, docTag(v), past) {
		return
	}
	writeJSON(w, http.StatusOK, docBody{docView: v, Text: text})
}

func (s *Server) handleRaw(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	meta, text, past, err := s.textAt(r, g.doc)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	if cacheHeaders(w, r, docTag(s.viewFor(meta, g)), past) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(meta.Name)}))
	io.WriteString(w, text)
}

func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	text, ok := s.readText(w, r, nil)
	if !ok {
		return
	}
	var ifRev *uint64
	if im := r.Header.Get("If-Match"); im != "" {
		var ok bool
		if ifRev, ok = ifMatchRev(im); !ok {
			s.problem(w, r, http.StatusBadRequest, "bad_request", `If-Match must be "<rev>" or an ETag of this API`)
			return
		}
	}
	var key docs.Key
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		key = docs.Key{Scope: keyScope(g), Name: k}
	}
	id := g.doc
	res, err := s.docs.Put(id, text, s.restAuthor(r, g), key, ifRev)
	if err != nil {
		switch {
		case errors.Is(err, docs.ErrConflict) && ifRev != nil:
			s.problem(w, r, http.StatusPreconditionFailed, "precondition_failed", err.Error())
		default:
			s.failFor(w, r, g, err)
		}
		return
	}
	if res.Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	meta, err := s.docs.Store().Meta(id)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	v := s.viewFor(meta, g)
	w.Header().Set("ETag", docTag(v))
	writeJSON(w, http.StatusOK, map[string]any{"doc": v, "rev": res.Rev, "op": res.Op})
}

// keyScope is the scope of a PUT's Idempotency-Key: the credential that
// names the caller, as far as one does. The API token is one caller; a
// token's caller is its subject (or else its user name); everyone holding
// the document's edit link is one caller.
func keyScope(g grant) string {
	switch {
	case g.admin:
		return "admin"
	case g.byToken():
		h := sha256.Sum256([]byte(g.subject))
		return "token-" + hex.EncodeToString(h[:12])
	}
	return "link"
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	var p struct {
		Name     string `json:"name"`
		Language string `json:"language"`
		Settings *struct {
			ViewerEvents *bool `json:"viewerEvents"`
		} `json:"settings"`
	}
	if !s.decodeJSON(w, r, &p) {
		return
	}
	// Renaming and moving are a token's owner's (a document's edit link
	// renames it, as it always has).
	if p.Name != "" && g.byToken() && !g.canManage() {
		s.problem(w, r, http.StatusForbidden, "forbidden", "renaming or moving a document takes an owner token")
		return
	}
	var meta docs.Meta
	var err error
	if p.Settings == nil || p.Name != "" || p.Language != "" {
		if meta, err = s.docs.Update(g.doc, p.Name, p.Language, docs.By{Author: s.restAuthor(r, g)}); err != nil {
			s.failFor(w, r, g, err)
			return
		}
	}
	if p.Settings != nil {
		set := *p.Settings
		if meta, err = s.docs.UpdateSettings(g.doc, func(st *docs.Settings) {
			if set.ViewerEvents != nil {
				st.ViewerEvents = *set.ViewerEvents
			}
		}); err != nil {
			s.failFor(w, r, g, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.viewFor(meta, g))
}

// decodeJSON decodes a JSON request body into v, answering errors itself.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		s.problem(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json")
		return false
	}
	var read bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(r.Body, &read))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		err = exactNames(read.Bytes()[:dec.InputOffset()], reflect.TypeOf(v))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return false
		}
		s.problem(w, r, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return false
	}
	return true
}

// handleDelete deletes a document (see trash.go): the API token or an
// owner token (a workspace's edit link deletes its files on the
// workspace's own route). With ?purge=true, the API token purges it.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if purge, ok := s.purgeParam(w, r); !ok || purge {
		if ok {
			s.purge(w, r, r.PathValue("id"), "")
		}
		return
	}
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	if !g.canManage() {
		s.problem(w, r, http.StatusForbidden, "forbidden", "deleting a document takes an owner token, the API token, or its workspace's edit link (DELETE /api/workspaces/{ws}/files/{id})")
		return
	}
	if err := s.docs.Delete(g.doc, docs.By{Author: s.restAuthor(r, g)}); err != nil {
		s.failFor(w, r, g, err)
		return
	}
	s.tellDeleted(g.doc)
	w.WriteHeader(http.StatusNoContent)
}

func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: limit must be 1-%d", docs.ErrInvalid, max)
	}
	return n, nil
}

func (s *Server) revViews(revs []docs.Revision) []revView {
	out := make([]revView, len(revs))
	users := map[string]string{}
	for i, r := range revs {
		out[i] = revView{Rev: r.Rev, Op: r.Op, Author: r.Author, ID: s.publicOpID(r, users), Time: r.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	}
	return out
}

func (s *Server) handleRevisions(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	after, err := revParam(r, "after", 0)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	revs, err := s.docs.Revisions(g.doc, after, limit)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	ids := make([]string, len(revs))
	for i, rv := range revs {
		ids[i] = rv.Author
	}
	authors, err := s.authorNames(g.doc, ids)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	out := map[string]any{"revisions": s.revViews(revs), "authors": authors}
	if len(revs) == limit {
		out["next"] = revs[len(revs)-1].Rev
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRevision(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	id := g.doc
	rev, err := strconv.ParseUint(r.PathValue("rev"), 10, 64)
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "invalid", "revision must be a number")
		return
	}
	rv, err := s.docs.Revision(id, rev)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	authors, err := s.authorNames(id, []string{rv.Author})
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	// The revision never changes; its author's name may: revalidated.
	if cacheHeaders(w, r, namesTag(fmt.Sprintf("%s-%d", g.publicID(), rev), authors), false) {
		return
	}
	writeJSON(w, http.StatusOK, revisionBody{revView: s.revViews([]docs.Revision{rv})[0], Authors: authors})
}

func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	id := g.doc
	meta, err := s.docs.Store().Meta(id)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	from, err := revParam(r, "from", 0)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	to, err := revParam(r, "to", meta.Rev)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	if from > meta.Rev || to > meta.Rev {
		s.failFor(w, r, g, fmt.Errorf("%w: revision beyond head %d", docs.ErrNotFound, meta.Rev))
		return
	}
	// The two formats are two representations of one URL: they have
	// different tags, and caches must key them by Accept. Without an
	// explicit to, the diff runs to the head and changes with it.
	w.Header().Set("Vary", "Accept")
	immutable := r.URL.Query().Has("to")
	if wantsUnified(r) {
		a, err := s.docs.TextAt(id, from)
		if err != nil {
			s.failFor(w, r, g, err)
			return
		}
		b, err := s.docs.TextAt(id, to)
		if err != nil {
			s.failFor(w, r, g, err)
			return
		}
		context, err := contextParam(r)
		if err != nil {
			s.failFor(w, r, g, err)
			return
		}
		text, err := docs.UnifiedContext(fmt.Sprintf("a/%s@%d", meta.Name, from), fmt.Sprintf("b/%s@%d", meta.Name, to), a.String(), b.String(), context)
		if err != nil {
			s.failFor(w, r, g, err)
			return
		}
		h := fnv.New32a()
		io.WriteString(h, meta.Name) // in the diff's header lines
		fmt.Fprintf(h, "\x00%d", context)
		if cacheHeaders(w, r, fmt.Sprintf("\"%s-%d-%d-unified.%08x\"", g.publicID(), from, to, h.Sum32()), immutable) {
			return
		}
		w.Header().Set("Content-Type", "text/x-diff; charset=utf-8")
		io.WriteString(w, text)
		return
	}
	op, err := s.docs.Changes(id, from, to)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	if cacheHeaders(w, r, fmt.Sprintf("\"%s-%d-%d-op\"", g.publicID(), from, to), immutable) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "op": op})
}

// contextParam reads ?context=N, the lines of context of a unified diff
// (default 3).
func contextParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("context")
	if v == "" {
		return 3, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxContext {
		return 0, fmt.Errorf("%w: context must be 0-%d lines", docs.ErrInvalid, maxContext)
	}
	return n, nil
}

// maxContext bounds ?context: more than any document has lines.
const maxContext = 10_000_000

// wantsUnified: ?format=unified, or an Accept header preferring text/x-diff.
func wantsUnified(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "unified":
		return true
	case "op":
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/x-diff")
}

func (s *Server) handleBlame(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	id := g.doc
	meta, err := s.docs.Store().Meta(id)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	rev, err := revParam(r, "rev", meta.Rev)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	lines, err := s.docs.Blame(id, rev)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.Author
	}
	authors, err := s.authorNames(id, ids)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	// A past revision's blame never changes; its authors' names may.
	if cacheHeaders(w, r, namesTag(fmt.Sprintf("%s-%d-blame", g.publicID(), rev), authors), false) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rev": rev, "lines": lines, "authors": authors})
}

func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	var p struct {
		Rev *uint64 `json:"rev"`
	}
	if !s.decodeJSON(w, r, &p) {
		return
	}
	if p.Rev == nil {
		s.problem(w, r, http.StatusBadRequest, "bad_request", `body needs "rev"`)
		return
	}
	res, err := s.docs.Restore(g.doc, *p.Rev, s.restAuthor(r, g))
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rev": res.Rev, "restored": *p.Rev})
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	after, err := revParam(r, "after", 0)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	msgs, err := s.docs.Chat(g.doc, after, limit)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	if msgs == nil {
		msgs = []docs.ChatMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	id := g.doc
	meta, err := s.docs.Store().Meta(id)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	users, rev := []presence.User{}, meta.Rev
	s.mu.Lock()
	room := s.rooms[id]
	s.mu.Unlock()
	if room != nil {
		room.mu.Lock()
		users, rev = room.userList(), room.pubRev
		room.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"rev": rev, "users": users})
}

func (s *Server) handleWorkspaceFiles(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return
	}
	q := r.URL.Query()
	metas, err := s.docs.Store().List(wg.ws, q.Get("prefix"), q.Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	files := make([]docView, len(metas))
	for i, m := range metas {
		files[i] = s.viewFor(m, s.fileGrant(wg, m))
	}
	out := map[string]any{"files": files, "handle": s.handles.Workspace(wg.ws)}
	if len(metas) == limit {
		out["next"] = metas[len(metas)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
}

// workspaceFile resolves the {file} of a workspace's file route, a
// document of the workspace {ws} named by a link or its handle, for a
// caller who may rename, move and delete the workspace's files: the
// workspace's edit link, an owner token of it, or the API token.
func (s *Server) workspaceFile(w http.ResponseWriter, r *http.Request) (wsGrant, grant, bool) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return wg, grant{}, false
	}
	if !wg.owner {
		s.problem(w, r, http.StatusForbidden, "forbidden", "renaming, moving and deleting files takes the workspace's edit link, an owner token or the API token")
		return wg, grant{}, false
	}
	file := r.PathValue("file")
	doc, ok := s.handles.OpenDoc(file)
	if !ok {
		if l, err := s.docs.ResolveLink(file); err == nil && l.Kind == "doc" {
			doc = l.Target
		} else if wg.admin {
			doc = file
		}
	}
	meta, err := s.docs.Store().Meta(doc)
	if doc == "" || errors.Is(err, docs.ErrNotFound) || (err == nil && meta.Workspace != wg.ws) {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such file in this workspace")
		return wg, grant{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return wg, grant{}, false
	}
	g := s.fileGrant(wg, meta)
	if wg.token != nil {
		g.handle = file
	}
	return wg, g, true
}

// handleRenameFile renames or moves a file of a workspace: PATCH with
// {"name": "new/path.go"} (and optionally "language").
func (s *Server) handleRenameFile(w http.ResponseWriter, r *http.Request) {
	wg, g, ok := s.workspaceFile(w, r)
	if !ok {
		return
	}
	var p struct {
		Name     string `json:"name"`
		Language string `json:"language"`
	}
	if !s.decodeJSON(w, r, &p) {
		return
	}
	if p.Name == "" && p.Language == "" {
		s.problem(w, r, http.StatusBadRequest, "bad_request", `body needs "name" or "language"`)
		return
	}
	meta, err := s.docs.Update(g.doc, p.Name, p.Language, docs.By{Author: s.wsAuthor(r, wg)})
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewFor(meta, g))
}

// handleDeleteFile deletes a file of a workspace (see trash.go); its
// sessions are closed (4002). With ?purge=true, the API token purges it.
func (s *Server) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	if purge, ok := s.purgeParam(w, r); !ok || purge {
		if ok {
			s.purgeFile(w, r)
		}
		return
	}
	wg, g, ok := s.workspaceFile(w, r)
	if !ok {
		return
	}
	if err := s.docs.Delete(g.doc, docs.By{Author: s.wsAuthor(r, wg)}); err != nil {
		s.failFor(w, r, g, err)
		return
	}
	s.tellDeleted(g.doc)
	w.WriteHeader(http.StatusNoContent)
}
