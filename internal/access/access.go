// Package access holds collab's credentials other than links: the
// administrator's API token and sealed embed tokens.
//
// An embed token lets a host site frame one document without cookies
// (third-party cookies are blocked in most browsers): the host's server
// mints a short-lived token scoped to one document, a mode, a user name, a
// subject (who the user is on the host, the author of their edits) and app
// data (keys of the session's data it cannot change) with the API token,
// and puts it in the iframe's URL. The token is
// base64url(nonce + AES-256-GCM(claims)): authenticated encryption, so it
// can be neither forged nor read. It must not be readable: the claims name
// the document by its internal id, and a document's first edit link is its
// id, so a view token that showed its claims would hand out the edit link.
// For the same reason the iframe URL names the document by Handle, which
// grants nothing and reveals nothing.
package access

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
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
	Doc  string `json:"doc"`  // the document's internal id
	Mode string `json:"mode"` // "edit" or "view"
	Name string `json:"name"` // the user name shown to others
	// Sub is who the user is on the host site (its own user id): the
	// author of the session's edits. Empty: the name is.
	Sub string `json:"sub,omitempty"`
	// Data is app data the session shows others under these keys, which
	// it cannot change: a JSON object (see presence.ParseData), or empty.
	Data json.RawMessage `json:"data,omitempty"`
	Exp  int64           `json:"exp"` // expiry, Unix seconds
}

// Expires is the expiry as a time.
func (c Claims) Expires() time.Time { return time.Unix(c.Exp, 0) }

// subkey derives a key for one purpose from the server's key, so that
// sealing tokens and making handles never share a key.
func subkey(key []byte, purpose string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("collab access: " + purpose))
	return h.Sum(nil)
}

func aead(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(subkey(key, "embed token"))
	if err != nil {
		panic("access: " + err.Error()) // a 32-byte key always makes a cipher
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic("access: " + err.Error())
	}
	return g
}

// maxToken bounds what Verify decodes.
const maxToken = 4096

// Mint seals claims with key.
func Mint(key []byte, c Claims) (string, error) {
	if c.Mode != "edit" && c.Mode != "view" {
		return "", fmt.Errorf("%w: mode must be edit or view", ErrBadToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	g := aead(key)
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(payload)+g.Overhead())
	rand.Read(nonce)
	tok := base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, payload, nil))
	if len(tok) > maxToken {
		return "", fmt.Errorf("%w: claims too long", ErrBadToken)
	}
	return tok, nil
}

// Verify opens a token, checks its expiry and returns its claims.
func Verify(key []byte, token string, now time.Time) (Claims, error) {
	var c Claims
	if len(token) > maxToken {
		return c, ErrBadToken
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	g := aead(key)
	if err != nil || len(sealed) < g.NonceSize()+g.Overhead() {
		return c, ErrBadToken
	}
	payload, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], nil)
	if err != nil {
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

// Handle names document doc in embed URLs: stable, unguessable without
// key, and of no use without a token (it is neither a link nor derived
// from one that a caller could reverse).
func Handle(key []byte, doc string) string {
	h := hmac.New(sha256.New, subkey(key, "embed handle"))
	h.Write([]byte(doc))
	return "e-" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}
