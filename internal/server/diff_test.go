package server

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// patchTool returns the path of GNU patch. Without it the test skips, or
// fails when CI is set: CI installs it (.ci/run).
func patchTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("patch")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("patch is needed to check unified diffs: %v", err)
		}
		t.Skip("patch is not installed")
	}
	return p
}

// applyPatch applies a unified diff to text with the patch command and
// returns what it makes.
func applyPatch(t *testing.T, text, diff string) string {
	t.Helper()
	if diff == "" {
		return text
	}
	dir := t.TempDir()
	old, out, pf := filepath.Join(dir, "old"), filepath.Join(dir, "out"), filepath.Join(dir, "diff")
	if err := os.WriteFile(old, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pf, []byte(diff), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(patchTool(t), "--batch", "--silent", "--no-backup-if-mismatch", "-o", out, old, pf)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v: %s\nthe diff:\n%s", err, msg, diff)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// TestUnifiedDiffPatches asks for unified diffs between revisions of a
// document and applies each with patch to the older text: it must make
// the newer text exactly (a one-line file once got a phantom last line,
// "@@ -1,2 +1,4 @@", which patch refused).
func TestUnifiedDiffPatches(t *testing.T) {
	patchTool(t)
	_, base := testServer(t, Config{})
	api := apiClient{t, base}
	texts := []string{"", "x\n", "y\n", "y", "y\nz\n", "", "a\r\nb\r\n", "a\r\nβ\r\n😀"}
	var doc created
	if r := api.call("POST", "/api/docs", map[string]string{"name": "f.txt", "text": texts[0]}, nil, &doc); r.StatusCode != 201 {
		t.Fatalf("create: %s", r.Status)
	}
	// Revision numbers of each text: an empty first text makes no revision.
	revs := []int{0}
	for _, text := range texts[1:] {
		var res struct{ Rev int }
		if r := api.call("PUT", "/api/docs/"+doc.ID, text, nil, &res); r.StatusCode != 200 {
			t.Fatalf("put %q: %s", text, r.Status)
		}
		revs = append(revs, res.Rev)
	}
	for i := range texts {
		for j := range texts {
			path := "/api/docs/" + doc.ID + "/diff?format=unified&from=" + strconv.Itoa(revs[i]) + "&to=" + strconv.Itoa(revs[j])
			r := api.call("GET", path, nil, nil, nil)
			body, _ := io.ReadAll(r.Body)
			if r.StatusCode != 200 {
				t.Fatalf("%s: %s %s", path, r.Status, body)
			}
			if got := applyPatch(t, texts[i], string(body)); got != texts[j] {
				t.Errorf("diff %d→%d applied to %q gives %q, want %q; the diff:\n%s", revs[i], revs[j], texts[i], got, texts[j], body)
			}
		}
	}
}
