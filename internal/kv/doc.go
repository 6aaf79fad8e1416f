// Package kv wraps bbolt's transactions, buckets and cursors so that the
// writes made through them can be recorded.
//
// # Why
//
// In cluster mode every node keeps the same bbolt data, a replica of the
// others. A write transaction on one node must therefore not simply commit
// to that node's file: its writes are recorded, the recorded change set is
// published to a replicated log, and every node, the writer included,
// applies the change sets in the log's order. Every node then reaches the
// same file contents by the same steps. Code that reads and writes the
// store goes through this package's types instead of bbolt's, so the same
// code runs whether its writes are committed directly or recorded.
//
// # Types
//
// Tx, Bucket and Cursor mirror bbolt's types of the same names, with the
// same methods and meanings; Tx.Bucket and Bucket.Bucket return nil for a
// bucket that does not exist. Bucket.SetFillPercent stands for assigning
// bbolt's FillPercent field.
//
// Wrap wraps a bbolt transaction without recording: the wrappers are the
// only cost, and a bucket's path is not tracked.
//
// Record wraps a writable bbolt transaction and records its writes. Each
// write is applied to the transaction as usual, so later reads in it see
// the write, and appended to the transaction's Changes, in order. What
// happens to the bbolt transaction afterwards (commit or roll back) is the
// caller's choice; the recording is independent of it.
//
// # Changes
//
// Changes is the ordered list of writes: puts, deletes (a cursor's delete
// included), bucket creations and deletions, sequence settings (NextSequence
// is recorded as the sequence it set, so a replay does not depend on the
// replica's counter) and fill percents (a page-layout hint, not contents).
// Every change names its bucket by path, the names of the buckets from the
// root down. Changes marshal to a compact, versioned, length-prefixed form
// (MarshalBinary, UnmarshalBinary) and replay onto another transaction with
// Apply. Apply tolerates creating a bucket that exists and deleting one that
// does not, so replaying onto a replica that already holds a bucket is
// harmless; a put, delete or sequence in a bucket that does not exist is an
// error naming the path, since that replica has diverged.
//
// # Caveats
//
// Keys and values handed to bbolt must stay valid until the transaction
// ends, as bbolt requires; the recording keeps its own copies. A cursor's
// Delete is recorded as a delete of the key the cursor last returned.
// Writes made on the raw bbolt transaction, behind the wrappers' backs, are
// not recorded.
package kv
