package docs

import "errors"

// The errors of this package, wrapped with detail. Compare with errors.Is.
var (
	// ErrNotFound: no document (or revision) with that id.
	ErrNotFound = errors.New("docs: not found")
	// ErrFutureRevision: an edit's base revision is newer than the document.
	ErrFutureRevision = errors.New("docs: base revision is in the future")
	// ErrBadOperation: an edit does not fit the document at its base
	// revision, or is not a valid operation.
	ErrBadOperation = errors.New("docs: operation does not fit the document")
	// ErrTooLarge: the edit would make the document larger than the cap,
	// or a write is larger than what stores it takes at once (a cluster's
	// log: one message).
	ErrTooLarge = errors.New("docs: over a size limit")
	// ErrConflict: the log's head is not the revision before the one being
	// appended (another writer got there first).
	ErrConflict = errors.New("docs: log head moved")
	// ErrInvalid: a name, id or other argument is not acceptable.
	ErrInvalid = errors.New("docs: invalid argument")
	// ErrStaleOp: an op id "<client>:<seq>" whose sequence is below the
	// client's newest applied op: a client resends only its newest op.
	ErrStaleOp = errors.New("docs: stale op id")
	// ErrKeyReused: an idempotency key already named another request
	// (another text or If-Match) within KeyTTL.
	ErrKeyReused = errors.New("docs: idempotency key reused for another request")
	// ErrClosed: the document or the manager was closed (deleted or shut
	// down), or the document was reset because its log moved under it.
	ErrClosed = errors.New("docs: closed")
	// ErrStorage: the disk refused a write (full, or failing): the edit or
	// change was not made and may be sent again later. Reads still work,
	// and writes succeed again by themselves once the disk takes them.
	ErrStorage = errors.New("docs: storage unavailable (disk full? in a cluster: its log out of reach?)")
	// ErrCorrupt: the bbolt file or the revision log is damaged, or the two
	// do not belong together. The error says what and where, and names the
	// recovery command (see docs/OPERATIONS.md).
	ErrCorrupt = errors.New("docs: data files damaged")
)
