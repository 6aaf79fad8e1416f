package gitrepo

import (
	"container/heap"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
	"github.com/go-git/go-git/v5/plumbing"
)

// A workspace's history as git sees it: its documents' revisions merged
// in time order into one serial history and cut into edit sessions the
// way docs cuts one document's (a pause longer than docs.SessionGap
// starts the next), one commit per session. A session is closed once the
// workspace has a revision after it: closed sessions never change, and
// their commits are kept (see history and Repos.current). The last
// session is open: its commit is made for each request from the
// revisions up to the head, and changes as it grows.

// file is a document as of a commit.
type file struct {
	id   string
	path string
	rev  uint64
	text rope.Rope
	blob plumbing.Hash // zero when the text is empty: not in the tree
}

// commitInfo is one commit of the history.
type commitInfo struct {
	hash plumbing.Hash
	tree plumbing.Hash
	revs map[string]uint64 // the revision of each document the session changed, by id
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
	files   map[string]file   // by document id, after the last commit
	names   map[string]string // the name each author id's commits show
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
	return &history{ws: ws, objs: newObjects(), idx: &commitIndex{m: map[plumbing.Hash]int{}},
		files: map[string]file{}, names: map[string]string{}}
}

// event is one revision of the merged history.
type event struct {
	doc    string
	rev    uint64
	ms     int64
	author string
	op     ot.Operation
}

// listDocs returns the workspace's documents, by path.
func (r *Repos) listDocs(ws string) ([]docs.Meta, error) {
	var out []docs.Meta
	after := ""
	for {
		page, err := r.docs.Store().List(ws, "", after, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].Name
	}
}

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

// treeOf is the files of a commit: each document with text, at its path.
// A document whose path git cannot hold, or whose path is also a
// directory of other documents' paths, is left out.
func treeOf(files map[string]file) map[string]plumbing.Hash {
	out := make(map[string]plumbing.Hash, len(files))
	for _, f := range files {
		if !f.blob.IsZero() && gitPath(f.path) {
			out[f.path] = f.blob
		}
	}
	return out
}

// build makes the commit of one session on parent: it applies the
// session's revisions to files (changing it) and stores the new blobs,
// trees and the commit with put. names maps author ids to their names.
func build(files map[string]file, evs []event, parent plumbing.Hash, names map[string]string, put func(plumbing.EncodedObject) plumbing.Hash) (commitInfo, error) {
	s := session{revisions: len(evs), start: evs[0].ms, end: evs[len(evs)-1].ms}
	seen := map[string]bool{}
	ranges := map[string]*fileRange{}
	for _, e := range evs {
		if !seen[e.author] {
			seen[e.author] = true
			s.authors = append(s.authors, personOf(e.author, names[e.author]))
		}
		f, ok := files[e.doc]
		if !ok {
			return commitInfo{}, fmt.Errorf("gitrepo: a revision of unknown document %q", e.doc)
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
		if rg := ranges[e.doc]; rg != nil {
			rg.last = e.rev
		} else {
			ranges[e.doc] = &fileRange{path: f.path, first: e.rev, last: e.rev}
		}
	}
	info := commitInfo{revs: make(map[string]uint64, len(ranges))}
	for id, rg := range ranges {
		f := files[id]
		f.blob = plumbing.ZeroHash
		if f.text.Len() > 0 {
			f.blob = put(newObject(plumbing.BlobObject, []byte(f.text.String())))
		}
		files[id] = f
		s.ranges = append(s.ranges, *rg)
		info.revs[id] = rg.last
	}
	slices.SortFunc(s.ranges, func(a, b fileRange) int { return strings.Compare(a.path, b.path) })
	info.tree = putTree(put, treeOf(files))
	info.hash = put(newObject(plumbing.CommitObject, encodeCommit(info.tree, parent, s)))
	return info, nil
}

// authorNames reads the names of the authors of evs from the workspace's
// profiles (through any of its documents, doc), adding them to names.
func (r *Repos) authorNames(doc string, evs []event, names map[string]string) error {
	var ids []string
	for _, e := range evs {
		if _, ok := names[e.author]; !ok {
			ids = append(ids, e.author)
			names[e.author] = ""
		}
	}
	if len(ids) == 0 || doc == "" {
		return nil
	}
	got, err := r.docs.Authors(doc, ids)
	if err != nil {
		return err
	}
	for id, p := range got {
		names[id] = p.Name
	}
	return nil
}

// stale reports whether h was made from what has changed since: a
// document of it renamed or gone, or an author's name changed. Such a
// history is made again from the start.
func (r *Repos) stale(h *history, metas []docs.Meta) (bool, error) {
	byID := make(map[string]docs.Meta, len(metas))
	for _, m := range metas {
		byID[m.ID] = m
	}
	for id, f := range h.files {
		if m, ok := byID[id]; !ok || m.Name != f.path || m.Rev < f.rev {
			return true, nil
		}
	}
	if len(h.names) == 0 || len(metas) == 0 {
		return false, nil
	}
	got, err := r.docs.Authors(metas[0].ID, slices.Collect(maps.Keys(h.names)))
	if err != nil {
		return false, err
	}
	for id, name := range h.names {
		if got[id].Name != name {
			return true, nil
		}
	}
	return false, nil
}

// snapshot is a workspace's history at one moment: the closed sessions'
// commits (hist) and the open session's commit, if any (open, whose
// objects are in objs' layer above hist's).
type snapshot struct {
	hist  *history
	objs  *layer
	open  *commitInfo
	files map[string]file // after the open commit (hist.files when none)
	metas []docs.Meta
	opens []*openCommit // the workspace's recent open commits, this one's among them
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
	metas, err := r.listDocs(ws)
	if err != nil {
		return nil, err
	}
	h := e.hist
	if h == nil {
		h = emptyHistory(ws)
	} else if stale, err := r.stale(h, metas); err != nil {
		return nil, err
	} else if stale {
		h, e.opens = emptyHistory(ws), nil
	}
	// The revisions since h, merged and cut into sessions.
	files := maps.Clone(h.files)
	var perDoc [][]event
	for _, m := range metas {
		f, ok := files[m.ID]
		if !ok {
			f = file{id: m.ID, path: m.Name}
			files[m.ID] = f
		}
		if m.Rev > f.rev {
			evs, err := r.readEvents(m.ID, f.rev, m.Rev)
			if err != nil {
				return nil, err
			}
			perDoc = append(perDoc, evs)
		}
	}
	evs := merge(perDoc)
	sessions := split(evs)
	names := maps.Clone(h.names)
	doc := ""
	if len(metas) > 0 {
		doc = metas[0].ID
	}
	if err := r.authorNames(doc, evs, names); err != nil {
		return nil, err
	}
	next := h
	if len(sessions) > 1 {
		next = &history{ws: ws, objs: h.objs, idx: h.idx, commits: slices.Clip(h.commits), names: names}
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
	snap := &snapshot{hist: next, objs: newLayer(next.objs), files: next.files, metas: metas}
	if len(sessions) > 0 {
		open := maps.Clone(files)
		info, err := build(open, sessions[len(sessions)-1], next.head(), names, snap.objs.own.put)
		if err != nil {
			return nil, err
		}
		snap.open, snap.files = &info, open
	}
	if snap.open != nil {
		e.remember(&openCommit{info: *snap.open, parent: next.head(), files: snap.files, objs: snap.objs.own})
	}
	snap.opens = slices.Clone(e.opens)
	for _, o := range snap.opens {
		if o.objs != snap.objs.own {
			snap.objs.under = append(snap.objs.under, o.objs)
		}
	}
	return snap, nil
}
