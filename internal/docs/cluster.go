package docs

import (
	"errors"
	"fmt"
)

// A Log is where a cluster's documents become durable, shared by every
// node: a replicated, totally ordered log (NATS JetStream in package
// docs/jetstream). Config.Log set puts a Manager in cluster mode:
//
//   - a group commit's revisions are appended to the Log, one Run per
//     document, each only if the document's newest revision there is
//     still the one before the run (compare-and-append); an edit is
//     acknowledged once the Log has acknowledged its run;
//   - every other write (documents created, renamed, deleted; links,
//     workspaces, settings, chat, authors, …) runs against the node's
//     bbolt file, which records it, rolls it back and commits the recorded
//     change set to the Log, if no change set was committed since the
//     last one the node has (compare-and-set on the whole metadata);
//   - every node follows the Log from its start and applies each entry,
//     in order, to its bbolt file, which is then the node's replica of the
//     cluster's state: reads (history, blame, links, …) are local.
//
// The group commit sees neither: it hands each batch to a revisionLog
// (commit.go), walLog in local mode (the revision log beside bbolt,
// wal.go), clusterLog in cluster mode (a Log, follow.go).
type Log interface {
	// Append makes runs durable, in one call per group commit; runs of
	// different documents are sent together. errs[i] is run i's result:
	// nil, an error wrapping ErrConflict when its document's newest
	// revision in the Log is not runs[i].First-1 (nothing was stored), or
	// another failure (unknown whether it was stored: the document reads
	// its head again).
	Append(runs []Run) (errs []error)
	// Commit appends a metadata change set if the newest change set in
	// the Log is still the one at position after (0: none yet), and
	// returns its position; an error wrapping ErrConflict if another
	// came first.
	Commit(after uint64, changes []byte) (pos uint64, err error)
	// Since returns document doc's runs holding revisions after rev, up
	// to its newest at the time of the call (asking the Log's leader: it
	// sees every acknowledged append).
	Since(doc string, rev uint64) ([]Run, error)
	// Follow calls fn with every entry after position after, in the
	// Log's order, from one goroutine, until stop is called.
	Follow(after uint64, fn func(Entry)) (stop func(), err error)
	// Last is the position of the Log's newest entry: once Follow has
	// delivered it, the node has seen everything acknowledged before the
	// call.
	Last() (uint64, error)
	// MaxAppend is the most bytes one entry carries: a Run's Body, or a
	// change set. Append and Commit refuse a larger one with an error
	// wrapping ErrTooLarge, storing nothing; the node cuts its runs to
	// fit, and refuses an edit whose revision alone does not.
	MaxAppend() int
}

// A ConflictError is a Log's refusal of a run because the document's
// newest revision there is Head, not the one before the run, or its
// newest run is at position Pos (0: not known). It is an ErrConflict: the
// node waits for its follower to bring what came first.
type ConflictError struct {
	Doc  string
	Head uint64
	Pos  uint64
}

func (e *ConflictError) Error() string {
	if e.Head == 0 && e.Pos != 0 {
		return fmt.Sprintf("%v: %q has newer revisions at position %d of the cluster's log", ErrConflict, e.Doc, e.Pos)
	}
	return fmt.Sprintf("%v: %q is at revision %d in the cluster's log", ErrConflict, e.Doc, e.Head)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrNotHandedOver is what Config.Forward's error wraps when the other
// node did not settle the edit (out of reach, behind, busy, losing races
// itself): this node goes on with it. Any other error is the edit's own
// (it does not fit, it is too large, …), the same on every node.
var ErrNotHandedOver = errors.New("docs: the edit was not handed over")

// A Purger is a Log that can forget a document's revisions, for a purge.
type Purger interface {
	Purge(doc string) error
}

// A Run is consecutive revisions of one document, as one entry of a Log:
// First is the first one's number, Count how many, Body their records
// (see encodeRun). Pos is its position in the Log, once known; Node the
// node that appended it (Config.Node), if it said.
type Run struct {
	Doc   string
	First uint64
	Count int
	Body  []byte
	Pos   uint64
	Node  string
}

// Last is the number of the run's last revision.
func (r Run) Last() uint64 { return r.First + uint64(r.Count) - 1 }

// An Entry is one entry of a Log: a Run, or a metadata change set.
type Entry struct {
	Pos     uint64
	Run     *Run
	Changes []byte
}
