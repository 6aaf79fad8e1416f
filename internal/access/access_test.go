package access

import (
	"encoding/base64"
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
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	var flipped []string
	for i := range raw {
		b := []byte(string(raw))
		b[i] ^= 1
		flipped = append(flipped, base64.RawURLEncoding.EncodeToString(b))
	}
	for _, bad := range append([]string{"", ".", "x.y", tok[:len(tok)-1], tok + "x", strings.Repeat("a", 5000)}, flipped...) {
		if _, err := Verify(key, bad, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify(%.20q) = %v", bad, err)
		}
	}
	if _, err := Mint(key, Claims{Doc: "d", Mode: "admin"}); err == nil {
		t.Error("minted a token with an unknown mode")
	}
}

// TestEmbedTokensRevealNothing: a token and a handle must not show the
// document's id (a document's first edit link is its id).
func TestEmbedTokensRevealNothing(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	const doc = "3f2b9c1e-7d4a-4f6b-9a8e-1c2d3e4f5a6b"
	tok, err := Mint(key, Claims{Doc: doc, Mode: "view", Name: "Guest", Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Mint(key, Claims{Doc: doc, Mode: "view", Name: "Guest", Exp: time.Now().Add(time.Hour).Unix()})
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for _, s := range []string{tok, string(raw)} {
		for _, secret := range []string{doc, "Guest", `"view"`} {
			if strings.Contains(s, secret) {
				t.Errorf("the token shows %q", secret)
			}
		}
	}
	if tok == again {
		t.Error("two tokens of the same claims are equal: the nonce is not random")
	}
	h := Handle(key, doc)
	if strings.Contains(h, doc) || h != Handle(key, doc) || h == Handle(key, doc+"x") || h == Handle([]byte("other key"), doc) {
		t.Errorf("Handle = %q", h)
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
