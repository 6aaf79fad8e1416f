package server

import (
	"net/http"
	"strings"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/gitrepo"
)

// A workspace is a git repository at /git/{workspace link} (a ".git"
// suffix is accepted): its view link clones and fetches, its edit link
// pushes too. The repository is made from the workspace's history, and a
// push is applied to the live documents as edits (see internal/gitrepo).

// gitAccess resolves the {repo} of a git route into what the request may
// do, answering 404 itself when it names no workspace.
func (s *Server) gitAccess(w http.ResponseWriter, r *http.Request) (gitrepo.Access, bool) {
	link := strings.TrimSuffix(r.PathValue("repo"), ".git")
	l, err := s.docs.ResolveLink(link)
	if err != nil || l.Kind != "workspace" {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such workspace, or the link was rotated")
		return gitrepo.Access{}, false
	}
	return gitrepo.Access{Workspace: l.Target, Push: l.Mode == docs.ModeEdit}, true
}

func (s *Server) handleGitInfoRefs(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.gitAccess(w, r); ok {
		s.git.ServeInfoRefs(w, r, a)
	}
}

func (s *Server) handleGitUploadPack(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.gitAccess(w, r); ok {
		s.git.ServeUploadPack(w, r, a)
	}
}

func (s *Server) handleGitReceivePack(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.gitAccess(w, r); ok {
		s.git.ServeReceivePack(w, r, a)
	}
}
