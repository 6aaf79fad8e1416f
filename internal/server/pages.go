package server

import "github.com/go-chi/chi/v5"

// pageRoutes adds the browser pages (filled in with the frontend).
func (s *Server) pageRoutes(r chi.Router) {}
