package gitrepo

import "errors"

// The errors of this package, wrapped with detail. Compare with errors.Is.
var (
	// ErrRefused: a push was refused as a whole (not text, too large, not
	// a fast-forward, a merge, a view-only link...); nothing of it was
	// applied. The message says why, and the git client prints it.
	ErrRefused = errors.New("push refused")
	// ErrProtocol: a request does not follow git's protocol.
	ErrProtocol = errors.New("malformed git request")
	// ErrUnmapped: a commit the push builds on is none that collab can map
	// to its history (collab no longer makes it: a file was renamed, an
	// author renamed themselves, or it never came from this workspace).
	ErrUnmapped = errors.New("commit not in collab's history")
)
