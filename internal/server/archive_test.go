package server

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/docs"
)

// archiveEntry is one entry of a crafted archive.
type archiveEntry struct {
	name string
	body string
	link bool // a symbolic link to body
}

func makeZip(t *testing.T, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.link {
			h.SetMode(0o777 | 1<<27) // fs.ModeSymlink
		}
		f, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(f, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTarGz(t *testing.T, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body))}
		if e.link {
			h = &tar.Header{Typeflag: tar.TypeSymlink, Name: e.name, Linkname: e.body, Mode: 0o777}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if !e.link {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	gw.Close()
	return buf.Bytes()
}

// zipBomb is a zip of one entry that inflates to 64 MiB and claims declared
// bytes.
func zipBomb(t *testing.T, declared uint64) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 {
		fw.Write(zeros)
	}
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb.txt", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE([]byte("0123456789")),
		CompressedSize64: uint64(raw.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	zw.Close()
	return buf.Bytes()
}

type importAnswer struct {
	ID     string
	Links  linksView
	Files  []docView
	Code   string
	Detail string
}

func importArchive(t *testing.T, base, ctype string, body []byte) (int, importAnswer) {
	t.Helper()
	resp, err := http.Post(base+"/api/workspaces/import", ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a importAnswer
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("import: %s: %v: %s", resp.Status, err, data)
	}
	return resp.StatusCode, a
}

// readArchive downloads a workspace's export and returns its files by path.
func readArchive(t *testing.T, base, ws, format string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/api/workspaces/" + ws + "/export?format=" + format)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("export: %s: %s", resp.Status, data)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, `filename="workspace.`+format+`"`) && !strings.Contains(cd, "filename=workspace."+format) {
		t.Errorf("Content-Disposition %q", cd)
	}
	out := map[string]string{}
	switch format {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			out[f.Name] = string(b)
		}
	default:
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
	return out
}

func TestWorkspaceExportImportRoundTrip(t *testing.T) {
	_, base := testServer(t, Config{APIToken: adminToken})
	api := apiClient{t, base}
	var ws struct {
		ID    string
		Links linksView
	}
	api.call("POST", "/api/workspaces", nil, nil, &ws)
	want := map[string]string{"src/main.go": "package main\n", "src/util/util.go": "package util\n// héllo ✓\n", "README.md": "# Project\n", "empty.txt": ""}
	for name, text := range want {
		if r := api.call("POST", "/api/docs", map[string]string{"name": name, "text": text, "workspace": ws.ID}, nil, nil); r.StatusCode != 201 {
			t.Fatalf("create %s: %s", name, r.Status)
		}
	}
	for _, format := range []string{"zip", "tar.gz"} {
		t.Run(format, func(t *testing.T) {
			// The view link may export.
			got := readArchive(t, base, ws.Links.View, format)
			if !maps.Equal(got, want) {
				t.Fatalf("export: %q, want %q", got, want)
			}
			ctype := map[string]string{"zip": "application/zip", "tar.gz": "application/gzip"}[format]
			var body []byte
			var entries []archiveEntry
			for _, name := range slices.Sorted(maps.Keys(got)) {
				entries = append(entries, archiveEntry{name: name, body: got[name]})
			}
			if format == "zip" {
				body = makeZip(t, entries...)
			} else {
				body = makeTarGz(t, entries...)
			}
			status, a := importArchive(t, base, ctype, body)
			if status != 201 || a.ID == "" || a.Links.View == "" || len(a.Files) != len(want) {
				t.Fatalf("import: %d %+v", status, a)
			}
			checkImportFields(t, base, body, ctype)
			if again := readArchive(t, base, a.ID, format); !maps.Equal(again, want) {
				t.Fatalf("export of the import: %q, want %q", again, want)
			}
		})
	}
	// A view link cannot import into its workspace: import makes a new
	// workspace, and no route takes a workspace link for it.
	resp, err := http.Post(base+"/api/workspaces/"+ws.Links.View+"/import", "application/zip", bytes.NewReader(makeZip(t, archiveEntry{name: "x.txt", body: "x"})))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Fatalf("import into a view link's workspace: %s", resp.Status)
	}
	if r := api.call("GET", "/api/workspaces/"+ws.Links.View+"/export?format=rar", nil, nil, nil); r.StatusCode != 400 {
		t.Fatalf("unknown format: %s", r.Status)
	}
}

func TestWorkspaceImportRefusals(t *testing.T) {
	srv, base := serveTest(t, Config{APIToken: adminToken, MaxRequestBytes: 2 << 20}, docs.Config{MaxBytes: 1 << 20}, nil)
	many := make([]archiveEntry, importMaxFiles+1)
	for i := range many {
		many[i] = archiveEntry{name: fmt.Sprintf("f%04d.txt", i), body: "x"}
	}
	heavy := make([]archiveEntry, importMaxTotal>>20+1)
	for i := range heavy {
		heavy[i] = archiveEntry{name: fmt.Sprintf("h%02d.txt", i), body: strings.Repeat("a", 1<<20)}
	}
	ok := archiveEntry{name: "ok.txt", body: "fine\n"}
	big := strings.Repeat("a", 1<<20+1)
	cases := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		code   string
		file   string // named in the detail
	}{
		{"dotdot zip", "application/zip", makeZip(t, ok, archiveEntry{name: "a/../../etc/passwd", body: "x"}), 422, "invalid_path", "a/../../etc/passwd"},
		{"dotdot tar", "application/gzip", makeTarGz(t, ok, archiveEntry{name: "../evil.txt", body: "x"}), 422, "invalid_path", "../evil.txt"},
		{"absolute zip", "application/zip", makeZip(t, ok, archiveEntry{name: "/etc/passwd", body: "x"}), 422, "invalid_path", "/etc/passwd"},
		{"absolute tar", "application/gzip", makeTarGz(t, ok, archiveEntry{name: "/etc/passwd", body: "x"}), 422, "invalid_path", "/etc/passwd"},
		{"symlink zip", "application/zip", makeZip(t, ok, archiveEntry{name: "link", body: "/etc/passwd", link: true}), 422, "not_regular", "link"},
		{"symlink tar", "application/gzip", makeTarGz(t, ok, archiveEntry{name: "link", body: "/etc/passwd", link: true}), 422, "not_regular", "link"},
		{"binary", "application/zip", makeZip(t, ok, archiveEntry{name: "img.png", body: "\x89PNG\x00\x00"}), 422, "not_text", "img.png"},
		{"not utf-8", "application/gzip", makeTarGz(t, ok, archiveEntry{name: "latin1.txt", body: "caf\xe9"}), 422, "not_text", "latin1.txt"},
		{"duplicate", "application/zip", makeZip(t, ok, archiveEntry{name: "./ok.txt", body: "again"}), 422, "duplicate_path", "ok.txt"},
		{"zip bomb, tiny declared size", "application/zip", zipBomb(t, 10), 400, "invalid_archive", "bomb.txt"},
		{"zip bomb, true size", "application/zip", zipBomb(t, 64<<20), 413, "too_large", "bomb.txt"},
		{"too many files", "application/zip", makeZip(t, many...), 413, "too_many_files", ""},
		{"file too big", "application/gzip", makeTarGz(t, ok, archiveEntry{name: "big.txt", body: big}), 413, "too_large", "big.txt"},
		{"too many bytes in all", "application/zip", makeZip(t, heavy...), 413, "too_large", heavy[len(heavy)-1].name},
		{"body too big", "application/zip", bytes.Repeat([]byte("x"), 2<<20+1), 413, "too_large", ""},
		{"not an archive", "application/zip", []byte("hello"), 400, "invalid_archive", ""},
		{"wrong type", "text/plain", []byte("hello"), 415, "unsupported_media_type", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, a := importArchive(t, base, c.ctype, c.body)
			if status != c.status || a.Code != c.code {
				t.Fatalf("%d %q, want %d %q: %s", status, a.Code, c.status, c.code, a.Detail)
			}
			if !strings.Contains(a.Detail, c.file) {
				t.Errorf("detail %q does not name %q", a.Detail, c.file)
			}
			if all, _ := srv.docs.Store().ListAll("", 10); len(all) != 0 {
				t.Fatalf("a refused archive created %d documents", len(all))
			}
		})
	}
}

// checkImportFields imports an archive: the check of every exchange
// (checkAPI) holds the answer to the fields the OpenAPI document requires.
func checkImportFields(t *testing.T, base string, body []byte, ctype string) {
	t.Helper()
	resp, err := http.Post(base+"/api/workspaces/import", ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %s", resp.Status)
	}
}
