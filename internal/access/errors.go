package access

import "errors"

// Errors. Verify's errors wrap one of the first three, with the reason.
var (
	// ErrInvalid: the token is malformed, signed with an algorithm or a
	// key that is not accepted, has the wrong issuer or audience, or
	// claims that are missing or wrong.
	ErrInvalid = errors.New("access: invalid token")
	// ErrExpired: the token's "exp" has passed.
	ErrExpired = errors.New("access: token expired")
	// ErrNotYetValid: the token's "nbf" (or "iat") is still to come.
	ErrNotYetValid = errors.New("access: token not valid yet")
	// ErrConfig: the Config cannot work (a short secret, a JWK Set URL
	// that is not one).
	ErrConfig = errors.New("access: bad token configuration")
)
