package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/hooks"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
)

// The server's own refusals, for errorCode.
var (
	errInvalid     = errors.New("invalid")      // a field is out of range
	errRateLimited = errors.New("rate limited") // over a per-session or per-document limit
	errReadOnly    = errors.New("read only")    // the session or link may not do this
)

// errorCode maps an error to the protocol's stable code and an HTTP status.
// It is the one place where domain errors meet the wire.
func errorCode(err error) (string, int) {
	switch {
	case errors.Is(err, docs.ErrNotFound), errors.Is(err, hooks.ErrNotFound):
		return "not_found", http.StatusNotFound
	case errors.Is(err, hooks.ErrExpired):
		return "events_expired", http.StatusGone
	case errors.Is(err, hooks.ErrTooMany):
		return "too_many", http.StatusConflict
	case errors.Is(err, hooks.ErrInvalid):
		return "invalid", http.StatusBadRequest
	case errors.Is(err, docs.ErrFutureRevision):
		return "future_revision", http.StatusConflict
	case errors.Is(err, docs.ErrBadOperation), errors.Is(err, ot.ErrMalformed), errors.Is(err, ot.ErrBaseLength):
		return "bad_op", http.StatusUnprocessableEntity
	case errors.Is(err, docs.ErrTooLarge):
		return "too_large", http.StatusRequestEntityTooLarge
	case errors.Is(err, docs.ErrStaleOp):
		return "stale_op", http.StatusConflict
	case errors.Is(err, docs.ErrKeyReused):
		return "idempotency_key_reused", http.StatusUnprocessableEntity
	case errors.Is(err, docs.ErrConflict):
		return "conflict", http.StatusConflict
	case errors.Is(err, docs.ErrInvalid), errors.Is(err, presence.ErrInvalid):
		return "invalid", http.StatusBadRequest
	case errors.Is(err, docs.ErrStorage):
		// The disk refused the write: nothing was applied; the same
		// request, or op, may be sent again once space is freed.
		return "storage_full", http.StatusInsufficientStorage
	case errors.Is(err, docs.ErrClosed):
		return "unavailable", http.StatusServiceUnavailable
	case errors.Is(err, errInvalid):
		return "invalid", http.StatusBadRequest
	case errors.Is(err, errRateLimited):
		return "rate_limited", http.StatusTooManyRequests
	case errors.Is(err, errReadOnly):
		return "read_only", http.StatusForbidden
	}
	return "internal", http.StatusInternalServerError
}

// problem writes an RFC 9457 problem document.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://collab.dev/problems/" + code,
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
		"code":   code,
	})
}

// fail answers a request with the problem document for err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.failFor(w, r, grant{}, err)
}

// failFor answers a request about g's document with the problem document
// for err. Domain errors name documents by internal id, which only
// administrators may see (a document's first edit link is its id): for
// everyone else it is replaced by the id the caller used.
func (s *Server) failFor(w http.ResponseWriter, r *http.Request, g grant, err error) {
	code, status := errorCode(err)
	detail := err.Error()
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		detail = "internal error"
	}
	if g.doc != "" && !g.admin {
		detail = strings.ReplaceAll(detail, g.doc, g.publicID())
	}
	s.problem(w, r, status, code, detail)
}
