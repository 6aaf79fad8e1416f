package server

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The snippets of docs/EMBED.md that mint tokens, run against a real
// server: the Go one is the function below, which must read exactly as the
// documentation shows it, and the Node one is run as it is written.

// mintToken returns a token that lets one of your users edit the document
// whose handle is doc for an hour, under their own name.
func mintToken(secret []byte, doc, userID, userName string) (string, error) {
	claims := jwt.MapClaims{
		"doc":  doc,    // or "workspace": a workspace's handle, for all its files
		"role": "edit", // "view", "edit" or "owner"
		"sub":  userID, // the author of their edits
		"name": userName,
		"exp":  time.Now().Add(time.Hour).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// snippet returns the first code block of the given language in
// docs/EMBED.md's section on tokens.
func snippet(t *testing.T, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "EMBED.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Tokens")
	_, rest, ok2 := strings.Cut(section, "```"+lang+"\n")
	code, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("docs/EMBED.md has no ```%s block in its section on tokens", lang)
	}
	return code
}

// funcSource returns the source of the function named name in src, from
// its doc comment to its closing brace.
func funcSource(t *testing.T, src, name string) string {
	t.Helper()
	i := strings.Index(src, "\nfunc "+name+"(")
	if i < 0 {
		t.Fatalf("no func %s", name)
	}
	start := strings.LastIndex(src[:i], "\n\n") + 2
	end := strings.Index(src[i:], "\n}\n")
	if end < 0 {
		t.Fatalf("func %s does not end", name)
	}
	return src[start : i+end+3]
}

// tokenWorks uses tok, a token for the document whose handle is handle
// and whose edit link is edit, and checks it grants editing under Ann's
// name as user-1842.
func tokenWorks(t *testing.T, base, handle, edit, tok string) {
	t.Helper()
	if st, body, _ := call(t, "PUT", base+"/api/docs/"+handle, tok, "text/plain", "minted"); st != 200 {
		t.Fatalf("PUT with the token: %d %v", st, body)
	}
	r, st := dialToken(t, base, handle, "?token="+tok, "")
	if r == nil {
		t.Fatalf("WebSocket with the token: %d", st)
	}
	r.send(`{"type":"join"}`)
	if j := r.next("joined"); j["readOnly"] != false || j["users"].([]any)[0].(map[string]any)["name"] != "Ann" {
		t.Fatalf("joined %v", j)
	}
	if text, _ := restText(t, base, edit); text != "minted" {
		t.Fatalf("text %q", text)
	}
}

func TestEmbedDocMintsInGo(t *testing.T) {
	self, err := os.ReadFile("tokens_docs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if doc, here := funcSource(t, snippet(t, "go"), "mintToken"), funcSource(t, string(self), "mintToken"); doc != here {
		t.Fatalf("docs/EMBED.md's Go snippet:\n%s\nis not the tested one:\n%s", doc, here)
	}
	_, base := testServer(t, Config{JWTSecret: hostSecret})
	d := createFull(t, base, `{"name":"a.go","text":""}`)
	var v struct{ Handle string }
	getJSON(t, base, "/api/docs/"+d.ID, &v)
	tok, err := mintToken([]byte(hostSecret), v.Handle, "user-1842", "Ann")
	if err != nil {
		t.Fatal(err)
	}
	tokenWorks(t, base, v.Handle, d.Links.Edit, tok)
}

// TestEmbedDocMintsInNode runs the Node snippet with the npm package jose
// (installed in tools/jose).
func TestEmbedDocMintsInNode(t *testing.T) {
	joseDir := filepath.Join(repoRoot(t), "tools", "jose", "node_modules")
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(joseDir, "jose")); err != nil || statErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or tools/jose/node_modules missing in CI (run npm ci in tools/jose): %v %v", err, statErr)
		}
		t.Skip("needs node and `npm ci` in tools/jose")
	}
	dir := t.TempDir()
	if err := os.Symlink(joseDir, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "mint.mjs"), []byte(snippet(t, "js")), 0o644)
	os.WriteFile(filepath.Join(dir, "run.mjs"), []byte(`import { mintToken } from './mint.mjs';
process.stdout.write(await mintToken(process.argv[2], process.argv[3], process.argv[4]));
`), 0o644)

	_, base := testServer(t, Config{JWTSecret: hostSecret})
	d := createFull(t, base, `{"name":"a.go","text":""}`)
	var v struct{ Handle string }
	getJSON(t, base, "/api/docs/"+d.ID, &v)
	cmd := exec.Command(node, filepath.Join(dir, "run.mjs"), v.Handle, "user-1842", "Ann")
	cmd.Env = append(os.Environ(), "COLLAB_JWT_SECRET="+hostSecret)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	tokenWorks(t, base, v.Handle, d.Links.Edit, string(out))
	// The user is user-1842, the author of the edit.
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(string(out), &claims); err != nil || claims["sub"] != "user-1842" || claims["doc"] != v.Handle {
		t.Fatalf("claims %v, %v", claims, err)
	}
	if st, _, _ := call(t, "GET", base+"/api/docs/"+v.Handle, string(out), "", ""); st != http.StatusOK {
		t.Fatalf("GET with the token: %d", st)
	}
}
