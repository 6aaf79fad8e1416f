package hooks

import "errors"

// The errors of this package, wrapped with detail. Compare with errors.Is.
var (
	// ErrNotFound: no such endpoint in this scope, or no such event.
	ErrNotFound = errors.New("hooks: not found")
	// ErrInvalid: a URL, event type, event id or other argument is not
	// acceptable.
	ErrInvalid = errors.New("hooks: invalid argument")
	// ErrTooMany: the scope has MaxEndpoints endpoints already, or the
	// endpoint has MaxRedeliveries redeliveries queued.
	ErrTooMany = errors.New("hooks: too many")
	// ErrExpired: an event id older than the journal keeps: what came
	// after it may be forgotten, so a stream cannot resume from it.
	ErrExpired = errors.New("hooks: event no longer kept")
	// ErrPrivateAddress: a delivery's address is loopback, private,
	// link-local or otherwise not public, and AllowPrivate is off.
	ErrPrivateAddress = errors.New("hooks: address is not public")
)
