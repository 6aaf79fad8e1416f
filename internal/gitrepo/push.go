package gitrepo

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/go-git/go-git/v5/plumbing"
)

// A push: a line of commits on a commit of collab's, applied to the live
// documents through the edit path. Nothing the push brings is trusted
// before all of it is checked: the commits' ancestry, their trees, every
// file's text, the paths, who may delete and rename; only then is
// anything applied.
//
// The commits are followed file by file (ident): a file keeps its
// identity through a commit that changes its text, and through one that
// removes it from one path and adds it at another with the same content
// or mostly the same (a rename; see similar); a file removed and added
// again at its path is the same file.
// What the push does to each document is the change from the commit it
// builds on to the push's last commit (its tip):
//
//   - a file of the base whose text changed: one edit of its document,
//     the change from its text in the base to its text at the tip,
//     submitted with the document's revision in the base as its base, so
//     the server transforms it over whatever people typed since;
//   - a file the push adds: a new document, or the document that has its
//     path now if one does (made meanwhile: the push edits it);
//   - a file of the base moved to another path: the document is renamed;
//   - a file of the base the push removes: the document is deleted (it
//     goes to its workspace's trash, history and all).
//
// Renames and deletions are the workspace's owners': a push with an edit
// token making either is refused.
//
// Exactly once. Every change carries the id "git-<tip>" (the edits' op
// id, the names' id), and a commit of the push that an earlier push
// applied is recognised by its id: git sends a commit again until a
// fetch brings collab's own. A document's edit then starts from the
// newest of the push's commits applied to it, and is placed where that
// commit's change landed: the revisions between the base and there are
// walked, the push's own changes told apart from everyone else's, and
// the new edit is transformed over everyone else's (see place). So a
// commit pushed again applies nothing twice, and a commit added on top of
// one applied applies only what it adds.

// ident is one file of a push, followed through its commits.
type ident struct {
	doc      string        // its document; "" for a file the push creates
	base     string        // its path in the commit built on; "" for a file the push adds
	baseRev  uint64        // its document's revision there (0 for a file the push adds)
	baseBlob plumbing.Hash // its blob there (zero: none, or empty)
	path     string        // its path after the commits read so far; "" once removed
	blob     plumbing.Hash
	at       map[plumbing.Hash]plumbing.Hash // each pushed commit it is in -> its blob there
	changed  bool                            // a pushed commit changed its text or path
	author   person                          // the author of the newest commit that changed it

	text string    // its text at the tip
	edit docs.Edit // its placed edit (see place), for a document that has one
}

// pushPlan is what a push will do, checked whole.
type pushPlan struct {
	tip     plumbing.Hash
	commits []plumbing.Hash // oldest first
	deletes []*ident
	renames []*ident // in an order that finds each target path free
	creates []*ident
	edits   []*ident
}

// push checks the update of main from old to tip, then applies it.
func (r *Repos) push(snap *snapshot, objs *layer, a Access, old, tip plumbing.Hash) (string, error) {
	base, chain, err := r.chain(snap, objs, old, tip)
	if err != nil {
		return "", err
	}
	p, err := r.plan(snap, objs, a, base, chain, tip)
	if err != nil {
		return "", err
	}
	return r.apply(snap, objs, a, p)
}

// baseOf returns the documents as of commit c, if c is one of collab's
// that a push may build on: a closed session's, or an open session's (a
// recent one, or one made again; see regenerate); the zero hash is the
// empty history. at is the closed session's commit it is or follows (-1
// for none).
func (r *Repos) baseOf(snap *snapshot, objs *layer, c plumbing.Hash) (files map[string]file, at int, ok bool, err error) {
	h := snap.hist
	if c.IsZero() {
		return map[string]file{}, -1, true, nil
	}
	if i, found := h.find(c); found {
		files, err := h.filesAt(i)
		return files, i, err == nil, err
	}
	if o := snap.recentOpen(c); o != nil {
		at = -1
		if p, found := h.find(o.parent); found {
			at = p
		}
		return o.files, at, true, nil
	}
	return r.regenerate(snap, objs, c)
}

// filesAt returns the documents as of commit i: where the commits up to it
// leave them (their revisions, names and paths), their blobs from its
// tree. A document no commit up to it changed is left out.
func (h *history) filesAt(i int) (map[string]file, error) {
	if i == len(h.commits)-1 {
		return h.files, nil
	}
	pos := map[string]docPos{}
	for _, c := range h.commits[:i+1] {
		maps.Copy(pos, c.docs)
	}
	tree, err := treeFiles(newLayer(h.objs), h.commits[i].tree, -1)
	if err != nil {
		return nil, err
	}
	out := make(map[string]file, len(pos))
	for id, p := range pos {
		f := file{id: id, path: p.path, last: p.path, rev: p.rev, names: p.names}
		if p.path != "" {
			f.blob = tree[p.path].hash
		}
		out[id] = f
	}
	return out, nil
}

// chain walks back from tip to the commit of collab's it builds on, and
// returns that commit's documents and the pushed commits, oldest first.
// It refuses what is not a fast-forward of old, merges, and commits
// beyond Config.MaxCommits.
func (r *Repos) chain(snap *snapshot, objs *layer, old, tip plumbing.Hash) (map[string]file, []plumbing.Hash, error) {
	var chain []plumbing.Hash
	var base map[string]file
	at := -1
	for c := tip; ; {
		files, i, ok, err := r.baseOf(snap, objs, c)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			base, at = files, i
			if c == old {
				at = len(snap.hist.commits) // old itself: a fast-forward whatever it is
			}
			break
		}
		if len(chain) == r.cfg.MaxCommits {
			return nil, nil, refusal("the push brings more than %d commits", r.cfg.MaxCommits)
		}
		hdr, err := readCommit(objs, c)
		if err != nil {
			return nil, nil, refusal("commit %s is missing from the push", c)
		}
		if len(hdr.parents) > 1 {
			return nil, nil, refusal("commit %s is a merge: collab takes a line of commits (git pull --rebase, then push)", c.String()[:12])
		}
		if hdr.committer.email == committerEmail && hdr.committer.name == committerName {
			return nil, nil, fmt.Errorf("%w: the push builds on collab's commit %s, which collab no longer makes (a file was purged since, or it never came from this workspace): git pull --rebase, then push again", ErrUnmapped, c.String()[:12])
		}
		chain = append(chain, c)
		if len(hdr.parents) == 0 {
			c = plumbing.ZeroHash
		} else {
			c = hdr.parents[0]
		}
	}
	// A fast-forward: old is where the line meets collab's history, or
	// before it.
	if !old.IsZero() {
		j, found := snap.hist.find(old)
		if !found || j > at {
			return nil, nil, refusal("non-fast-forward: main has moved on since; git pull --rebase, then push again")
		}
	}
	slices.Reverse(chain)
	return base, chain, nil
}

// plan follows the files of the pushed commits from base, and checks and
// returns what the push does.
func (r *Repos) plan(snap *snapshot, objs *layer, a Access, base map[string]file, chain []plumbing.Hash, tip plumbing.Hash) (*pushPlan, error) {
	live := map[string]docs.Meta{} // the live documents, by id
	livePath := map[string]string{}
	for _, m := range snap.metas {
		if m.Deleted.IsZero() {
			live[m.ID], livePath[m.Name] = m, m.ID
		}
	}
	claimed := map[string]bool{} // documents a file of the push is
	cur := map[string]*ident{}   // the files after the commits read so far, by path
	var all []*ident
	empties := map[string]file{} // documents of the base without text, by path
	for _, id := range slices.Sorted(maps.Keys(base)) {
		f := base[id]
		switch _, dup := cur[f.path]; {
		case f.path == "" || dup:
			continue // deleted; or a second document at one path, which the tree did not show
		case f.blob.IsZero():
			empties[f.path] = f
			continue
		}
		it := &ident{doc: id, base: f.path, baseRev: f.rev, baseBlob: f.blob, path: f.path, blob: f.blob, at: map[plumbing.Hash]plumbing.Hash{}}
		cur[f.path], claimed[id] = it, true
		all = append(all, it)
	}
	gone := map[string]*ident{} // files a commit removed, by the path they left
	for _, c := range chain {
		hdr, err := readCommit(objs, c)
		if err != nil {
			return nil, err
		}
		tree, err := treeFiles(objs, hdr.tree, r.cfg.MaxFiles)
		if err != nil {
			return nil, err
		}
		var removed, added []string
		for p, it := range cur {
			e, ok := tree[p]
			switch {
			case !ok:
				removed = append(removed, p)
			case e.hash != it.blob:
				it.blob, it.changed, it.author = e.hash, true, hdr.author
			}
		}
		for p := range tree {
			if cur[p] == nil {
				added = append(added, p)
			}
		}
		slices.Sort(removed)
		slices.Sort(added)
		// A removed file whose content is at an added path moved there;
		// or, failing that, whose content is mostly there (see similar).
		moved := map[string]bool{}
		var left []*ident
		for _, p := range removed {
			it := cur[p]
			delete(cur, p)
			it.changed, it.author, it.path = true, hdr.author, ""
			for _, q := range added {
				if !moved[q] && tree[q].hash == it.blob {
					moved[q], it.path, cur[q] = true, q, it
					break
				}
			}
			if it.path == "" {
				left = append(left, it)
				gone[p] = it
			}
		}
		pairs, err := similar(objs, left, added, moved, tree)
		if err != nil {
			return nil, err
		}
		for _, pr := range pairs {
			it := pr.it
			for p, g := range gone {
				if g == it {
					delete(gone, p)
				}
			}
			moved[pr.to], it.path, it.blob, cur[pr.to] = true, pr.to, tree[pr.to].hash, it
		}
		for _, q := range added {
			if moved[q] {
				continue
			}
			it := gone[q] // removed before, back now
			delete(gone, q)
			if it == nil {
				it = &ident{at: map[plumbing.Hash]plumbing.Hash{}}
				if f, ok := empties[q]; ok && !claimed[f.id] {
					it.doc, it.base, it.baseRev = f.id, q, f.rev
					claimed[f.id] = true
				}
				all = append(all, it)
			}
			it.path, it.blob, it.changed, it.author = q, tree[q].hash, true, hdr.author
			cur[q] = it
		}
		for _, it := range cur {
			it.at[c] = it.blob
		}
	}
	// A file the push adds goes into the document that has its path now,
	// if the push does not make that document another file.
	for _, it := range all {
		if it.doc == "" && it.path != "" {
			if id, ok := livePath[it.path]; ok && !claimed[id] {
				it.doc, claimed[id] = id, true
			}
		}
	}

	p := &pushPlan{tip: tip, commits: chain}
	frees := map[string]bool{} // paths the push's deletions and renames free
	var err error
	for _, it := range all {
		if !it.changed {
			continue
		}
		m, isLive := live[it.doc]
		switch {
		case it.path == "" && (it.doc == "" || it.baseBlob.IsZero()):
			continue // added by the push, then removed again
		case it.path == "":
			if isLive {
				p.deletes = append(p.deletes, it)
				frees[m.Name] = true
			}
			continue
		case it.doc != "" && !isLive:
			return nil, refusal("%s was deleted since the commit the push builds on: git pull --rebase (the workspace's owners may restore it first), then push again", it.base)
		}
		if _, err := docs.CleanName(it.path); err != nil || !gitPath(it.path) {
			return nil, refusal("%q is not a path collab can keep", it.path)
		}
		if it.blob != it.baseBlob {
			text, err := r.text(objs, it.blob, it.path)
			if err != nil {
				return nil, err
			}
			it.text = text
		} else if it.text, err = textOf(objs, it.blob); err != nil {
			return nil, err
		}
		switch {
		case it.doc == "":
			p.creates = append(p.creates, it)
			continue
		case it.path != it.base && it.path != m.Name:
			p.renames = append(p.renames, it)
			frees[m.Name] = true
		}
		p.edits = append(p.edits, it)
	}
	for _, it := range p.creates {
		if _, taken := livePath[it.path]; taken && !frees[it.path] {
			return nil, refusal("%s exists: the push cannot create it", it.path)
		}
	}
	if len(p.deletes)+len(p.renames) > 0 && !a.Owner {
		what := "renames"
		if len(p.deletes) > 0 {
			what = "deletes " + p.deletes[0].base
		}
		return nil, refusal("this push %s: deleting and renaming files takes the workspace's owner (its edit link, an owner token), not %s", what, a.who())
	}
	// Renames onto free paths only, in an order that keeps them free.
	pending := slices.Clone(p.renames)
	p.renames = p.renames[:0]
	for len(pending) > 0 {
		next := -1
		for i, it := range pending {
			holder, taken := livePath[it.path]
			if taken && holder != it.doc && !frees[it.path] {
				return nil, refusal("%s exists: the push cannot rename %s onto it", it.path, it.base)
			}
			blocked := false
			for _, o := range pending {
				blocked = blocked || o != it && live[o.doc].Name == it.path
			}
			if !blocked {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, refusal("the push swaps the paths of %s and other files: rename them in two pushes", pending[0].base)
		}
		p.renames = append(p.renames, pending[next])
		pending = slices.Delete(pending, next, next+1)
	}
	// Every edit placed.
	for _, it := range p.edits {
		t0, err := textOf(objs, it.baseBlob)
		if err != nil {
			return nil, err
		}
		if it.edit, err = r.place(objs, it, chain, t0); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// A move with changes, as git tells renames: among the files one commit
// removes and those it adds (that no exact move explains), a pair whose
// texts share at least half their lines, the most alike first. Only for
// commits that move a few files at a time (maxSimilar pairs to compare).
const maxSimilar = 256

type move struct {
	it    *ident
	to    string
	score float64
}

// similar pairs removed files with added paths as moves with changes.
func similar(objs *layer, removed []*ident, added []string, moved map[string]bool, tree map[string]treeEntry) ([]move, error) {
	var free []string
	for _, q := range added {
		if !moved[q] {
			free = append(free, q)
		}
	}
	if len(removed) == 0 || len(free) == 0 || len(removed)*len(free) > maxSimilar {
		return nil, nil
	}
	linesOf := func(h plumbing.Hash) (map[string]int, int, error) {
		text, err := textOf(objs, h)
		if err != nil {
			return nil, 0, err
		}
		out := map[string]int{}
		n := 0
		for l := range strings.Lines(text) {
			out[l]++
			n++
		}
		return out, n, nil
	}
	var cands []move
	for _, it := range removed {
		a, na, err := linesOf(it.blob)
		if err != nil {
			return nil, err
		}
		for _, q := range free {
			b, nb, err := linesOf(tree[q].hash)
			if err != nil {
				return nil, err
			}
			common := 0
			for l, k := range a {
				common += min(k, b[l])
			}
			if score := float64(common) / float64(max(na, nb, 1)); score >= 0.5 {
				cands = append(cands, move{it, q, score})
			}
		}
	}
	slices.SortStableFunc(cands, func(x, y move) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return strings.Compare(x.to, y.to)
	})
	var out []move
	taken := map[string]bool{}
	done := map[*ident]bool{}
	for _, c := range cands {
		if !taken[c.to] && !done[c.it] {
			taken[c.to], done[c.it] = true, true
			out = append(out, c)
		}
	}
	return out, nil
}

// opID is the id of the changes of pushed commit c.
func opID(c plumbing.Hash) string { return "git-" + c.String() }

// place makes the edit that brings document it.doc to its text at the
// push's tip: from its text t0 at revision it.baseRev, unless a commit of
// the push was applied to it already; then from the newest such commit's
// text, placed at the revision that commit became: the revisions
// between are walked from the base, the push's own changes (each the
// change from the previous one's text to its commit's, as it was
// submitted) told apart from everyone else's, whose composition o is
// carried over each of the push's, so that at the end the text there is
// the newest applied commit's text with o applied. The new change, from
// that commit's text to the tip's, is transformed over o. The edit's op
// is a no-op when there is nothing left to apply.
func (r *Repos) place(objs *layer, it *ident, chain []plumbing.Hash, t0 string) (docs.Edit, error) {
	tip := chain[len(chain)-1]
	e := docs.Edit{Base: it.baseRev, OpID: opID(tip)}
	ours := map[string]plumbing.Hash{}
	var upTo uint64
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		ours[opID(c)] = c
		if _, in := it.at[c]; !in || upTo > 0 {
			continue
		}
		rev, ok, err := r.docs.Store().LookupOpID(it.doc, opID(c))
		if err != nil {
			return e, err
		}
		if ok && rev > it.baseRev {
			upTo = rev
		}
	}
	if upTo == 0 {
		e.Op = docs.Diff(t0, it.text)
		return e, nil
	}
	mine := t0
	o := *new(ot.Operation).Retain(utf8.RuneCountInString(t0))
	for after := it.baseRev; after < upTo; {
		revs, err := r.docs.Revisions(it.doc, after, int(min(upTo-after, 1000)))
		if err != nil {
			return e, err
		}
		if len(revs) == 0 {
			return e, fmt.Errorf("gitrepo: revisions of %q after %d are missing", it.doc, after)
		}
		for _, rv := range revs {
			c, own := ours[rv.OpID]
			if !own {
				if o, err = ot.Compose(o, rv.Op); err != nil {
					return e, fmt.Errorf("gitrepo: walking %q's revision %d: %w", it.doc, rv.Rev, err)
				}
				continue
			}
			text, err := textOf(objs, it.at[c])
			if err != nil {
				return e, err
			}
			if _, o, err = ot.Transform(docs.Diff(mine, text), o); err != nil {
				return e, fmt.Errorf("gitrepo: walking %q's revision %d: %w", it.doc, rv.Rev, err)
			}
			mine = text
		}
		after = revs[len(revs)-1].Rev
	}
	// The walk must arrive at the text there is.
	got, err := o.Apply(mine)
	if err != nil {
		return e, err
	}
	if there, err := r.docs.TextAt(it.doc, upTo); err != nil {
		return e, err
	} else if there.String() != got {
		return e, fmt.Errorf("gitrepo: %q at revision %d is not what its walk makes: the push's earlier changes cannot be placed", it.doc, upTo)
	}
	op, _, err := ot.Transform(docs.Diff(mine, it.text), o)
	if err != nil {
		return e, err
	}
	e.Base, e.Op = upTo, op
	return e, nil
}

// applied reports whether document id's names hold a change the push
// made before: one with the id of one of its commits, to path.
func (r *Repos) applied(id, path string, commits []plumbing.Hash) (bool, error) {
	names, err := r.docs.Store().Names(id, 0)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		for _, c := range commits {
			if n.OpID == opID(c) && n.Name == path {
				return true, nil
			}
		}
	}
	return false, nil
}

// apply makes the planned changes: deletions, renames, new files, edits.
func (r *Repos) apply(snap *snapshot, objs *layer, a Access, p *pushPlan) (string, error) {
	// The author of each change: the token's, or its commit author's.
	named := map[string]bool{}
	author := func(it *ident) string {
		if a.Author != "" {
			return a.Author
		}
		return r.cfg.PushAuthor(strings.ToLower(it.author.email))
	}
	name := func(it *ident, doc string) string {
		id, n := author(it), a.AuthorName
		if a.Author == "" {
			n = clean(it.author.name)
		}
		if !named[id] && n != "" {
			named[id] = true
			if err := r.docs.SetAuthor(doc, id, docs.AuthorProfile{Name: n}); err != nil {
				r.cfg.Logger.Warn("git: saving a pushing author's name", "err", err)
			}
		}
		return id
	}
	by := func(it *ident) docs.By { return docs.By{Author: name(it, it.doc), OpID: opID(p.tip)} }
	var done []string
	for _, it := range p.deletes {
		if ok, err := r.applied(it.doc, "", p.commits); err != nil || ok {
			if err != nil {
				return "", err
			}
			continue // deleted by this push before, and restored since
		}
		if err := r.docs.Delete(it.doc, by(it)); err != nil && !errors.Is(err, docs.ErrNotFound) {
			return "", fmt.Errorf("deleting %s: %w", it.base, err)
		}
		done = append(done, "deleted "+it.base)
	}
	for _, it := range p.renames {
		if ok, err := r.applied(it.doc, it.path, p.commits); err != nil || ok {
			if err != nil {
				return "", err
			}
			continue
		}
		if _, err := r.docs.Update(it.doc, it.path, "", by(it)); err != nil {
			return "", fmt.Errorf("renaming %s to %s: %w", it.base, it.path, err)
		}
		done = append(done, "renamed "+it.base+" to "+it.path)
	}
	for _, it := range p.creates {
		m, err := r.docs.Create(docs.CreateParams{Name: it.path, Workspace: snap.hist.ws, Author: author(it)})
		switch {
		case errors.Is(err, docs.ErrConflict):
			// Made meanwhile by someone else: the push edits it.
			metas, lerr := r.docs.Store().List(snap.hist.ws, it.path, "", 1)
			if lerr != nil {
				return "", lerr
			}
			if len(metas) == 0 || metas[0].Name != it.path {
				return "", fmt.Errorf("creating %s: %w", it.path, err)
			}
			it.doc = metas[0].ID
			if it.edit, err = r.place(objs, it, p.commits, ""); err != nil {
				return "", err
			}
		case err != nil:
			return "", fmt.Errorf("creating %s: %w", it.path, err)
		default:
			it.doc = m.ID
			it.edit = docs.Edit{OpID: opID(p.tip), Op: *new(ot.Operation).Insert(it.text)}
			done = append(done, "created "+it.path)
		}
		p.edits = append(p.edits, it)
	}
	edited := 0
	var files []string
	for _, it := range p.edits {
		if it.edit.Op.IsNoop() {
			continue
		}
		it.edit.Author = name(it, it.doc)
		res, err := r.submit(it.doc, it.edit)
		if err != nil {
			return "", fmt.Errorf("editing %s: %w", it.path, err)
		}
		if !res.Duplicate {
			edited++
			files = append(files, it.path)
		}
	}
	slices.Sort(files)
	msg := fmt.Sprintf("collab: %d commits applied", len(p.commits))
	if len(files) > 0 {
		msg += fmt.Sprintf(" as %d edits to %s", edited, strings.Join(files, ", "))
	}
	if len(done) > 0 {
		msg += "; " + strings.Join(done, ", ")
	}
	msg += "\ncollab: they join the workspace's history as an edit session: git pull --rebase brings it"
	return msg, nil
}

// submit submits an edit to a document through its live copy.
func (r *Repos) submit(id string, e docs.Edit) (docs.Result, error) {
	d, err := r.docs.Open(id)
	if err != nil {
		return docs.Result{}, err
	}
	defer d.Release()
	return d.Submit(e)
}

// regenerate makes again c, a commit of an open session that is not among
// the recent ones (made before a restart, or too many requests ago): its
// parent is a closed session's commit (or none), and c the commit of the
// events of the session that follows it, up to one ending at c's end
// (its message says when, to the millisecond). Each such prefix of the
// session, as the history has it now, is built; the one that makes c's
// hash is c, and its documents are c's.
func (r *Repos) regenerate(snap *snapshot, objs *layer, c plumbing.Hash) (map[string]file, int, bool, error) {
	hdr, err := readCommit(objs, c)
	if err != nil || hdr.committer.email != committerEmail || len(hdr.parents) > 1 {
		return nil, 0, false, nil
	}
	end, ok := endOf(hdr.message)
	if !ok {
		return nil, 0, false, nil
	}
	h := snap.hist
	parent, j := plumbing.ZeroHash, -1
	if len(hdr.parents) == 1 {
		parent = hdr.parents[0]
		if j, ok = h.find(parent); !ok {
			return nil, 0, false, nil
		}
	}
	var base map[string]file
	var evs []event
	if j == len(h.commits)-1 {
		base, evs = h.files, snap.openEvents
	} else {
		if j >= 0 {
			if base, err = h.filesAt(j); err != nil {
				return nil, 0, false, err
			}
		} else {
			base = map[string]file{}
		}
		var perDoc [][]event
		for id, to := range h.commits[j+1].docs {
			f, ok := base[id]
			if !ok {
				f = file{id: id}
			}
			de, err := r.docEvents(docs.Meta{ID: id, Rev: to.rev, Names: to.names}, &f)
			if err != nil {
				return nil, 0, false, err
			}
			base[id] = f
			perDoc = append(perDoc, de)
		}
		evs = merge(perDoc)
	}
	// The texts the session's revisions apply to.
	files := maps.Clone(base)
	for _, e := range evs {
		if f := files[e.doc]; !e.rename && e.rev == f.rev+1 && f.text.Len() == 0 && f.rev > 0 {
			if f.text, err = r.docs.TextAt(e.doc, f.rev); err != nil {
				return nil, 0, false, err
			}
			files[e.doc] = f
		}
	}
	scratch := newObjects()
	for k := len(evs); k > 0; k-- {
		if evs[k-1].ms != end {
			continue
		}
		try := maps.Clone(files)
		info, err := build(try, evs[:k], parent, snap.names, scratch.put)
		if err != nil {
			return nil, 0, false, err
		}
		if info.hash == c {
			return try, j, true, nil
		}
	}
	return nil, 0, false, nil
}

// endOf reads the end of a session from its commit's message ("... from
// <start> to <end>."), in Unix milliseconds.
func endOf(msg string) (int64, bool) {
	_, rest, ok := strings.Cut(msg, "\n\n")
	line, _, _ := strings.Cut(rest, "\n")
	i := strings.LastIndex(line, " to ")
	if !ok || i < 0 || !strings.HasSuffix(line, ".") {
		return 0, false
	}
	t, err := time.Parse(stampLayout, line[i+4:len(line)-1])
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}
