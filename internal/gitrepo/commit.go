package gitrepo

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// What a commit of collab's says, and how it is written: everything in it
// comes from the history (revisions, their times and authors, the
// authors' names, the files' paths), nothing from the clock or chance, so
// that the same history makes the same commit ids on every call.

// committerName and committerEmail sign every commit collab makes.
const (
	committerName  = "collab"
	committerEmail = "collab@collab"
	// trailerRevisions names, in a commit's message, the revisions of one
	// file that the commit's session holds: "path@first..last".
	trailerRevisions = "Collab-Revisions: "
	// The changes of a file's path in a session: "old -> new", and the
	// paths of files deleted and restored.
	trailerRenamed  = "Collab-Renamed: "
	trailerDeleted  = "Collab-Deleted: "
	trailerRestored = "Collab-Restored: "
)

// person is an author as a commit shows them.
type person struct{ name, email string }

// personOf is author id's identity: the name the workspace keeps for it,
// or the id itself; the e-mail is the id at "collab", which never
// changes.
func personOf(id, name string) person {
	if id == "" {
		id = "unknown"
	}
	if name == "" {
		name = id
	}
	return person{name: clean(name), email: clean(id) + "@collab"}
}

// clean makes s safe inside a signature line: no angle brackets, no line
// breaks.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '<' || r == '>':
			return -1
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, s)
	if s = strings.TrimSpace(s); s == "" {
		return "unknown"
	}
	return s
}

func signature(p person, ms int64) string {
	return fmt.Sprintf("%s <%s> %d +0000", p.name, p.email, ms/1000)
}

// fileRange is the revisions of one file in a session.
type fileRange struct {
	path        string
	first, last uint64
}

// session is what a commit records: its files' revision ranges, the
// changes of files' paths, its authors in the order of their first event,
// its time span, and how many events of each kind it holds.
type session struct {
	ranges     []fileRange // by path
	renamed    [][2]string // old and new path, by old path
	deleted    []string    // by path
	restored   []string    // by path
	authors    []person
	start, end int64 // Unix milliseconds

	revisions, renames, deletions, restorations int
}

// sort puts a session's lists in their order, so that the same session
// always makes the same commit.
func (s *session) sort() {
	slices.SortFunc(s.ranges, func(a, b fileRange) int { return strings.Compare(a.path, b.path) })
	slices.SortFunc(s.renamed, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	slices.Sort(s.deleted)
	slices.Sort(s.restored)
}

// encodeCommit writes the commit object of s on parent (zero: none)
// with tree.
func encodeCommit(tree, parent plumbing.Hash, s session) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "tree %s\n", tree)
	if !parent.IsZero() {
		fmt.Fprintf(&b, "parent %s\n", parent)
	}
	fmt.Fprintf(&b, "author %s\n", signature(s.authors[0], s.end))
	fmt.Fprintf(&b, "committer %s\n\n", signature(person{committerName, committerEmail}, s.end))
	b.WriteString(message(s))
	return []byte(b.String())
}

// message is a session's commit message: a subject naming what changed,
// a line counting its events with their times, then trailers: the
// revisions of each file, each change of a file's path, the co-authors.
// A session of edits only says "Edit <files>" and "<n> revisions from
// <start> to <end>."
func message(s session) string {
	var b strings.Builder
	var parts []string
	var edited []string
	for _, r := range s.ranges {
		if !slices.Contains(s.deleted, r.path) {
			edited = append(edited, r.path)
		}
	}
	if len(edited) > 0 {
		parts = append(parts, "Edit "+files(edited))
	}
	if len(s.renamed) > 0 {
		renamed := make([]string, len(s.renamed))
		for i, r := range s.renamed {
			renamed[i] = r[0] + " to " + r[1]
		}
		parts = append(parts, "Rename "+files(renamed))
	}
	if len(s.deleted) > 0 {
		parts = append(parts, "Delete "+files(s.deleted))
	}
	if len(s.restored) > 0 {
		parts = append(parts, "Restore "+files(s.restored))
	}
	if len(parts) == 0 {
		parts = append(parts, "Rename files") // and back, within the session
	}
	b.WriteString(strings.Join(parts, "; "))
	var counts []string
	for _, c := range []struct {
		n          int
		one, other string
	}{{s.revisions, "revision", "revisions"}, {s.renames, "rename", "renames"}, {s.deletions, "deletion", "deletions"}, {s.restorations, "restoration", "restorations"}} {
		switch {
		case c.n == 1:
			counts = append(counts, "1 "+c.one)
		case c.n > 1:
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.other))
		}
	}
	fmt.Fprintf(&b, "\n\n%s from %s to %s.\n\n", and(counts), stamp(s.start), stamp(s.end))
	for _, r := range s.ranges {
		fmt.Fprintf(&b, "%s%s@%d..%d\n", trailerRevisions, r.path, r.first, r.last)
	}
	for _, r := range s.renamed {
		fmt.Fprintf(&b, "%s%s -> %s\n", trailerRenamed, r[0], r[1])
	}
	for _, p := range s.deleted {
		fmt.Fprintf(&b, "%s%s\n", trailerDeleted, p)
	}
	for _, p := range s.restored {
		fmt.Fprintf(&b, "%s%s\n", trailerRestored, p)
	}
	for _, p := range s.authors[1:] {
		fmt.Fprintf(&b, "Co-authored-by: %s <%s>\n", p.name, p.email)
	}
	return b.String()
}

// files names files in a subject: "a", "a and b", "a and 3 other files".
func files(items []string) string {
	switch len(items) {
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	return fmt.Sprintf("%s and %d other files", items[0], len(items)-1)
}

// and joins items: "a", "a and b", "a, b and c".
func and(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// stampLayout is the layout of times in commit messages.
const stampLayout = "2006-01-02T15:04:05.000Z"

func stamp(ms int64) string { return time.UnixMilli(ms).UTC().Format(stampLayout) }

// commitHeader is what receive needs of a commit: its tree, parents,
// committer and message.
type commitHeader struct {
	tree      plumbing.Hash
	parents   []plumbing.Hash
	author    person
	committer person
	message   string
}

// parseCommit reads a commit object.
func parseCommit(data []byte) (commitHeader, error) {
	var c commitHeader
	head, msg, _ := strings.Cut(string(data), "\n\n")
	c.message = msg
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "tree":
			c.tree = plumbing.NewHash(v)
		case "parent":
			c.parents = append(c.parents, plumbing.NewHash(v))
		case "author":
			c.author = parsePerson(v)
		case "committer":
			c.committer = parsePerson(v)
		}
	}
	if c.tree.IsZero() {
		return c, fmt.Errorf("%w: a commit without a tree", ErrProtocol)
	}
	return c, nil
}

func parsePerson(v string) person {
	lt, gt := strings.IndexByte(v, '<'), strings.IndexByte(v, '>')
	if lt < 0 || gt < lt {
		return person{name: strings.TrimSpace(v)}
	}
	return person{name: strings.TrimSpace(v[:lt]), email: v[lt+1 : gt]}
}
