// Package access holds collab's credentials other than links: the
// administrator's API token and signed embed tokens.
//
// An embed token lets a host site frame one document without cookies
// (third-party cookies are blocked in most browsers): the host's server
// mints a short-lived token scoped to one document, a mode and a user name
// with the API token, and puts it in the iframe's URL. The token is
// base64url(JSON claims) + "." + base64url(HMAC-SHA256(key, claims)).
package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors.
var (
	ErrBadToken = errors.New("access: invalid token")
	ErrExpired  = errors.New("access: token expired")
)

// TokenEqual compares a presented token with the configured one in
// constant time (the lengths are hidden too: both are hashed first).
// An empty configured token matches nothing.
func TokenEqual(presented, configured string) bool {
	if configured == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(configured))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Bearer returns the token of an "Authorization: Bearer <token>" header.
func Bearer(header string) string {
	const prefix = "bearer "
	if len(header) > len(prefix) && strings.EqualFold(header[:len(prefix)], prefix) {
		return strings.TrimSpace(header[len(prefix):])
	}
	return ""
}

// Claims are what an embed token grants.
type Claims struct {
	Doc  string `json:"doc"`  // the document's id
	Mode string `json:"mode"` // "edit" or "view"
	Name string `json:"name"` // the user name shown to others
	Exp  int64  `json:"exp"`  // expiry, Unix seconds
}

// Expires is the expiry as a time.
func (c Claims) Expires() time.Time { return time.Unix(c.Exp, 0) }

func sign(key, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(payload)
	return h.Sum(nil)
}

// Mint signs claims with key.
func Mint(key []byte, c Claims) (string, error) {
	if c.Mode != "edit" && c.Mode != "view" {
		return "", fmt.Errorf("%w: mode must be edit or view", ErrBadToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(sign(key, payload)), nil
}

// Verify checks a token's signature and expiry and returns its claims.
func Verify(key []byte, token string, now time.Time) (Claims, error) {
	var c Claims
	p, s, ok := strings.Cut(token, ".")
	if !ok || len(token) > 4096 {
		return c, ErrBadToken
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, sign(key, payload)) {
		return c, ErrBadToken
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Doc == "" || (c.Mode != "edit" && c.Mode != "view") {
		return c, ErrBadToken
	}
	if !now.Before(c.Expires()) {
		return c, ErrExpired
	}
	return c, nil
}
