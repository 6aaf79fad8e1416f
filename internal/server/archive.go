package server

// Export and import of a workspace as an archive.
//
// Export streams a zip or tar.gz of a workspace's files at their paths, the
// current text of each. Import reads a zip or tar.gz and makes a new
// workspace of it, one document per regular file. An archive is untrusted
// input: it is read whole and checked before anything is created (paths,
// entry types, text, counts and sizes, sizes counted while decompressing,
// never taken from the archive's headers), so a refused archive leaves no
// trace.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
)

// Import limits. Each file is also capped by the documents' MaxBytes, and
// the request body by Config.MaxRequestBytes.
const (
	importMaxFiles = 1000     // regular files in one archive
	importMaxTotal = 64 << 20 // bytes of all files, uncompressed
)

// archiveFile is one file of an archive, checked.
type archiveFile struct {
	name string // cleaned by docs.CleanName
	text string
}

// archiveError is a refusal of an archive, naming the entry at fault.
type archiveError struct {
	status int
	code   string
	detail string
}

func (e *archiveError) Error() string { return e.detail }

func refuse(status int, code, format string, args ...any) *archiveError {
	return &archiveError{status: status, code: code, detail: fmt.Sprintf(format, args...)}
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	wg, ok := s.workspaceAccess(w, r, r.PathValue("ws"))
	if !ok {
		return
	}
	ws := wg.ws
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "zip"
	}
	if format != "zip" && format != "tar.gz" {
		s.problem(w, r, http.StatusBadRequest, "invalid", fmt.Sprintf("format %q: want zip or tar.gz", format))
		return
	}
	// The first page is read before the status is sent, so that a failing
	// store still answers with a problem.
	metas, err := s.docs.Store().List(ws, "", "", 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	if format == "zip" {
		h.Set("Content-Type", "application/zip")
	} else {
		h.Set("Content-Type", "application/gzip")
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "workspace." + format}))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	var add func(name string, mod time.Time, text string) error
	var closeAll func() error
	if format == "zip" {
		zw := zip.NewWriter(w)
		add = func(name string, mod time.Time, text string) error {
			f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
			if err == nil {
				_, err = io.WriteString(f, text)
			}
			return err
		}
		closeAll = zw.Close
	} else {
		gw := gzip.NewWriter(w)
		tw := tar.NewWriter(gw)
		add = func(name string, mod time.Time, text string) error {
			err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(text)), ModTime: mod, Format: tar.FormatPAX})
			if err == nil {
				_, err = io.WriteString(tw, text)
			}
			return err
		}
		closeAll = func() error { return errors.Join(tw.Close(), gw.Close()) }
	}
	// A failure after the status is sent can only cut the archive short,
	// which its reader notices (no end of central directory, or of gzip).
	for len(metas) > 0 {
		for _, m := range metas {
			meta, text, err := s.docs.Head(m.ID)
			if errors.Is(err, docs.ErrNotFound) {
				continue // deleted since it was listed
			}
			if err == nil {
				err = add(meta.Name, meta.Updated.UTC(), text.String())
			}
			if err != nil {
				s.log.Warn("export cut short", "file", m.Name, "err", err)
				return
			}
		}
		if len(metas) < 1000 {
			break
		}
		if metas, err = s.docs.Store().List(ws, "", metas[len(metas)-1].Name, 1000); err != nil {
			s.log.Warn("export cut short", "err", err)
			return
		}
	}
	if err := closeAll(); err != nil {
		s.log.Warn("export cut short", "err", err)
	}
}

func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var read func([]byte) ([]archiveFile, error)
	switch ct {
	case "application/zip", "application/x-zip-compressed":
		read = s.readZip
	case "application/gzip", "application/x-gzip", "application/x-gtar", "application/x-tar+gzip":
		read = s.readTarGz
	default:
		s.problem(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/zip or application/gzip (a tar.gz)")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.problem(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body over %d bytes", mbe.Limit))
			return
		}
		s.problem(w, r, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error())
		return
	}
	files, err := read(body)
	if err != nil {
		var ae *archiveError
		if errors.As(err, &ae) {
			s.problem(w, r, ae.status, ae.code, ae.detail)
			return
		}
		s.fail(w, r, err)
		return
	}

	wsp, err := s.docs.CreateWorkspace()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	author := authorOf(r)
	views := make([]docView, 0, len(files))
	var made []string
	for _, f := range files {
		m, err := s.docs.Create(docs.CreateParams{Name: f.name, Text: f.text, Workspace: wsp.ID, Author: author})
		if err != nil {
			// Checked above, so only the store can fail here: take back
			// what was made, leaving an empty workspace nobody knows of.
			for _, id := range made {
				s.docs.Delete(id)
			}
			s.fail(w, r, err)
			return
		}
		made = append(made, m.ID)
		views = append(views, s.viewFor(m, grant{doc: m.ID, mode: docs.ModeEdit, link: m.EditLink}))
	}
	w.Header().Set("Location", "/api/workspaces/"+wsp.EditLink+"/files")
	writeJSON(w, http.StatusCreated, map[string]any{"id": wsp.EditLink, "links": linksView{Edit: wsp.EditLink, View: wsp.ViewLink},
		"handle": s.handles.Workspace(wsp.ID), "created": wsp.Created.UTC().Format(timeLayout), "files": views})
}

// archiveChecker checks the entries of one archive as they are read.
type archiveChecker struct {
	maxBytes int
	total    int64
	seen     map[string]bool
	files    []archiveFile
}

func newArchiveChecker(maxBytes int) *archiveChecker {
	return &archiveChecker{maxBytes: maxBytes, seen: map[string]bool{}}
}

// path checks an entry's path and returns it cleaned.
func (c *archiveChecker) path(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, `\`) || (len(raw) >= 2 && raw[1] == ':') {
		return "", refuse(http.StatusUnprocessableEntity, "invalid_path", "%q: absolute paths are refused", raw)
	}
	for _, el := range strings.FieldsFunc(raw, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." {
			return "", refuse(http.StatusUnprocessableEntity, "invalid_path", "%q: paths with \"..\" are refused", raw)
		}
	}
	name, err := docs.CleanName(raw)
	if err != nil {
		return "", refuse(http.StatusUnprocessableEntity, "invalid_path", "%q: %v", raw, err)
	}
	if c.seen[name] {
		return "", refuse(http.StatusUnprocessableEntity, "duplicate_path", "%q: more than one file has this path", name)
	}
	return name, nil
}

// add reads a regular file's content through a limit, never trusting a
// declared size, and checks that it is text.
func (c *archiveChecker) add(raw string, rd io.Reader) error {
	name, err := c.path(raw)
	if err != nil {
		return err
	}
	if len(c.files) >= importMaxFiles {
		return refuse(http.StatusRequestEntityTooLarge, "too_many_files", "more than %d files", importMaxFiles)
	}
	data, err := io.ReadAll(io.LimitReader(rd, int64(c.maxBytes)+1))
	if errors.Is(err, zip.ErrFormat) {
		return refuse(http.StatusBadRequest, "invalid_archive", "%q: inflates past the size its header declares (a zip bomb?)", name)
	}
	if err != nil {
		return refuse(http.StatusBadRequest, "invalid_archive", "%q: %v", name, err)
	}
	if len(data) > c.maxBytes {
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "%q: over the %d-byte document limit", name, c.maxBytes)
	}
	if c.total += int64(len(data)); c.total > importMaxTotal {
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "%q: the files total over %d bytes uncompressed", name, importMaxTotal)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return refuse(http.StatusUnprocessableEntity, "not_text", "%q: binary or not UTF-8; only text files can be imported", name)
	}
	c.seen[name] = true
	c.files = append(c.files, archiveFile{name: name, text: string(data)})
	return nil
}

func notRegular(raw string) error {
	return refuse(http.StatusUnprocessableEntity, "not_regular", "%q: only regular files and directories are accepted (no links or devices)", raw)
}

func (s *Server) readZip(body []byte) ([]archiveFile, error) {
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "invalid_archive", "not a zip archive: %v", err)
	}
	c := newArchiveChecker(s.docs.MaxBytes())
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode.IsDir():
			continue // a directory makes nothing
		case !mode.IsRegular():
			return nil, notRegular(f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "invalid_archive", "%q: %v", f.Name, err)
		}
		err = c.add(f.Name, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return c.files, nil
}

func (s *Server) readTarGz(body []byte) ([]archiveFile, error) {
	gr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "invalid_archive", "not a gzip stream: %v", err)
	}
	defer gr.Close()
	tr := tar.NewReader(gr)
	c := newArchiveChecker(s.docs.MaxBytes())
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return c.files, nil
		}
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "invalid_archive", "not a tar.gz archive: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, '\x00':
			if err := c.add(h.Name, tr); err != nil {
				return nil, err
			}
		default:
			return nil, notRegular(h.Name)
		}
	}
}
