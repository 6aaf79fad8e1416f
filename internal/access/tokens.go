package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Role is what a token grants on its document, or on each document of its
// workspace.
type Role string

// The roles, each granting what the one before does and more.
const (
	RoleView  Role = "view"  // read and watch
	RoleEdit  Role = "edit"  // and edit
	RoleOwner Role = "owner" // and rename, move and delete files
)

func (r Role) valid() bool { return r == RoleView || r == RoleEdit || r == RoleOwner }

// MaxSubject bounds a token's subject, in bytes.
const MaxSubject = 256

// MinSecret is the shortest HS256 secret taken, in bytes: a shorter one
// could be guessed from a token.
const MinSecret = 32

// maxToken bounds what Verify reads, in bytes.
const maxToken = 8 << 10

// Claims are what a token says. A token grants exactly one of Doc and
// Workspace.
type Claims struct {
	// Subject ("sub") is who the user is on the host (its own user id):
	// the author of their edits. Empty: the name is.
	Subject string
	// Name ("name") is the user name others see, which the session cannot
	// change. Empty: the session chooses its own.
	Name string
	// Doc ("doc") is the handle of the document the token grants.
	Doc string
	// Workspace ("workspace") is the handle of the workspace whose every
	// document the token grants.
	Workspace string
	Role      Role // "role"
	// Data ("data") is app data the session shows others under these
	// keys, which it cannot change: a JSON object, or empty.
	Data json.RawMessage
	// IssuedAt ("iat"), NotBefore ("nbf") and Expires ("exp"): zero when
	// absent; a verified token always has Expires.
	IssuedAt, NotBefore, Expires time.Time
}

// check reports what is wrong with claims, whoever signed them.
func (c Claims) check() error {
	switch {
	case !c.Role.valid():
		return fmt.Errorf(`%w: "role" must be "view", "edit" or "owner", not %q`, ErrInvalid, c.Role)
	case (c.Doc == "") == (c.Workspace == ""):
		return fmt.Errorf(`%w: a token grants one "doc" or one "workspace" (by its handle)`, ErrInvalid)
	case len(c.Subject) > MaxSubject || !utf8.ValidString(c.Subject):
		return fmt.Errorf(`%w: "sub" must be at most %d bytes of UTF-8`, ErrInvalid, MaxSubject)
	}
	if len(c.Data) > 0 && string(c.Data) != "null" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(c.Data, &obj) != nil {
			return fmt.Errorf(`%w: "data" must be a JSON object`, ErrInvalid)
		}
	}
	return nil
}

// wireClaims are Claims as a token carries them.
type wireClaims struct {
	jwt.RegisteredClaims
	Name      string          `json:"name,omitempty"`
	Doc       string          `json:"doc,omitempty"`
	Workspace string          `json:"workspace,omitempty"`
	Role      Role            `json:"role"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Config says which tokens are accepted. Zero fields take the documented
// defaults.
type Config struct {
	// Secret is the HS256 key, at least MinSecret bytes. Empty: HS256
	// tokens are refused, and Mint fails.
	Secret []byte
	// JWKSURL is the http(s) URL of a JWK Set whose public keys sign
	// RS256, ES256 and EdDSA tokens. Empty: those are refused.
	JWKSURL string
	// JWKSRefresh is how often the set is fetched again (default 1 hour).
	// A token whose "kid" the set lacks fetches it at once, at most once
	// a minute.
	JWKSRefresh time.Duration
	// JWKSTimeout bounds one fetch of the set (default 10 s).
	JWKSTimeout time.Duration
	Issuer      string        // when set, "iss" must be it (Mint sets it)
	Audience    string        // when set, "aud" must name it (Mint sets it)
	Leeway      time.Duration // clock skew allowed on exp, nbf and iat (default none)
	// Client fetches the JWK Set (default http.DefaultClient).
	Client *http.Client
	Now    func() time.Time // default time.Now
	Log    *slog.Logger     // failed fetches of the set (default slog.Default())
}

// Check reports what makes c unusable.
func (c Config) Check() error {
	if len(c.Secret) > 0 && len(c.Secret) < MinSecret {
		return fmt.Errorf("%w: the secret must be at least %d bytes, not %d", ErrConfig, MinSecret, len(c.Secret))
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: the JWK Set URL %q is not an http(s) URL", ErrConfig, c.JWKSURL)
		}
	}
	if c.Leeway < 0 || c.JWKSRefresh < 0 || c.JWKSTimeout < 0 {
		return fmt.Errorf("%w: negative durations", ErrConfig)
	}
	return nil
}

// unknownKeyEvery is how often at most a token with an unknown key id
// fetches the JWK Set: new keys are found at once, and tokens with made-up
// key ids cannot make the server fetch it over and over.
const unknownKeyEvery = time.Minute

// Tokens verifies tokens, and mints the server's own. It is safe for
// concurrent use. With a JWK Set, it fetches the set in the background
// until Close.
type Tokens struct {
	cfg     Config
	parser  *jwt.Parser
	methods []string        // the algorithms accepted
	jwks    keyfunc.Keyfunc // nil without a JWK Set
	stop    context.CancelFunc
}

// New returns the Tokens of cfg. With a JWK Set URL it fetches the set
// once before it returns (a failure is logged, not returned: the set is
// fetched again when a token needs it).
func New(cfg Config) (*Tokens, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.JWKSRefresh == 0 {
		cfg.JWKSRefresh = time.Hour
	}
	if cfg.JWKSTimeout == 0 {
		cfg.JWKSTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	t := &Tokens{cfg: cfg, stop: func() {}}
	methods := []string{} // none: every algorithm is refused
	if len(cfg.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
		ctx, stop := context.WithCancel(context.Background())
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:          cfg.Client,
			HTTPTimeout:     cfg.JWKSTimeout,
			RefreshInterval: cfg.JWKSRefresh,
			// A fetch for an unknown key id waits for no one: the limit is
			// far longer than this, so an exhausted limiter refuses at once.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKeyEvery), 1),
			RateLimitWaitMax:  cfg.JWKSTimeout,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) {
					cfg.Log.Warn("fetching the JWK Set failed; the keys fetched before are kept", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		t.jwks, t.stop = kf, stop
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	t.parser, t.methods = jwt.NewParser(opts...), methods
	return t, nil
}

// Close stops fetching the JWK Set.
func (t *Tokens) Close() { t.stop() }

// Verify checks a token's signature and claims and returns the claims.
// Its errors wrap ErrInvalid, ErrExpired or ErrNotYetValid.
func (t *Tokens) Verify(ctx context.Context, token string) (Claims, error) {
	if len(token) > maxToken {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxToken)
	}
	var w wireClaims
	var keyErr error
	tok, err := t.parser.ParseWithClaims(token, &w, func(tok *jwt.Token) (any, error) {
		k, err := t.key(ctx, tok)
		keyErr = err
		return k, err
	})
	if err != nil {
		return Claims{}, t.verifyError(tok, err, keyErr)
	}
	c := Claims{Subject: w.Subject, Name: w.Name, Doc: w.Doc, Workspace: w.Workspace, Role: w.Role, Data: w.Data}
	if string(c.Data) == "null" {
		c.Data = nil
	}
	c.IssuedAt, c.NotBefore, c.Expires = timeOf(w.IssuedAt), timeOf(w.NotBefore), timeOf(w.ExpiresAt)
	if err := c.check(); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

// key returns the key that checks tok: the secret for HS256, the JWK Set's
// key of the token's "kid" for the others. Each algorithm meets only its
// own kind of key (jwt's methods refuse any other type), so a public key
// never serves as an HMAC secret.
func (t *Tokens) key(ctx context.Context, tok *jwt.Token) (any, error) {
	switch tok.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if len(t.cfg.Secret) > 0 {
			return t.cfg.Secret, nil
		}
	case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg():
		if t.jwks != nil {
			k, err := t.jwks.KeyfuncCtx(ctx)(tok)
			if err != nil {
				return nil, fmt.Errorf("no key of the JWK Set verifies it (kid %q)", tok.Header["kid"])
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("algorithm %q is not accepted", tok.Method.Alg())
}

// verifyError says why jwt refused tok: err, or keyErr when no key was
// found for it.
func (t *Tokens) verifyError(tok *jwt.Token, err, keyErr error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	case keyErr != nil:
		return fmt.Errorf("%w: %v", ErrInvalid, keyErr)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && tok != nil && tok.Method != nil && !slices.Contains(t.methods, tok.Method.Alg()):
		return fmt.Errorf("%w: algorithm %q is not accepted", ErrInvalid, tok.Method.Alg())
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: the signature does not verify", ErrInvalid)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf(`%w: "iss" must be %q`, ErrInvalid, t.cfg.Issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf(`%w: "aud" must name %q`, ErrInvalid, t.cfg.Audience)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: %v", ErrInvalid, err) // names the claim
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w", ErrExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w", ErrNotYetValid)
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

// Mint signs claims with the secret (HS256), adding the configured issuer
// and audience and, unless set, "iat" (now).
func (t *Tokens) Mint(c Claims) (string, error) {
	if len(t.cfg.Secret) == 0 {
		return "", fmt.Errorf("%w: no secret to sign tokens with", ErrConfig)
	}
	if err := c.check(); err != nil {
		return "", err
	}
	if c.Expires.IsZero() {
		return "", fmt.Errorf(`%w: "exp" is required`, ErrInvalid)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = t.cfg.Now()
	}
	w := wireClaims{Name: c.Name, Doc: c.Doc, Workspace: c.Workspace, Role: c.Role, Data: c.Data}
	w.Subject, w.Issuer = c.Subject, t.cfg.Issuer
	if t.cfg.Audience != "" {
		w.Audience = jwt.ClaimStrings{t.cfg.Audience}
	}
	w.IssuedAt, w.ExpiresAt = jwt.NewNumericDate(c.IssuedAt), jwt.NewNumericDate(c.Expires)
	if !c.NotBefore.IsZero() {
		w.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, w).SignedString(t.cfg.Secret)
}
