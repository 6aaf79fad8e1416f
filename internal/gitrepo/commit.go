package gitrepo

import (
	"fmt"
	"slices"
	"strconv"
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

// session is what a commit records: its files' revision ranges, its
// authors in the order of their first revision, its time span.
type session struct {
	ranges     []fileRange // by path
	revisions  int
	authors    []person
	start, end int64 // Unix milliseconds
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

// message is a session's commit message: a subject naming the files, the
// revisions and times, then trailers: the revisions of each file, and the
// co-authors.
func message(s session) string {
	var b strings.Builder
	b.WriteString("Edit ")
	switch len(s.ranges) {
	case 1:
		b.WriteString(s.ranges[0].path)
	case 2:
		b.WriteString(s.ranges[0].path + " and " + s.ranges[1].path)
	default:
		fmt.Fprintf(&b, "%s and %d other files", s.ranges[0].path, len(s.ranges)-1)
	}
	noun := "revisions"
	if s.revisions == 1 {
		noun = "revision"
	}
	fmt.Fprintf(&b, "\n\n%d %s from %s to %s.\n\n", s.revisions, noun, stamp(s.start), stamp(s.end))
	for _, r := range s.ranges {
		fmt.Fprintf(&b, "%s%s@%d..%d\n", trailerRevisions, r.path, r.first, r.last)
	}
	for _, p := range s.authors[1:] {
		fmt.Fprintf(&b, "Co-authored-by: %s <%s>\n", p.name, p.email)
	}
	return b.String()
}

func stamp(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

// parseRanges reads the revision trailers of a commit collab made.
func parseRanges(msg string) ([]fileRange, bool) {
	var out []fileRange
	for _, line := range strings.Split(msg, "\n") {
		v, ok := strings.CutPrefix(line, trailerRevisions)
		if !ok {
			continue
		}
		at := strings.LastIndexByte(v, '@')
		if at <= 0 {
			return nil, false
		}
		a, z, ok := strings.Cut(v[at+1:], "..")
		first, err1 := strconv.ParseUint(a, 10, 64)
		last, err2 := strconv.ParseUint(z, 10, 64)
		if !ok || err1 != nil || err2 != nil || first == 0 || last < first {
			return nil, false
		}
		out = append(out, fileRange{path: v[:at], first: first, last: last})
	}
	return out, len(out) > 0 && slices.IsSortedFunc(out, func(a, b fileRange) int { return strings.Compare(a.path, b.path) })
}

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
