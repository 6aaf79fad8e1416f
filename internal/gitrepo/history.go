package gitrepo

import (
	"container/heap"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/go-git/go-git/v5/plumbing"
)

// A workspace's history as git sees it: the events of its documents, live
// and deleted (their revisions, and the changes of their paths: renames,
// deletions, restorations), merged in time order into one serial history
// and cut into edit sessions the way docs cuts one document's (a pause
// longer than docs.SessionGap starts the next), one commit per session. A
// session is closed once the workspace has an event after it: closed
// sessions never change, and their commits are kept (see history and
// Repos.current). The last session is open: its commit is made for each
// request from the events up to that moment, and changes as it grows.
//
// A commit shows each document at the path it had at its session's end,
// and each author by the name they had then, so that a rename, a
// deletion or a new name changes the commits made after it only.

// file is a document as of a commit.
type file struct {
	id    string
	path  string // "" while it is deleted
	last  string // the path it had last: for a deleted document, its path when deleted
	rev   uint64
	names uint64 // how many of its names (see docs.Store.Names) are taken into account
	text  rope.Rope
	blob  plumbing.Hash // zero when the text is empty; in the tree only with a path
}

// docPos is where a commit leaves one document: its revision, the names
// taken into account, its path.
type docPos struct {
	rev, names uint64
	path       string
}

// commitInfo is one commit of the history.
type commitInfo struct {
	hash plumbing.Hash
	tree plumbing.Hash
	docs map[string]docPos // the documents the session changed, by id: where it left them
}

// history is the closed sessions of a workspace as commits, and the
// documents after the last of them. A history is never modified once
// published (Repos.current makes a new one to extend it); its objects and
// index are shared by its successors, which only add to them.
type history struct {
	ws      string
	objs    *objects
	idx     *commitIndex
	commits []commitInfo
	files   map[string]file // by document id, after the last commit
}

// commitIndex finds a commit of a history by hash. Shared by a history
// and its successors: an index found is valid for a history whose
// commits it is below.
type commitIndex struct {
	mu sync.RWMutex // guards m; held for memory only
	m  map[plumbing.Hash]int
}

func (h *history) find(c plumbing.Hash) (int, bool) {
	h.idx.mu.RLock()
	i, ok := h.idx.m[c]
	h.idx.mu.RUnlock()
	return i, ok && i < len(h.commits)
}

func (h *history) head() plumbing.Hash {
	if len(h.commits) == 0 {
		return plumbing.ZeroHash
	}
	return h.commits[len(h.commits)-1].hash
}

func emptyHistory(ws string) *history {
	return &history{ws: ws, objs: newObjects(), idx: &commitIndex{m: map[plumbing.Hash]int{}}, files: map[string]file{}}
}

// event is one event of the merged history: a revision, or a change of a
// document's path (rename set).
type event struct {
	doc    string
	rev    uint64 // a revision's number; a change of path's: the revision it follows
	ms     int64
	author string
	op     ot.Operation
	rename bool
	name   string // the path from then on; "" for a deletion
}

// nameCount is how many names document m has: its changes of path, or
// the one it was created with when it never changed.
func nameCount(m docs.Meta) uint64 { return max(m.Names, 1) }

// readEvents reads document id's revisions after after up to to.
func (r *Repos) readEvents(id string, after, to uint64) ([]event, error) {
	var out []event
	for after < to {
		revs, err := r.docs.Revisions(id, after, int(min(to-after, 1000)))
		if err != nil {
			return nil, err
		}
		if len(revs) == 0 {
			return nil, fmt.Errorf("gitrepo: revisions of %q after %d are missing", id, after)
		}
		for _, rv := range revs {
			out = append(out, event{doc: id, rev: rv.Rev, ms: rv.Time.UnixMilli(), author: rv.Author, op: rv.Op})
		}
		after = revs[len(revs)-1].Rev
	}
	return out, nil
}

// docEvents reads document m's events after where f leaves it, up to where
// m is (its revision and names), in the document's own order: a change
// of path after the revision it follows. For a document f has not seen
// yet, it starts f at the path the document was created with.
func (r *Repos) docEvents(m docs.Meta, f *file) ([]event, error) {
	revs, err := r.readEvents(m.ID, f.rev, m.Rev)
	if err != nil {
		return nil, err
	}
	var names []docs.NameChange
	if n := nameCount(m); n > f.names {
		if names, err = r.docs.Store().Names(m.ID, f.names); err != nil {
			return nil, err
		}
		if uint64(len(names)) < n-f.names {
			return nil, fmt.Errorf("gitrepo: names of %q after %d are missing", m.ID, f.names)
		}
		names = names[:n-f.names]
		if f.names == 0 {
			f.path, f.last, f.names = names[0].Name, names[0].Name, 1
			names = names[1:]
		}
	}
	out := make([]event, 0, len(revs)+len(names))
	for _, ev := range revs {
		for len(names) > 0 && names[0].Rev < ev.rev {
			out = append(out, nameEvent(m.ID, names[0]))
			names = names[1:]
		}
		out = append(out, ev)
	}
	for _, n := range names {
		out = append(out, nameEvent(m.ID, n))
	}
	return out, nil
}

func nameEvent(doc string, n docs.NameChange) event {
	return event{doc: doc, rev: n.Rev, ms: n.Time.UnixMilli(), author: n.Author, rename: true, name: n.Name}
}

// merge merges each document's revisions (each in revision order) into
// one history ordered by time; revisions of the same millisecond in
// document id order. A document's own order always holds, even were its
// clock to go back.
func merge(perDoc [][]event) []event {
	h := &eventHeap{}
	n := 0
	for _, evs := range perDoc {
		if len(evs) > 0 {
			h.qs = append(h.qs, evs)
			n += len(evs)
		}
	}
	heap.Init(h)
	out := make([]event, 0, n)
	for h.Len() > 0 {
		q := h.qs[0]
		out = append(out, q[0])
		if len(q) == 1 {
			heap.Pop(h)
		} else {
			h.qs[0] = q[1:]
			heap.Fix(h, 0)
		}
	}
	return out
}

type eventHeap struct{ qs [][]event }

func (h *eventHeap) Len() int { return len(h.qs) }
func (h *eventHeap) Less(i, j int) bool {
	a, b := h.qs[i][0], h.qs[j][0]
	if a.ms != b.ms {
		return a.ms < b.ms
	}
	return a.doc < b.doc
}
func (h *eventHeap) Swap(i, j int) { h.qs[i], h.qs[j] = h.qs[j], h.qs[i] }
func (h *eventHeap) Push(x any)    { h.qs = append(h.qs, x.([]event)) }
func (h *eventHeap) Pop() any {
	x := h.qs[len(h.qs)-1]
	h.qs = h.qs[:len(h.qs)-1]
	return x
}

// split cuts a merged history into sessions: a revision made more than
// docs.SessionGap after the one before it starts a new one.
func split(evs []event) [][]event {
	var out [][]event
	start := 0
	for i := 1; i <= len(evs); i++ {
		if i == len(evs) || evs[i].ms-evs[i-1].ms > docs.SessionGap.Milliseconds() {
			out = append(out, evs[start:i])
			start = i
		}
	}
	if len(evs) == 0 {
		return nil
	}
	return out
}

// gitPath reports whether a document's path can be a path in a git tree:
// git refuses a ".git" element anywhere in it.
func gitPath(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if strings.EqualFold(part, ".git") || part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// treeOf is the files of a commit: each document with a path and text,
// at its path. A document whose path git cannot hold, or whose path is
// also a directory of other documents' paths, is left out; of two
// documents with one path (one being renamed away as the other takes its
// place, in one millisecond), the first by id.
func treeOf(files map[string]file) map[string]plumbing.Hash {
	out := make(map[string]plumbing.Hash, len(files))
	for _, id := range slices.Sorted(maps.Keys(files)) {
		f := files[id]
		if _, taken := out[f.path]; !taken && !f.blob.IsZero() && gitPath(f.path) {
			out[f.path] = f.blob
		}
	}
	return out
}

// authorNames are the names each author of a workspace took, oldest first
// (docs.Manager.AuthorNames).
type authorNames map[string][]docs.AuthorName

// at is the name author had at ms: the newest they took at or before it,
// "" for none.
func (n authorNames) at(author string, ms int64) string {
	name := ""
	for _, an := range n[author] {
		if an.Time.UnixMilli() > ms {
			break
		}
		name = an.Name
	}
	return name
}

// build makes the commit of one session on parent: it applies the
// session's events to files (changing it) and stores the new blobs,
// trees and the commit with put.
func build(files map[string]file, evs []event, parent plumbing.Hash, names authorNames, put func(plumbing.EncodedObject) plumbing.Hash) (commitInfo, error) {
	s := session{start: evs[0].ms, end: evs[len(evs)-1].ms}
	var authors []string
	ranges := map[string]*fileRange{}
	before := map[string]string{} // the path each document renamed had before the session
	edited := map[string]bool{}
	for _, e := range evs {
		if !slices.Contains(authors, e.author) {
			authors = append(authors, e.author)
		}
		f, ok := files[e.doc]
		if !ok {
			return commitInfo{}, fmt.Errorf("gitrepo: an event of unknown document %q", e.doc)
		}
		if e.rename {
			if e.rev != f.rev {
				return commitInfo{}, fmt.Errorf("gitrepo: a change of path of %q after revision %d, at %d", e.doc, e.rev, f.rev)
			}
			if _, ok := before[e.doc]; !ok {
				before[e.doc] = f.path
			}
			switch {
			case e.name == "":
				s.deletions++
			case f.path == "":
				s.restorations++
			default:
				s.renames++
			}
			f.path, f.names = e.name, f.names+1
			if e.name != "" {
				f.last = e.name
			}
			files[e.doc] = f
			continue
		}
		if e.rev != f.rev+1 {
			return commitInfo{}, fmt.Errorf("gitrepo: revision %d of %q follows %d", e.rev, e.doc, f.rev)
		}
		text, err := e.op.ApplyRope(f.text)
		if err != nil {
			return commitInfo{}, fmt.Errorf("gitrepo: replaying revision %d of %q: %w", e.rev, e.doc, err)
		}
		f.text, f.rev = text, e.rev
		files[e.doc] = f
		s.revisions++
		edited[e.doc] = true
		if rg := ranges[e.doc]; rg != nil {
			rg.last = e.rev
		} else {
			ranges[e.doc] = &fileRange{first: e.rev, last: e.rev}
		}
	}
	for _, a := range authors {
		s.authors = append(s.authors, personOf(a, names.at(a, s.end)))
	}
	info := commitInfo{docs: make(map[string]docPos, len(ranges)+len(before))}
	for id := range edited {
		f := files[id]
		f.blob = plumbing.ZeroHash
		if f.text.Len() > 0 {
			f.blob = put(newObject(plumbing.BlobObject, []byte(f.text.String())))
		}
		files[id] = f
		rg := ranges[id]
		rg.path = f.last
		s.ranges = append(s.ranges, *rg)
	}
	for id, old := range before {
		now := files[id].path
		switch {
		case old == now:
		case now == "":
			s.deleted = append(s.deleted, old)
		case old == "":
			s.restored = append(s.restored, now)
		default:
			s.renamed = append(s.renamed, [2]string{old, now})
		}
	}
	for _, ids := range []iter.Seq[string]{maps.Keys(edited), maps.Keys(before)} {
		for id := range ids {
			f := files[id]
			info.docs[id] = docPos{rev: f.rev, names: f.names, path: f.path}
		}
	}
	s.sort()
	info.tree = putTree(put, treeOf(files))
	info.hash = put(newObject(plumbing.CommitObject, encodeCommit(info.tree, parent, s)))
	return info, nil
}

// stale reports whether h was made from what has changed since: a
// document of it gone (purged), or one whose history went back (restored
// from a backup). Such a history is made again from the start.
func stale(h *history, metas []docs.Meta) bool {
	byID := make(map[string]docs.Meta, len(metas))
	for _, m := range metas {
		byID[m.ID] = m
	}
	for id, f := range h.files {
		if m, ok := byID[id]; !ok || m.Rev < f.rev || nameCount(m) < f.names {
			return true
		}
	}
	return false
}

// snapshot is a workspace's history at one moment: the closed sessions'
// commits (hist) and the open session's commit, if any (open, whose
// objects are in objs' layer above hist's).
type snapshot struct {
	hist  *history
	objs  *layer
	open  *commitInfo
	files map[string]file // after the open commit (hist.files when none)
	metas []docs.Meta     // the workspace's documents, live and deleted
	names authorNames
	// openEvents are the open session's events, which open is made of.
	openEvents []event
	opens      []*openCommit // the workspace's recent open commits, this one's among them
}

// remember keeps o among the recent open commits (unless it is one).
// Called with e.mu held.
func (e *entry) remember(o *openCommit) {
	for _, old := range e.opens {
		if old.info.hash == o.info.hash {
			return
		}
	}
	e.opens = append(e.opens, o)
	if len(e.opens) > maxOpens {
		e.opens = slices.Delete(e.opens, 0, len(e.opens)-maxOpens)
	}
}

// recentOpen returns the recent open commit c, if it is one.
func (s *snapshot) recentOpen(c plumbing.Hash) *openCommit {
	for _, o := range s.opens {
		if o.info.hash == c {
			return o
		}
	}
	return nil
}

// head is the commit the history ends with: the open session's, or the
// last closed one's (zero for a workspace without revisions).
func (s *snapshot) head() plumbing.Hash {
	if s.open != nil {
		return s.open.hash
	}
	return s.hist.head()
}

// current returns workspace ws's history up to its head: the closed
// sessions' commits (kept in memory, extended by those closed since the
// last call) and the open session's commit, made now.
func (r *Repos) current(ws string) (*snapshot, error) {
	e := r.entry(ws)
	// Only git requests of this workspace wait here, while one of them
	// reads the revisions they all need; no edit ever does.
	e.mu.Lock()
	defer e.mu.Unlock()
	// What e keeps now counts against CacheBytes, whatever came of the
	// request (a failed one may have added objects too).
	defer func() { r.resized(e, e.estimate()) }()
	metas, err := r.docs.Store().Documents(ws)
	if err != nil {
		return nil, err
	}
	names, err := r.docs.AuthorNames(ws)
	if err != nil {
		return nil, err
	}
	h := e.hist
	if h == nil {
		h = emptyHistory(ws)
	} else if stale(h, metas) {
		h, e.opens = emptyHistory(ws), nil
	}
	// The events since h, merged and cut into sessions.
	files := maps.Clone(h.files)
	var perDoc [][]event
	for _, m := range metas {
		f, ok := files[m.ID]
		if !ok {
			f = file{id: m.ID}
		}
		if m.Rev > f.rev || nameCount(m) > f.names {
			evs, err := r.docEvents(m, &f)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				perDoc = append(perDoc, evs)
			}
		}
		files[m.ID] = f
	}
	sessions := split(merge(perDoc))
	next := h
	if len(sessions) > 1 {
		next = &history{ws: ws, objs: h.objs, idx: h.idx, commits: slices.Clip(h.commits)}
		for _, s := range sessions[:len(sessions)-1] {
			info, err := build(files, s, next.head(), names, next.objs.put)
			if err != nil {
				return nil, err
			}
			next.idx.mu.Lock()
			next.idx.m[info.hash] = len(next.commits)
			next.idx.mu.Unlock()
			next.commits = append(next.commits, info)
		}
		next.files = maps.Clone(files)
	}
	e.hist = next
	snap := &snapshot{hist: next, objs: newLayer(next.objs), files: files, metas: metas, names: names}
	if len(sessions) > 0 {
		snap.openEvents = sessions[len(sessions)-1]
		open := maps.Clone(files)
		info, err := build(open, snap.openEvents, next.head(), names, snap.objs.own.put)
		if err != nil {
			return nil, err
		}
		snap.open, snap.files = &info, open
		e.remember(&openCommit{info: info, parent: next.head(), files: open, objs: snap.objs.own})
	}
	snap.opens = slices.Clone(e.opens)
	for _, o := range snap.opens {
		if o.objs != snap.objs.own {
			snap.objs.under = append(snap.objs.under, o.objs)
		}
	}
	return snap, nil
}
