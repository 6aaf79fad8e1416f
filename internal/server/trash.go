package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/collab-editor/collab/internal/docs"
)

// Deleted files. An owner's deletion (DELETE on a document or a
// workspace's file) takes the file out of its workspace and keeps its
// history in the workspace's trash (docs.Manager.Delete): the owners list
// the trash and restore a file from it, at its path or another; the API
// token purges a file, deleted or not, and its history for good
// (?purge=true, or DELETE on the trash's file).

// deletedView is a deleted file as the trash lists it.
type deletedView struct {
	docView
	Deleted   string `json:"deleted"`             // when
	DeletedBy string `json:"deletedBy,omitempty"` // its author id
}

// purgeParam reads ?purge; true only for the API token, which it checks
// (answering the request itself when it refuses, with ok false).
func (s *Server) purgeParam(w http.ResponseWriter, r *http.Request) (purge, ok bool) {
	v := r.URL.Query().Get("purge")
	if v == "" {
		return false, true
	}
	purge, err := strconv.ParseBool(v)
	if err != nil {
		s.problem(w, r, http.StatusBadRequest, "invalid", `purge must be "true" or "false"`)
		return false, false
	}
	if purge && !s.requireAdmin(w, r) {
		return false, false
	}
	return purge, true
}

// anyDoc resolves key, a document named as the administrator may (a
// link, deleted or not, a handle, an internal id), into its internal id.
func (s *Server) anyDoc(key string) string {
	if l, err := s.docs.ResolveLink(key); err == nil && l.Kind == "doc" {
		return l.Target
	}
	if l, err := s.docs.ResolveDeletedLink(key); err == nil && l.Kind == "doc" {
		return l.Target
	}
	if id, ok := s.handles.OpenDoc(key); ok {
		return id
	}
	return key
}

// purge purges the document key names (for the API token), which must be
// of workspace ws unless ws is empty.
func (s *Server) purge(w http.ResponseWriter, r *http.Request, key, ws string) {
	id := s.anyDoc(key)
	if ws != "" {
		m, err := s.docs.Store().Meta(id)
		if errors.Is(err, docs.ErrNotFound) {
			m, err = s.docs.Store().DeletedMeta(id)
		}
		if err == nil && m.Workspace != ws {
			err = docs.ErrNotFound
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.docs.Purge(id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// purgeFile purges the {file} of workspace {ws} (the API token).
func (s *Server) purgeFile(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return
	}
	s.purge(w, r, r.PathValue("file"), wg.ws)
}

// trashAccess resolves {ws} for the trash's routes, which are its
// owners': its edit link, an owner token, the API token.
func (s *Server) trashAccess(w http.ResponseWriter, r *http.Request) (wsGrant, bool) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if ok && !wg.owner {
		s.problem(w, r, http.StatusForbidden, "forbidden", "the deleted files are the owners': the workspace's edit link, an owner token or the API token")
		return wg, false
	}
	return wg, ok
}

// handleDeletedFiles lists a workspace's deleted files, the most recently
// deleted first; ?after= the page's next.
func (s *Server) handleDeletedFiles(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil || after == 0 {
			s.problem(w, r, http.StatusBadRequest, "invalid", "after must be the next of a page of this listing")
			return
		}
	}
	wg, ok := s.trashAccess(w, r)
	if !ok {
		return
	}
	metas, err := s.docs.Store().Deleted(wg.ws, after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	files := make([]deletedView, len(metas))
	for i, m := range metas {
		files[i] = deletedView{docView: s.viewFor(m, s.fileGrant(wg, m)), Deleted: m.Deleted.UTC().Format(timeLayout), DeletedBy: m.DeletedBy}
	}
	out := map[string]any{"files": files, "handle": s.handles.Workspace(wg.ws)}
	if len(metas) == limit {
		out["next"] = strconv.FormatUint(metas[len(metas)-1].DeletedSeq, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// deletedFile resolves the {file} of a trash route: a deleted file of
// the workspace, named as its listing names it (its edit link, its
// handle, or for the API token its internal id).
func (s *Server) deletedFile(w http.ResponseWriter, r *http.Request, wg wsGrant) (docs.Meta, bool) {
	file := r.PathValue("file")
	id, ok := s.handles.OpenDoc(file)
	if !ok {
		if l, err := s.docs.ResolveDeletedLink(file); err == nil && l.Kind == "doc" {
			id = l.Target
		} else if wg.admin {
			id = file
		}
	}
	m, err := s.docs.Store().DeletedMeta(id)
	if id == "" || errors.Is(err, docs.ErrNotFound) || (err == nil && m.Workspace != wg.ws) {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such deleted file in this workspace")
		return m, false
	}
	if err != nil {
		s.fail(w, r, err)
		return m, false
	}
	return m, true
}

// handleRestoreFile restores a deleted file: at its path, or at the body's
// {"name": "other/path"} (409 conflict when another file has it).
func (s *Server) handleRestoreFile(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.trashAccess(w, r)
	if !ok {
		return
	}
	var p struct {
		Name string `json:"name"`
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		if !s.decodeJSON(w, r, &p) {
			return
		}
	}
	m, ok := s.deletedFile(w, r, wg)
	if !ok {
		return
	}
	g := s.fileGrant(wg, m)
	meta, err := s.docs.Undelete(m.ID, p.Name, docs.By{Author: s.wsAuthor(r, wg)})
	if err != nil {
		s.failFor(w, r, g, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewFor(meta, s.fileGrant(wg, meta)))
}

// handlePurgeDeleted purges a deleted file (the API token).
func (s *Server) handlePurgeDeleted(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.adminWorkspace(w, r)
	if !ok {
		return
	}
	m, ok := s.deletedFile(w, r, wg)
	if !ok {
		return
	}
	if err := s.docs.Purge(m.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
