// Package docs keeps collab's documents: the serial edit path, durable
// revisions in bbolt (or, in cluster mode, in a replicated Log with bbolt
// as this node's replica), snapshots, and the history reads built on
// them.
//
// The types:
//
//   - Manager owns the bbolt file (through Store), the group commit and the
//     live documents. Open a database with Open; close it with Close.
//   - Document is a live document: its text (a rope), its head revision and
//     its newest revisions. Edits go through Document.Submit; readers and
//     realtime sessions subscribe with Document.Join.
//   - Store reads durable state: metadata, the log, text at any revision.
//
// # The edit path
//
// Submit takes an edit made against a base revision, transforms it over
// every newer revision (from memory, or from disk for a client that was
// away longer than the in-memory window), applies it to the text, numbers
// it head+1 and queues it for the group commit. It returns, and
// subscribers hear of the revision, only once the transaction that holds it
// has committed with fsync. An op id that was applied before returns the
// original revision and applies nothing (exactly once). Errors leave the
// document unchanged.
//
// Each document has one mutex; Submit holds it while it transforms and
// applies, never while the write commits. Edits keep being transformed and
// applied while earlier ones are on their way to disk (a pipeline). If the
// disk refuses a commit (full, or failing), the edit fails with
// ErrStorage, the document goes back to its newest durable revision, and
// every edit queued after the refused one fails the same way: none is
// applied, each may be sent again, and the document and its subscribers
// carry on. Any other failed commit (the log moved under the document)
// closes the document, which its next user reloads from disk.
//
// The durable step is "append revision N only if the log's head is N-1",
// checked inside the transaction: the primitive a distributed log offers
// too (NATS JetStream's expected last sequence). Nothing on the edit path
// assumes it is the only writer: a write that finds the head moved fails
// with ErrConflict and the document is reloaded.
//
// # Group commit
//
// One goroutine commits everything queued while the previous transaction
// was committing in one bbolt transaction: one fsync for many documents'
// edits. Unlike bbolt's Batch it never waits for a batch to fill. A second
// goroutine tells subscribers, in commit order, while the next transaction
// commits.
//
// # Storage
//
// See store.go for the bucket layout. The log is keyed by big-endian
// revision; a snapshot of the text is written every SnapshotEvery revisions
// (for a text of more than SnapshotEvery*256 bytes, every 256 bytes of it)
// or SnapshotBytes of log, so opening a document or reading any revision
// replays at most that much. Blame replays from checkpoints of each
// line's revision and author, which the blame indexer writes off the edit
// path as every document grows: every SnapshotEvery revisions (for a
// checkpoint of more than SnapshotEvery*64 bytes, one revision per 64
// bytes of it). Reads never write them, and a damaged or missing one
// costs a longer replay, never a wrong answer (see blamecheckpoint.go).
//
// # People and history
//
// A revision's Author is an id the caller chooses (the server's public
// author ids); AuthorProfile keeps each author's name and colour per
// workspace, looked up when history is read, and AuthorNames every name
// each one took, with its time. A document's names (names.go) are every
// change of its path with its time and revision. Deleting a document
// (trash.go) takes it out of its workspace but keeps its history, in the
// workspace's trash, until it is restored or purged; a purge removes a
// document and its history for good. Edit sessions (sessions.go)
// group the history into runs of revisions without a pause longer than
// SessionGap, indexed in the same commit as the revisions, so a page of
// them costs the same at any length of history. Labels (labels.go) name
// revisions.
//
// # The journal
//
// The journal (journal.go) is what happened to documents, in one order,
// durable: each creation, rename, deletion, restoration and purge appends
// an entry in the transaction that makes it, and NoteChanges summarises a document's edits
// (their range and authors) after the fact, from its durable cursor, so
// nothing on the edit path waits for it. A Watcher hears of new entries
// and durable revisions; readers page through entries by workspace or
// document; they are forgotten after JournalKeep. Package hooks turns them
// into webhooks and event streams.
//
// # A failing disk, damaged files
//
// While the disk refuses writes, reads are served (from bbolt and the
// revisions still in the log), edits go to the log while it has room and
// are refused with ErrStorage after, failures are logged when they start,
// once a minute while they last, and when they end, and
// Manager.Storage reports the state; writes succeed again by themselves
// once space returns. At open the bbolt file is checked page by page
// before bbolt maps it, and the log is told apart into a torn tail (cut
// off and logged) and damage; a damaged or mismatched pair of files is an
// ErrCorrupt naming the recovery command, Recover. See
// docs/OPERATIONS.md.
//
// # Cluster mode
//
// With Config.Log set, the durable step is a shared, replicated Log
// (package docs/jetstream: NATS JetStream) instead of the revision log,
// and the bbolt file is this node's replica of it: a group commit appends
// each document's revisions to the Log as one run, only if the
// document's newest revision there is still the one before it; every
// other write is recorded (package kv), rolled back, and committed to the
// Log as a change set, only if no other came first; every node follows
// the Log and applies its entries, in order, to its replica. An edit that
// another node's edit beat to the Log is transformed over it and tried
// again; after three such races it is handed to the node that keeps
// winning (Config.Forward, forward.go). Reads stay local. The group
// commit hands each batch to a revisionLog, the seam between the edit
// path and storage: walLog (the revision log, local mode) or clusterLog
// (the Log). See cluster.go, follow.go and docs/CLUSTER.md. Nothing in this package knows NATS; nothing in
// docs/jetstream knows bbolt.
//
// # Memory
//
// Documents nobody holds or listens to are unloaded after IdleTimeout.
package docs
