package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenFlags: the -jwt-* flags (and their variables) reach the server,
// and a configuration that cannot work stops collab before it starts.
func TestTokenFlags(t *testing.T) {
	const secret = "a host's secret, at least 32 bytes long"
	env := map[string]string{"COLLAB_JWT_SECRET": secret, "COLLAB_JWT_ISSUER": "https://host.example", "COLLAB_JWT_LEEWAY": "5s",
		"COLLAB_JWT_JWKS_URL": "https://idp.example/jwks.json", "COLLAB_JWT_JWKS_REFRESH": "10m", "COLLAB_JWT_AUDIENCE": "collab"}
	o, err := parseFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := o.server; s.JWTSecret != secret || s.JWTIssuer != "https://host.example" || s.JWTAudience != "collab" || s.JWTLeeway != 5*time.Second ||
		s.JWKSURL != "https://idp.example/jwks.json" || s.JWKSRefresh != 10*time.Minute {
		t.Errorf("from the environment: %+v", s)
	}
	for _, args := range [][]string{{"-jwt-secret", "too short"}, {"-jwt-jwks-url", "idp.example/jwks.json"}, {"-jwt-jwks-url", "file:///etc/jwks.json"}, {"-jwt-leeway", "-1s"}} {
		if _, err := parseFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}

	// Through the real entry point: a host's token is taken, with the
	// configured issuer only.
	base, _ := startRun(t, filepath.Join(t.TempDir(), "tokens.db"), "", "-jwt-secret", secret, "-jwt-issuer", "https://host.example")
	id := createDoc(t, base, "a.go", "package a\n")
	resp, err := apiClient(t).Get(base + "/api/docs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Handle string }
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	for iss, want := range map[string]int{"https://host.example": 200, "https://evil.example": 401} {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"doc": doc.Handle, "role": "view", "iss": iss, "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte(secret))
		req, _ := http.NewRequest("GET", base+"/api/docs/"+doc.Handle+"/raw", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := apiClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && !strings.HasPrefix(string(b), "package a")) {
			t.Errorf("iss %s: %s %s, want %d", iss, resp.Status, b, want)
		}
	}

	// The token follows the document's event stream with ?token=, as a
	// browser's EventSource does, and sees it by its handle.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"doc": doc.Handle, "role": "view", "iss": "https://host.example", "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte(secret))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/docs/"+doc.Handle+"/events?token="+tok, nil)
	stream, err := http.DefaultClient.Do(req) // not apiClient: its check reads the whole body
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != 200 {
		t.Fatalf("the token's stream: %s", stream.Status)
	}
	rename, _ := http.NewRequest("PATCH", base+"/api/docs/"+id, strings.NewReader(`{"name":"b.go"}`))
	rename.Header.Set("Content-Type", "application/json")
	if resp, err := apiClient(t).Do(rename); err != nil || resp.StatusCode != 200 {
		t.Fatalf("rename: %v %v", resp, err)
	}
	sc := bufio.NewScanner(stream.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !strings.Contains(data, `"id":"`+doc.Handle+`"`) || strings.Contains(data, id) || !strings.Contains(data, `"newName":"b.go"`) {
				t.Fatalf("the token's event: %s", data)
			}
			return
		}
	}
	t.Fatalf("the token's stream ended: %v", sc.Err())
}
