// Package rope implements an immutable (persistent) rope: a sequence of
// Unicode code points with cheap edits, used as the in-memory text of a
// document. Documents may be many megabytes long; an edit copies only the
// O(log n) nodes on its path and never the whole text, so inserting one
// character into a 10 MB document costs about what it costs in a 10 KB one.
//
// # Positions and text
//
// Every position and length in the API counts code points, the way
// utf8.RuneCountInString counts them, so positions agree with the rest of
// the code base. A rope always holds valid UTF-8: New and Insert replace
// each byte that is not part of a valid UTF-8 encoding by U+FFFD. That is
// exactly one code point for each code point utf8.RuneCountInString counts
// for the byte, so
//
//	New(s).Len() == utf8.RuneCountInString(s)
//	r.Insert(pos, s).Len() == r.Len() + utf8.RuneCountInString(s)
//
// hold for every string s, and New(s).String() == s whenever s is valid
// UTF-8. (For invalid input ByteLen grows by 2 for each replaced byte.)
// This is what []rune(s) does too. Combining marks, "\r\n" and NUL are
// ordinary code points: a rope does not know about grapheme clusters or
// line breaks.
//
// # Representation
//
// A rope is a B-tree. Leaves hold the text as UTF-8 strings of 512 to 2048
// bytes (a leaf that is the whole rope may be shorter); a leaf never splits
// a code point, so every leaf is valid UTF-8 on its own. Internal nodes have
// 8 to 16 children (the root: 2 to 16). All leaves are at the same depth,
// so the height of a rope of n bytes is at most 1+log8(n/1024): 5 for
// 10 MB (New builds 10 MB with height 4, leaves of about 1 KB and nodes of
// about 12 children, leaving room for edits). Every node caches the number
// of bytes and of code points below it.
// The zero Rope is the empty rope; a Rope value is one pointer.
//
// Nodes are never modified after they are built. An edit builds new nodes
// for the path it changes and shares every other node with the old
// version, so old versions stay valid and unchanged for as long as they are
// referenced, and keeping many versions costs memory only for what differs.
// Leaves of a rope built by New share the memory of the string given to it.
//
// # Complexity
//
// With n the length of the rope, m the length of the argument and k the
// length of the result, all in code points (or bytes; they differ by at
// most a factor of 4):
//
//	New(s)                O(m), balanced, bottom-up
//	Len, ByteLen          O(1)
//	ByteOffset            O(log n)
//	Insert(pos, s)        O(log n + m)
//	Delete(pos, n)        O(log n)
//	Slice(start, end)     O(log n)
//	Concat(o)             O(log n + log m)
//	String                O(n), at most one allocation, of exactly ByteLen bytes
//	SliceString           O(log n + k), one allocation of exactly the result
//	Chunks, WriteTo       O(n), no copying of text
//	EqualString(s)        O(n) worst case, O(1) if the byte lengths differ
//
// log n is a small constant in practice; the work of an Insert or Delete
// is dominated by copying the one leaf it touches (at most 2 KB) and about
// one small node (16 child pointers) per level.
//
// # Concurrency
//
// A Rope is immutable. Any number of goroutines may read the same Rope
// concurrently, including while other goroutines derive new versions from
// it with Insert, Delete, Slice or Concat; no locking is needed. Sharing a
// variable of type Rope that one goroutine reassigns is the caller's usual
// synchronization problem, as for any other variable.
//
// # Panics
//
// Positions out of range are programming errors, as with slice indexing:
// callers validate positions from untrusted input before calling. Insert,
// ByteOffset (pos outside [0, Len]), Delete (pos or n negative, or
// pos+n > Len), Slice and SliceString (not 0 <= start <= end <= Len) panic
// with a message that names the method, the offending position or range
// and the valid range. No other method panics.
package rope
