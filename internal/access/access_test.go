package access

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEmbedTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok, err := Mint(key, Claims{Doc: "d1", Mode: "view", Name: "Guest", Exp: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(key, tok, now)
	if err != nil || c.Doc != "d1" || c.Mode != "view" || c.Name != "Guest" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := Verify(key, tok, now.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := Verify([]byte("other key"), tok, now); !errors.Is(err, ErrBadToken) {
		t.Errorf("wrong key: %v", err)
	}
	p, s, _ := strings.Cut(tok, ".")
	forged := strings.Replace(p, p[:4], "AAAA", 1) + "." + s
	for _, bad := range []string{"", ".", "x.y", forged, tok + "x", strings.Repeat("a", 5000)} {
		if _, err := Verify(key, bad, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify(%.20q) = %v", bad, err)
		}
	}
	if _, err := Mint(key, Claims{Doc: "d", Mode: "admin"}); err == nil {
		t.Error("minted a token with an unknown mode")
	}
}

func TestTokenEqual(t *testing.T) {
	if TokenEqual("", "") || TokenEqual("x", "") {
		t.Error("an unset token must match nothing")
	}
	if !TokenEqual("s3cret", "s3cret") || TokenEqual("s3cre", "s3cret") {
		t.Error("TokenEqual is wrong")
	}
	if Bearer("Bearer abc") != "abc" || Bearer("bearer  abc ") != "abc" || Bearer("Basic abc") != "" {
		t.Error("Bearer parsing")
	}
}
