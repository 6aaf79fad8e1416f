// Package patchtest applies unified diffs with the real GNU patch, for the
// tests of the packages that make them (internal/docs, internal/server):
// a diff is right when patch turns the old text into the new one.
package patchtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of GNU patch. Without it the test skips, or fails
// when CI is set: CI installs it (.ci/run).
func Tool(t testing.TB) string {
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

// Apply applies a unified diff to text with the patch command and returns
// what it makes.
func Apply(t testing.TB, text, diff string) string {
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
	cmd := exec.Command(Tool(t), "--batch", "--silent", "--no-backup-if-mismatch", "-o", out, old, pf)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch: %v: %s\nthe diff:\n%s", err, msg, diff)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}
