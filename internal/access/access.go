// Package access holds collab's credentials other than links: the
// administrator's API token, JSON Web Tokens, and the handles tokens name
// documents and workspaces by.
//
// # Tokens
//
// A host application with users of its own says "this user, with this
// name, may edit this document (or workspace) until then" with a JSON Web
// Token (RFC 7519), minted with any JWT library in any language. Tokens
// reads one (Verify) and mints the server's own (Mint). A token is signed
// with
//
//   - HS256 and a secret shared with the host (Config.Secret; collab
//     keeps one of its own when none is configured, and then only collab
//     mints tokens), or
//   - RS256, ES256 or EdDSA and a private key of the host's, whose public
//     key is in a JWK Set at Config.JWKSURL: fetched at start, cached,
//     fetched again every Config.JWKSRefresh, and at once (at most once
//     a minute) when a token names a key id ("kid") the set does not
//     have, so that keys rotate without a restart; a key gone from the set
//     is refused from the next fetch on.
//
// Only those four algorithms are accepted, each with its own kind of key:
// "alg": "none" is refused, and so is an HS256 token whose secret is a
// public key of the set (HS256 is checked with the secret only).
//
// The claims (see Claims): "sub" (who the user is on the host: the author
// of their edits), "name" (the name others see), "doc" or "workspace" (the
// handle of the document or workspace the token grants), "role" ("view",
// "edit" or "owner"), "data" (app data keys the session cannot change),
// "exp" (required), "nbf" and "iat" (checked when present), and "iss" and
// "aud" (required when Config.Issuer and Config.Audience are set).
//
// # Handles
//
// A token is readable by whoever holds it (it travels in an iframe's URL),
// so it must not name a document by anything that grants access: not by a
// link, and not by the internal id, which is a document's first edit link.
// It names it by a handle (see Handles), which grants nothing and reveals
// nothing.
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
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

// IsJWT reports whether s has the shape of a JSON Web Token: three
// base64url parts separated by dots (RFC 7515's compact form), the first
// two not empty (an unsigned token's third part is). It is how an
// Authorization: Bearer header tells a token from the API token; it says
// nothing of the token's validity.
func IsJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		if strings.IndexFunc(p, notBase64URL) >= 0 {
			return false
		}
	}
	return true
}

func notBase64URL(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
}
