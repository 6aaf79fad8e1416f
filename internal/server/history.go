package server

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"

	"github.com/collab-editor/collab/internal/docs"
)

// The history that people read: edit sessions and labels (named
// versions), with their authors' names. Every answer that shows authors
// carries an "authors" object: author id -> {name, color}, for each
// author it mentions whose name the server keeps (see authors.go).

// revisionBody is one revision with its author's name.
type revisionBody struct {
	revView
	Authors map[string]docs.AuthorProfile `json:"authors"`
}

// namesTag is the ETag of an answer about what never changes (tag) that
// shows the names of authors, which do.
func namesTag(tag string, authors map[string]docs.AuthorProfile) string {
	h := fnv.New32a()
	json.NewEncoder(h).Encode(authors) // maps encode in key order
	return fmt.Sprintf("\"%s.%08x\"", tag, h.Sum32())
}

// sessionView is an edit session on the wire.
type sessionView struct {
	First     uint64      `json:"first"`
	Last      uint64      `json:"last"`
	Revisions uint64      `json:"revisions"`
	Start     string      `json:"start"`
	End       string      `json:"end"`
	Authors   []string    `json:"authors"`
	Added     int         `json:"added"`
	Removed   int         `json:"removed"`
	Labels    []labelView `json:"labels"`
}

// labelView is a label on the wire.
type labelView struct {
	ID      string `json:"id"`
	Rev     uint64 `json:"rev"`
	Name    string `json:"name"`
	Author  string `json:"author,omitempty"`
	Created string `json:"created"`
}

func viewOfLabel(l docs.Label) labelView {
	return labelView{ID: l.ID, Rev: l.Rev, Name: l.Name, Author: l.Author, Created: l.Created.UTC().Format(timeLayout)}
}

// handleSessions lists a document's edit sessions, the newest first.
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	before, err := revParam(r, "before", 0)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	sessions, err := s.docs.Sessions(g.doc, before, limit)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	out := make([]sessionView, len(sessions))
	var ids []string
	for i, ss := range sessions {
		out[i] = sessionView{First: ss.First, Last: ss.Last, Revisions: ss.Last - ss.First + 1,
			Start: ss.Start.UTC().Format(timeLayout), End: ss.End.UTC().Format(timeLayout),
			Authors: ss.Authors, Added: ss.Added, Removed: ss.Removed, Labels: make([]labelView, len(ss.Labels))}
		for j, l := range ss.Labels {
			out[i].Labels[j] = viewOfLabel(l)
			ids = append(ids, l.Author)
		}
		ids = append(ids, ss.Authors...)
	}
	authors, err := s.authorNames(g.doc, ids)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	page := map[string]any{"sessions": out, "authors": authors}
	if len(out) == limit && out[len(out)-1].First > 1 {
		page["next"] = out[len(out)-1].First
	}
	writeJSON(w, http.StatusOK, page)
}

// handleLabels lists a document's labels in revision order.
func (s *Server) handleLabels(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, false)
	if !ok {
		return
	}
	labels, err := s.docs.Labels(g.doc)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	out := make([]labelView, len(labels))
	ids := make([]string, len(labels))
	for i, l := range labels {
		out[i], ids[i] = viewOfLabel(l), l.Author
	}
	authors, err := s.authorNames(g.doc, ids)
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"labels": out, "authors": authors})
}

// handleAddLabel names a revision (edit access).
func (s *Server) handleAddLabel(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	var p struct {
		Rev  *uint64 `json:"rev"`
		Name string  `json:"name"`
	}
	if !s.decodeJSON(w, r, &p) {
		return
	}
	if p.Rev == nil {
		s.problem(w, r, http.StatusBadRequest, "bad_request", `body needs "rev" and "name"`)
		return
	}
	l, err := s.docs.AddLabel(g.doc, *p.Rev, p.Name, s.restAuthor(r, g))
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewOfLabel(l))
}

// handleDeleteLabel removes a label (edit access).
func (s *Server) handleDeleteLabel(w http.ResponseWriter, r *http.Request) {
	g, ok := s.access(w, r, true)
	if !ok {
		return
	}
	if err := s.docs.DeleteLabel(g.doc, r.PathValue("label")); err != nil {
		s.failFor(w, r, g, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
