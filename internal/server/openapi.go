package server

import "net/http"

// handleOpenAPI serves the OpenAPI 3.1 description of the REST API.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	s.problem(w, r, http.StatusNotImplemented, "not_implemented", "the OpenAPI document is being written")
}
