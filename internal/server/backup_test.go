package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/docs"
)

func TestBackupRouteNeedsTheAdminToken(t *testing.T) {
	mgr, err := docs.Open(filepath.Join(t.TempDir(), "b.db"), docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	meta, err := mgr.Create(docs.CreateParams{Name: "a.txt", Text: "hello", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	get := func(base, auth string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/admin/backup", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	open := httptest.NewServer(checkAPI(t, New(Config{}, mgr, NewMetrics(), log)))
	defer open.Close()
	resp := get(open.URL, "Bearer anything")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no API token configured: %s, want 403", resp.Status)
	}

	hs := httptest.NewServer(checkAPI(t, New(Config{APIToken: "s3cret"}, mgr, NewMetrics(), log)))
	defer hs.Close()
	for _, auth := range []string{"", "Bearer wrong", "s3cret"} {
		resp := get(hs.URL, auth)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Fatalf("Authorization %q: %s %s, want a 401 problem", auth, resp.Status, body)
		}
	}

	resp = get(hs.URL, "Bearer s3cret")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="collab-`) || !strings.HasSuffix(cd, `.db"`) {
		t.Fatalf("Content-Disposition %q", cd)
	}
	path := filepath.Join(t.TempDir(), "collab.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, resp.Body)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if cl, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); cl != n {
		t.Fatalf("Content-Length %d, body %d bytes", cl, n)
	}
	restored, err := docs.Open(path, docs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, text, err := restored.Head(meta.ID); err != nil || text.String() != "hello" {
		t.Fatalf("restored document: %q, %v", text.String(), err)
	}
}
