package server

import (
	"net/http"
	"strconv"
)

// handleBackup streams a consistent copy of the whole store, a standalone
// bbolt file holding every edit acknowledged before the request
// (administrators only). Restoring it: docs/OPERATIONS.md.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	b, err := s.docs.Backup()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer b.Close()
	name := "collab-" + s.cfg.Now().UTC().Format("20060102T150405Z") + ".db"
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Length", strconv.FormatInt(b.Size(), 10))
	h.Set("Cache-Control", "no-store")
	if _, err := b.WriteTo(w); err != nil {
		// The status is sent: the client sees a body shorter than its
		// Content-Length.
		s.log.Warn("backup: streaming the copy failed", "addr", r.RemoteAddr, "err", err)
	}
}
