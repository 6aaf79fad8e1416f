package access

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/collab-editor/collab/internal/jwttest"
	"github.com/golang-jwt/jwt/v5"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var testNow = time.Unix(1_800_000_000, 0)

// claimsAt are valid claims for a token read at testNow.
func claimsAt(extra jwt.MapClaims) jwt.MapClaims {
	return jwttest.Claims(jwt.MapClaims{"sub": "user-1842", "name": "Ann", "doc": "d-handle", "role": "edit",
		"iss": "https://host.example", "aud": "collab", "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}, extra)
}

const testSecret = "a secret shared with the host, 32+ bytes"

func newTokens(t *testing.T, cfg Config) *Tokens {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tk, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tk.Close)
	return tk
}

func TestVerifyEachAlgorithm(t *testing.T) {
	j := jwttest.NewJWKS(t)
	rs, es, ed := jwttest.NewRSA(t, "rs-1"), jwttest.NewEC(t, "es-1"), jwttest.NewEd(t, "ed-1")
	j.Serve(rs, es, ed)
	tk := newTokens(t, Config{Secret: []byte(testSecret), JWKSURL: j.URL, Issuer: "https://host.example", Audience: "collab"})
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(jwt.MapClaims{"data": map[string]any{"role": "teacher"}})).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"RS256": rs.Sign(t, claimsAt(nil)), "ES256": es.Sign(t, claimsAt(nil)), "EdDSA": ed.Sign(t, claimsAt(nil)), "HS256": hs} {
		c, err := tk.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Subject != "user-1842" || c.Name != "Ann" || c.Doc != "d-handle" || c.Workspace != "" || c.Role != RoleEdit || !c.Expires.Equal(testNow.Add(time.Hour)) || !c.IssuedAt.Equal(testNow) {
			t.Errorf("%s: claims %+v", name, c)
		}
		if name == "HS256" && string(c.Data) != `{"role":"teacher"}` {
			t.Errorf("data %s", c.Data)
		}
	}
	if n := j.Fetches(); n != 1 {
		t.Errorf("the JWK Set was fetched %d times for four tokens, want once (cached)", n)
	}
}

func TestVerifyRefuses(t *testing.T) {
	j := jwttest.NewJWKS(t)
	rs, es, ed := jwttest.NewRSA(t, "rs-1"), jwttest.NewEC(t, "es-1"), jwttest.NewEd(t, "ed-1")
	j.Serve(rs, es, ed)
	// A set whose keys do not say their algorithm: each algorithm must
	// still meet only its own kind of key.
	j2 := jwttest.NewJWKS(t)
	rsNoAlg, edNoAlg := rs, ed
	rsNoAlg.NoAlg, edNoAlg.NoAlg = true, true
	j2.Serve(rsNoAlg, edNoAlg)
	tk2 := newTokens(t, Config{JWKSURL: j2.URL, Issuer: "https://host.example", Audience: "collab"})
	for name, tok := range map[string]string{
		"ES256 naming an RSA key":     jwttest.Key{Kid: rs.Kid, Method: es.Method, Priv: es.Priv}.Sign(t, claimsAt(nil)),
		"ES256 naming an Ed25519 key": jwttest.Key{Kid: ed.Kid, Method: es.Method, Priv: es.Priv}.Sign(t, claimsAt(nil)),
		"RS256 naming an Ed25519 key": jwttest.Key{Kid: ed.Kid, Method: rs.Method, Priv: rs.Priv}.Sign(t, claimsAt(nil)),
		"EdDSA naming an RSA key":     jwttest.Key{Kid: rs.Kid, Method: ed.Method, Priv: ed.Priv}.Sign(t, claimsAt(nil)),
	} {
		if _, err := tk2.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s, keys without alg: %v", name, err)
		}
	}
	if _, err := tk2.Verify(context.Background(), rs.Sign(t, claimsAt(nil))); err != nil {
		t.Errorf("RS256, keys without alg: %v", err)
	}

	tk := newTokens(t, Config{Secret: []byte(testSecret), JWKSURL: j.URL, Issuer: "https://host.example", Audience: "collab"})
	hs := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// HS256 signed with the RSA public key, as a PEM file and as DER: the
	// algorithm confusion attack.
	der, _ := x509.MarshalPKIXPublicKey(rs.Priv.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	confused := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(nil))
		tok.Header["kid"] = rs.Kid
		s, _ := tok.SignedString(secret)
		return s
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noneKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(nil))
		tok.Header["kid"] = rs.Kid
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	// A key of the right kid that is not the one in the set.
	impostor := jwttest.NewRSA(t, "rs-1")
	// An ES256 token naming the RSA key's kid, and one naming the
	// Ed25519 key's.
	esAsRS := jwttest.Key{Kid: rs.Kid, Method: es.Method, Priv: es.Priv}
	esAsEd := jwttest.Key{Kid: ed.Kid, Method: es.Method, Priv: es.Priv}
	valid := rs.Sign(t, claimsAt(nil))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64([]byte(`{"sub":"admin","doc":"d-handle","role":"owner","exp":1900000000,"iss":"https://host.example","aud":"collab"}`)) + "." + parts[2]

	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"expired", rs.Sign(t, claimsAt(jwt.MapClaims{"exp": testNow.Add(-time.Second).Unix()})), ErrExpired},
		{"expiring now", rs.Sign(t, claimsAt(jwt.MapClaims{"exp": testNow.Unix()})), ErrExpired},
		{"not yet valid", rs.Sign(t, claimsAt(jwt.MapClaims{"nbf": testNow.Add(time.Minute).Unix()})), ErrNotYetValid},
		{"issued in the future", es.Sign(t, claimsAt(jwt.MapClaims{"iat": testNow.Add(time.Minute).Unix()})), ErrNotYetValid},
		{"no exp", ed.Sign(t, claimsAt(jwt.MapClaims{"exp": nil})), ErrInvalid},
		{"wrong audience", rs.Sign(t, claimsAt(jwt.MapClaims{"aud": "another-app"})), ErrInvalid},
		{"no audience", rs.Sign(t, claimsAt(jwt.MapClaims{"aud": nil})), ErrInvalid},
		{"wrong issuer", rs.Sign(t, claimsAt(jwt.MapClaims{"iss": "https://evil.example"})), ErrInvalid},
		{"no issuer", hs(claimsAt(jwt.MapClaims{"iss": nil})), ErrInvalid},
		{"wrong key, same kid", impostor.Sign(t, claimsAt(nil)), ErrInvalid},
		{"unknown kid", jwttest.NewEd(t, "ed-2").Sign(t, claimsAt(nil)), ErrInvalid},
		{"wrong secret", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(nil)).SignedString([]byte("another secret, also 32 bytes long"))
			return s
		}(), ErrInvalid},
		{"alg none", none, ErrInvalid},
		{"alg none with a kid", noneKid, ErrInvalid},
		{"HS256 with the public key as PEM", confused(pemKey), ErrInvalid},
		{"HS256 with the public key as DER", confused(der), ErrInvalid},
		{"ES256 naming an RSA key", esAsRS.Sign(t, claimsAt(nil)), ErrInvalid},
		{"ES256 naming an Ed25519 key", esAsEd.Sign(t, claimsAt(nil)), ErrInvalid},
		{"HS384", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, claimsAt(nil)).SignedString([]byte(testSecret))
			return s
		}(), ErrInvalid},
		{"tampered claims", tampered, ErrInvalid},
		{"no role", hs(claimsAt(jwt.MapClaims{"role": nil})), ErrInvalid},
		{"unknown role", hs(claimsAt(jwt.MapClaims{"role": "admin"})), ErrInvalid},
		{"no scope", hs(claimsAt(jwt.MapClaims{"doc": nil})), ErrInvalid},
		{"two scopes", hs(claimsAt(jwt.MapClaims{"workspace": "w-handle"})), ErrInvalid},
		{"data not an object", hs(claimsAt(jwt.MapClaims{"data": []string{"x"}})), ErrInvalid},
		{"role not a string", hs(claimsAt(jwt.MapClaims{"role": 3})), ErrInvalid},
		{"long subject", hs(claimsAt(jwt.MapClaims{"sub": strings.Repeat("x", MaxSubject+1)})), ErrInvalid},
		{"too long", hs(claimsAt(jwt.MapClaims{"name": strings.Repeat("x", maxToken)})), ErrInvalid},
		{"garbage", "not.a.token", ErrInvalid},
		{"empty", "", ErrInvalid},
	} {
		c, err := tk.Verify(context.Background(), tc.token)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %+v, %v; want %v", tc.name, c, err, tc.want)
		}
	}
	if _, err := tk.Verify(context.Background(), valid); err != nil {
		t.Fatalf("the valid token: %v", err)
	}
}

// TestAlgorithmsFollowTheConfiguration: without a JWK Set, RS256, ES256
// and EdDSA are refused, and without a secret, HS256 is.
func TestAlgorithmsFollowTheConfiguration(t *testing.T) {
	hsTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(nil)).SignedString([]byte(testSecret))
	rsTok := jwttest.NewRSA(t, "rs-1").Sign(t, claimsAt(nil))
	secretOnly := newTokens(t, Config{Secret: []byte(testSecret)})
	if _, err := secretOnly.Verify(context.Background(), hsTok); err != nil {
		t.Errorf("HS256 with the secret: %v", err)
	}
	if _, err := secretOnly.Verify(context.Background(), rsTok); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "RS256") {
		t.Errorf("RS256 without a JWK Set: %v", err)
	}
	j := jwttest.NewJWKS(t)
	rs := jwttest.NewRSA(t, "rs-1")
	j.Serve(rs)
	setOnly := newTokens(t, Config{JWKSURL: j.URL})
	if _, err := setOnly.Verify(context.Background(), hsTok); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "HS256") {
		t.Errorf("HS256 without a secret: %v", err)
	}
	der, _ := x509.MarshalPKIXPublicKey(rs.Priv.Public())
	for _, secret := range [][]byte{der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(nil))
		tok.Header["kid"] = rs.Kid
		s, _ := tok.SignedString(secret)
		if _, err := setOnly.Verify(context.Background(), s); !errors.Is(err, ErrInvalid) {
			t.Errorf("HS256 signed with the set's public key: %v", err)
		}
	}
	if _, err := setOnly.Mint(Claims{Doc: "d-x", Role: RoleView, Expires: testNow.Add(time.Hour)}); !errors.Is(err, ErrConfig) {
		t.Errorf("Mint without a secret: %v", err)
	}
	nothing := newTokens(t, Config{})
	if _, err := nothing.Verify(context.Background(), hsTok); !errors.Is(err, ErrInvalid) {
		t.Errorf("HS256 with nothing configured: %v", err)
	}
}

func TestLeeway(t *testing.T) {
	tk := newTokens(t, Config{Secret: []byte(testSecret), Leeway: 30 * time.Second})
	for _, tc := range []struct {
		extra jwt.MapClaims
		ok    bool
	}{
		{jwt.MapClaims{"exp": testNow.Add(-20 * time.Second).Unix()}, true},
		{jwt.MapClaims{"exp": testNow.Add(-40 * time.Second).Unix()}, false},
		{jwt.MapClaims{"nbf": testNow.Add(20 * time.Second).Unix()}, true},
		{jwt.MapClaims{"nbf": testNow.Add(40 * time.Second).Unix()}, false},
	} {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(tc.extra)).SignedString([]byte(testSecret))
		if _, err := tk.Verify(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.extra, err)
		}
	}
}

// TestKeyRotation: the host publishes a new key and withdraws the old one;
// a token of the new key works at once, with no restart, and the old key
// is refused from then on.
func TestKeyRotation(t *testing.T) {
	j := jwttest.NewJWKS(t)
	old, next := jwttest.NewRSA(t, "2026-01"), jwttest.NewEC(t, "2026-02")
	j.Serve(old)
	tk := newTokens(t, Config{JWKSURL: j.URL})
	oldTok, nextTok := old.Sign(t, claimsAt(nil)), next.Sign(t, claimsAt(nil))
	for range 10 {
		if _, err := tk.Verify(context.Background(), oldTok); err != nil {
			t.Fatalf("the old key before the rotation: %v", err)
		}
	}
	if n := j.Fetches(); n != 1 {
		t.Fatalf("%d fetches for ten tokens: want one, at start (cached)", n)
	}
	// The rotation: the new key replaces the old one in the set.
	j.Serve(next)
	if _, err := tk.Verify(context.Background(), nextTok); err != nil {
		t.Fatalf("the new key after the rotation: %v", err)
	}
	if _, err := tk.Verify(context.Background(), oldTok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("the withdrawn key after the rotation: %v", err)
	}
	// Made-up key ids do not make the server fetch the set again.
	for i := range 20 {
		madeUp := jwttest.Key{Kid: fmt.Sprintf("made-up-%d", i), Method: next.Method, Priv: next.Priv}
		if _, err := tk.Verify(context.Background(), madeUp.Sign(t, claimsAt(nil))); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a made-up kid: %v", err)
		}
	}
	if n := j.Fetches(); n != 2 {
		t.Errorf("%d fetches for one rotation and 20 made-up kids, want 2 (at start, and for the new kid)", n)
	}
}

// TestJWKSRefreshedInTheBackground: the set is fetched again every
// JWKSRefresh, not before, so a new key is known before any token needs
// it, and a set that fails to load keeps the keys fetched before. The
// clock is the bubble's (testing/synctest): the test moves it by the
// refresh interval instead of waiting for a real ticker.
func TestJWKSRefreshedInTheBackground(t *testing.T) {
	// The JWK Set's server is outside the bubble: only the client's side
	// (the Tokens, their refresh goroutine, the connections they make)
	// runs on the bubble's clock.
	j := jwttest.NewJWKS(t)
	a, b := jwttest.NewEd(t, "a"), jwttest.NewEd(t, "b")
	j.Serve(a)
	synctest.Test(t, func(t *testing.T) {
		const every = time.Hour
		// No idle connections: a connection waiting on the network is not
		// durably blocked, and would keep the bubble's clock still.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		tk := newTokens(t, Config{JWKSURL: j.URL, JWKSRefresh: every, Client: client})
		// Spend the unknown-kid fetch, so that only the background ones can
		// bring key b.
		if _, err := tk.Verify(context.Background(), b.Sign(t, claimsAt(nil))); err == nil {
			t.Fatal("key b before it is published")
		}
		// tick moves the clock by d and waits until every goroutine of the
		// bubble is idle again: a refresh then due has been made.
		tick := func(d time.Duration) int {
			n := j.Fetches()
			time.Sleep(d) // moves the bubble's fake clock by d: no real wait
			synctest.Wait()
			return j.Fetches() - n
		}
		j.SetFailing(true)
		if n := tick(every - time.Second); n != 0 {
			t.Fatalf("%d fetches before the refresh interval", n)
		}
		if n := tick(time.Second); n != 1 {
			t.Fatalf("%d fetches at the refresh interval, want 1", n)
		}
		if _, err := tk.Verify(context.Background(), a.Sign(t, claimsAt(nil))); err != nil {
			t.Fatalf("key a while the set fails to load: %v", err)
		}
		j.SetFailing(false)
		j.Serve(a, b)
		if n := tick(every); n != 1 {
			t.Fatalf("%d fetches in the next interval, want 1", n)
		}
		if _, err := tk.Verify(context.Background(), b.Sign(t, claimsAt(nil))); err != nil {
			t.Fatalf("key b after a background fetch: %v", err)
		}
	})
}

// TestJWKSDownAtStart: a server starts while the set is unreachable, and
// takes tokens once it is back.
func TestJWKSDownAtStart(t *testing.T) {
	j := jwttest.NewJWKS(t)
	k := jwttest.NewRSA(t, "k")
	j.Serve(k)
	j.SetFailing(true)
	tk := newTokens(t, Config{JWKSURL: j.URL})
	j.SetFailing(false)
	if _, err := tk.Verify(context.Background(), k.Sign(t, claimsAt(nil))); err != nil {
		t.Fatalf("after the set is back: %v", err)
	}
}

func TestMint(t *testing.T) {
	tk := newTokens(t, Config{Secret: []byte(testSecret), Issuer: "https://collab.example", Audience: "collab"})
	c := Claims{Subject: "user-1", Name: "Ann", Workspace: "w-abc", Role: RoleOwner, Data: json.RawMessage(`{"role":"teacher"}`), Expires: testNow.Add(time.Minute)}
	tok, err := tk.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	c.IssuedAt = testNow
	if got.Subject != c.Subject || got.Name != c.Name || got.Workspace != c.Workspace || got.Role != c.Role || string(got.Data) != string(c.Data) || !got.Expires.Equal(c.Expires) || !got.IssuedAt.Equal(testNow) {
		t.Fatalf("Verify(Mint(%+v)) = %+v", c, got)
	}
	// Any JWT library reads it: the claims are plain JSON.
	var plain jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &plain, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }, jwt.WithTimeFunc(func() time.Time { return testNow })); err != nil {
		t.Fatal(err)
	}
	if plain["iss"] != "https://collab.example" || plain["workspace"] != "w-abc" || plain["role"] != "owner" || plain["sub"] != "user-1" {
		t.Fatalf("claims %v", plain)
	}
	// Another server's secret does not take it.
	other := newTokens(t, Config{Secret: []byte("another server's secret, 32 bytes")})
	if _, err := other.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("another secret: %v", err)
	}
	for _, bad := range []Claims{
		{Doc: "d-x", Role: "admin", Expires: testNow.Add(time.Minute)},
		{Role: RoleView, Expires: testNow.Add(time.Minute)},
		{Doc: "d-x", Role: RoleView},
	} {
		if _, err := tk.Mint(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Mint(%+v) = %v", bad, err)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{
		{Secret: []byte("short")},
		{JWKSURL: "not a url"},
		{JWKSURL: "ftp://host/jwks"},
		{JWKSURL: "/relative"},
		{Leeway: -time.Second},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}
