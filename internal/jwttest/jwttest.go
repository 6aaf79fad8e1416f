// Package jwttest is a host application's identity provider, for tests of
// the tokens collab takes (see internal/access): signing keys of each
// algorithm collab verifies (RS256, ES256, EdDSA), tokens signed with them
// as a host signs them (with a stock JWT library, naming the key's kid),
// and a JWK Set of their public halves, written out by hand as a provider
// publishes it and served on loopback, counting its fetches.
//
// The tests of internal/access (the verifier alone) and of internal/server
// (a host and a real server) share it, so both check tokens made the same
// way. Nothing outside tests imports it.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one of the host's signing keys, with its key id. The zero Key
// has no method: callers use it to mean "the shared secret" (HS256).
type Key struct {
	Kid    string
	Method jwt.SigningMethod
	Priv   crypto.Signer
	NoAlg  bool // its JWK does not say its algorithm (it need not)
}

// NewRSA makes a 2048-bit RS256 key.
func NewRSA(t testing.TB, kid string) Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Kid: kid, Method: jwt.SigningMethodRS256, Priv: k}
}

// NewEC makes a P-256 ES256 key.
func NewEC(t testing.TB, kid string) Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Kid: kid, Method: jwt.SigningMethodES256, Priv: k}
}

// NewEd makes an Ed25519 (EdDSA) key.
func NewEd(t testing.TB, kid string) Key {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Kid: kid, Method: jwt.SigningMethodEdDSA, Priv: k}
}

// JWK is the key's public half as a JWK (RFC 7517, 7518, 8037).
func (k Key) JWK() map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.Kid, "use": "sig", "alg": k.Method.Alg()}
	if k.NoAlg {
		delete(m, "alg")
	}
	switch pub := k.Priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		e, _ := pub.ECDH()
		xy := e.Bytes()[1:] // 0x04 ‖ x ‖ y
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64(xy[:32]), b64(xy[32:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

// Sign makes a token of claims with k, naming k's kid.
func (k Key) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.Method, claims)
	tok.Header["kid"] = k.Kid
	s, err := tok.SignedString(k.Priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Claims is base with extra's changes: a claim of extra replaces base's,
// and a nil one deletes it. base is changed and returned.
func Claims(base, extra jwt.MapClaims) jwt.MapClaims {
	for k, v := range extra {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	return base
}

// JWKS is a JWK Set served on loopback, as a host's identity provider
// serves it, at URL. It serves no key until Serve.
type JWKS struct {
	URL string

	mu      sync.Mutex // guards the fields below
	keys    []map[string]string
	failing bool // answer 500
	fetches int
}

// NewJWKS starts a JWK Set, stopped when the test ends.
func NewJWKS(t testing.TB) *JWKS {
	j := &JWKS{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		j.fetches++
		keys, failing := j.keys, j.failing
		j.mu.Unlock()
		if failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(hs.Close)
	j.URL = hs.URL + "/.well-known/jwks.json"
	return j
}

// Serve replaces the keys served.
func (j *JWKS) Serve(keys ...Key) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = nil
	for _, k := range keys {
		j.keys = append(j.keys, k.JWK())
	}
}

// SetFailing makes the set answer 500 (true) or its keys again (false).
func (j *JWKS) SetFailing(f bool) {
	j.mu.Lock()
	j.failing = f
	j.mu.Unlock()
}

// Fetches counts the requests the set has had.
func (j *JWKS) Fetches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}
