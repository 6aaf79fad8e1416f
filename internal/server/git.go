package server

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/gitrepo"
)

// A workspace is a git repository (a ".git" suffix is accepted):
//
//   - at /git/{workspace link}: the link is the credential, as on REST;
//     its view link clones and fetches, its edit link (the workspace's
//     owner) pushes too, deletions and renames included;
//   - at /git/{workspace handle}, with a token (a JWT, access) of the
//     workspace as the HTTP basic-auth password (any user name): view
//     clones and fetches, edit pushes edits and new files, owner pushes
//     deletions and renames too. The API token as the password is an
//     owner. Without a password the answer is 401 with WWW-Authenticate:
//     Basic, so git asks its credential helper, or the user.
//
// The repository is made from the workspace's history, and a push is
// applied to the live documents as edits (see internal/gitrepo).

// gitAccess resolves the {repo} of a git route into what the request may
// do, answering the request itself when it may do nothing.
func (s *Server) gitAccess(w http.ResponseWriter, r *http.Request) (gitrepo.Access, bool) {
	repo := strings.TrimSuffix(r.PathValue("repo"), ".git")
	if l, err := s.docs.ResolveLink(repo); err == nil && l.Kind == "workspace" {
		a := gitrepo.Access{Workspace: l.Target, Credential: "the workspace's view link"}
		if l.Mode == docs.ModeEdit {
			a = gitrepo.Access{Workspace: l.Target, Push: true, Owner: true, Credential: "the workspace's edit link"}
		}
		return a, true
	}
	ws, ok := s.handles.OpenWorkspace(repo)
	if !ok {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such workspace, or the link was rotated")
		return gitrepo.Access{}, false
	}
	_, pass, _ := r.BasicAuth()
	switch {
	case pass == "":
		w.Header().Set("WWW-Authenticate", `Basic realm="collab", charset="UTF-8"`)
		s.problem(w, r, http.StatusUnauthorized, "unauthorized", "a workspace named by its handle needs a token of it as the password (any user name)")
		return gitrepo.Access{}, false
	case s.cfg.APIToken != "" && access.TokenEqual(pass, s.cfg.APIToken):
		return gitrepo.Access{Workspace: ws, Push: true, Owner: true, Credential: "the API token"}, true
	}
	claims, err := s.tokens.Verify(r.Context(), pass)
	if err == nil {
		_, err = s.checkClaims(claims)
	}
	if err != nil {
		// Basic, so that git asks again rather than give up.
		w.Header().Set("WWW-Authenticate", `Basic realm="collab", charset="UTF-8"`)
		s.problem(w, r, http.StatusUnauthorized, tokenErrorCode(err), strings.TrimPrefix(err.Error(), "access: "))
		return gitrepo.Access{}, false
	}
	switch tokWS, ok := s.handles.OpenWorkspace(claims.Workspace); {
	case claims.Workspace == "":
		s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants one document, not its workspace: git needs a workspace token")
		return gitrepo.Access{}, false
	case !ok || tokWS != ws:
		s.problem(w, r, http.StatusForbidden, "forbidden", "the token grants another workspace")
		return gitrepo.Access{}, false
	}
	a := gitrepo.Access{Workspace: ws, Push: claims.Role != access.RoleView, Owner: claims.Role == access.RoleOwner,
		Credential: `a token with role "` + string(claims.Role) + `"`}
	if sub := cmp.Or(claims.Subject, claims.Name); sub != "" {
		a.Author, a.AuthorName = s.authorID("token", sub), claims.Name
	}
	return a, true
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
