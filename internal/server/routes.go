package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes lists every route of the server.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.securityHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "not_found", "no such route")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
	})

	r.Get("/healthz", s.handleHealth)
	r.Get("/readyz", s.handleReady)
	r.Method(http.MethodGet, "/metrics", s.metrics.handler())
	if s.cfg.Pprof {
		r.Mount("/debug", middleware.Profiler())
	}

	s.pageRoutes(r)

	// A workspace as a git repository (smart HTTP; see git.go).
	r.Get("/git/{repo}/info/refs", s.handleGitInfoRefs)
	r.Post("/git/{repo}/git-upload-pack", s.handleGitUploadPack)
	r.Post("/git/{repo}/git-receive-pack", s.handleGitReceivePack)

	r.Route("/api", func(r chi.Router) {
		r.Use(s.cors, s.limitBody)
		r.Get("/openapi.json", s.handleOpenAPI)
		r.Get("/openapi.yaml", s.handleOpenAPIYAML)
		r.Post("/docs", s.handleCreate)
		r.Get("/docs", s.handleListAll)
		r.Post("/workspaces", s.handleCreateWorkspace)
		r.Post("/workspaces/import", s.handleImport)
		r.Post("/workspaces/{ws}/rotate", s.handleRotateWorkspace)
		r.Post("/workspaces/{ws}/embed-tokens", s.handleWorkspaceToken)
		r.Post("/docs/{id}/rotate", s.handleRotate)
		r.Post("/docs/{id}/embed-tokens", s.handleEmbedToken)
		r.Get("/docs/{id}", s.handleGet)
		r.Put("/docs/{id}", s.handlePut)
		r.Patch("/docs/{id}", s.handlePatch)
		r.Delete("/docs/{id}", s.handleDelete)
		r.Get("/docs/{id}/raw", s.handleRaw)
		r.Get("/docs/{id}/revisions", s.handleRevisions)
		r.Get("/docs/{id}/revisions/{rev}", s.handleRevision)
		r.Get("/docs/{id}/diff", s.handleDiff)
		r.Get("/docs/{id}/blame", s.handleBlame)
		r.Get("/docs/{id}/sessions", s.handleSessions)
		r.Get("/docs/{id}/labels", s.handleLabels)
		r.Post("/docs/{id}/labels", s.handleAddLabel)
		r.Delete("/docs/{id}/labels/{label}", s.handleDeleteLabel)
		r.Post("/docs/{id}/restore", s.handleRestore)
		r.Get("/docs/{id}/chat", s.handleChat)
		r.Get("/docs/{id}/presence", s.handlePresence)
		r.Post("/docs/{id}/events", s.handleDocEvents)
		r.Get("/docs/{id}/events", s.handleDocStream)
		r.Post("/admin/events", s.handleAdminEvents)
		r.Get("/admin/events", s.handleAdminStream)
		r.Get("/workspaces/{ws}/events", s.handleWorkspaceStream)
		// Webhooks: a workspace's, and the server-wide ones.
		for _, base := range []string{"/workspaces/{ws}/hooks", "/admin/hooks"} {
			r.Get(base, s.handleListHooks)
			r.Post(base, s.handleCreateHook)
			r.Get(base+"/{hook}", s.handleGetHook)
			r.Patch(base+"/{hook}", s.handlePatchHook)
			r.Delete(base+"/{hook}", s.handleDeleteHook)
			r.Get(base+"/{hook}/deliveries", s.handleHookDeliveries)
			r.Post(base+"/{hook}/deliveries/{event}/redeliver", s.handleRedeliver)
		}
		r.Get("/admin/backup", s.handleBackup)
		r.Get("/docs/{id}/ws", s.handleWS) // ServeHTTP takes it before the router: see there
		r.Get("/workspaces/{ws}/files", s.handleWorkspaceFiles)
		r.Patch("/workspaces/{ws}/files/{file}", s.handleRenameFile)
		r.Delete("/workspaces/{ws}/files/{file}", s.handleDeleteFile)
		r.Get("/workspaces/{ws}/export", s.handleExport)
	})
	return r
}
