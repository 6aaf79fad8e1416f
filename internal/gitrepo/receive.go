package gitrepo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// Receive-pack: a push. The pushed commits are applied to the live
// documents as edits, through the same edit path as every other edit:
// each commit's change to each file, diffed against its parent commit,
// is submitted with the revision that parent corresponds to as its base,
// so the server transforms it over whatever people typed since. Nothing
// the push brings is trusted before all of it is checked: the commits'
// ancestry, their trees, every file's text; only then is anything
// applied.
//
// A push must build on a commit of collab's: one of the history's closed
// sessions, or an open session's commit made recently (see entry.opens).
// Its commits must be a line (no merges), and every file text: UTF-8,
// without NUL, within the document size limit.
//
// Exactly once: each edit carries the op id "git-<commit>", so a commit
// pushed again (git sends it again until a fetch brings collab's own
// commits) is recognised, applies nothing, and gives its revisions.

// fileAt is a path of a commit being pushed or built on.
type fileAt struct {
	doc  string        // the document at the path; "" for one the push creates
	rev  uint64        // the document's revision, for the commit built on
	blob plumbing.Hash // zero: no text (absent from the tree)
}

// change is one file a pushed commit changes.
type change struct {
	path     string
	doc      string // "" when no document has the path: the push creates it
	old, new string
}

// step is one pushed commit to apply.
type step struct {
	commit  plumbing.Hash
	author  person
	changes []change
}

// refusal is a push refused before anything was applied.
func refusal(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, a...))
}

// ServeReceivePack answers POST <repo>/git-receive-pack: it checks the
// push whole, applies it, and reports to the git client.
func (r *Repos) ServeReceivePack(w http.ResponseWriter, req *http.Request, a Access) {
	w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
	w.Header().Set("Cache-Control", "no-cache")
	rd, err := body(w, req, r.cfg.MaxPushBytes)
	if err != nil {
		pktline.NewEncoder(w).EncodeString("ERR " + err.Error() + "\n")
		return
	}
	upd := packp.NewReferenceUpdateRequest()
	if err := upd.Decode(rd); err != nil {
		pktline.NewEncoder(w).EncodeString("ERR " + fmt.Errorf("%w: %w", ErrProtocol, err).Error() + "\n")
		return
	}
	rep := &reporter{w: w, band: upd.Capabilities.Supports(capability.Sideband64k)}
	status := packp.NewReportStatus()
	status.UnpackStatus = "ok"
	fail := func(err error) {
		msg := err.Error()
		if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrUnmapped) && !errors.Is(err, ErrProtocol) {
			r.cfg.Logger.Error("git: a push failed", "err", err)
		}
		rep.say("collab: " + msg)
		for _, c := range upd.Commands {
			status.CommandStatuses = append(status.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: oneLine(msg)})
		}
	}
	snap, err := r.current(a.Workspace)
	if err != nil {
		fail(err)
		rep.report(status)
		return
	}
	objs := newLayer(append([]*objects{snap.objs.own}, snap.objs.under...)...)
	if err := readPack(upd.Packfile, objs); err != nil {
		if tooLarge(err) {
			err = refusal("the push is over %d bytes", r.cfg.MaxPushBytes)
		}
		status.UnpackStatus = oneLine(err.Error())
		fail(err)
		rep.report(status)
		return
	}
	if !a.Push {
		fail(refusal("this is the workspace's view link: push with its edit link"))
		rep.report(status)
		return
	}
	var main *packp.Command
	for _, c := range upd.Commands {
		switch {
		case c.Name != branch:
			status.CommandStatuses = append(status.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: "collab keeps one branch, main"})
			continue
		case c.New.IsZero():
			status.CommandStatuses = append(status.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: "main cannot be deleted"})
			continue
		}
		main = c
	}
	if main != nil {
		st := &packp.CommandStatus{ReferenceName: main.Name, Status: "ok"}
		if msg, err := r.push(snap, objs, a.Workspace, main.Old, main.New); err != nil {
			rep.say("collab: " + err.Error())
			if !errors.Is(err, ErrRefused) && !errors.Is(err, ErrUnmapped) {
				r.cfg.Logger.Error("git: applying a push", "err", err)
			}
			st.Status = oneLine(err.Error())
		} else {
			rep.say(msg)
		}
		status.CommandStatuses = append(status.CommandStatuses, st)
	}
	rep.report(status)
}

// oneLine is msg fit for a report-status line.
func oneLine(msg string) string {
	msg = strings.ReplaceAll(msg, "\n", " ")
	if len(msg) > 400 {
		msg = msg[:400]
	}
	return msg
}

// readPack reads a pushed pack into objs; a push without one is fine.
func readPack(pack io.Reader, objs *layer) error {
	if pack == nil {
		return nil
	}
	br := bufio.NewReaderSize(pack, 64<<10)
	if _, err := br.Peek(1); err == io.EOF {
		return nil
	}
	p, err := packfile.NewParserWithStorage(packfile.NewScanner(br), objs)
	if err != nil {
		return err
	}
	if _, err := p.Parse(); err != nil {
		return fmt.Errorf("%w: reading the pack: %w", ErrProtocol, err)
	}
	return nil
}

// reporter writes receive-pack's answer: messages for the git client's
// terminal ("remote: ..."), when it asked for side-band, and the report.
type reporter struct {
	w    io.Writer
	band bool // side-band-64k
}

func (rp *reporter) say(msg string) {
	if rp.band && msg != "" {
		band{enc: pktline.NewEncoder(rp.w), ch: bandProgress}.Write([]byte(msg + "\n"))
	}
}

func (rp *reporter) report(s *packp.ReportStatus) {
	if !rp.band {
		s.Encode(rp.w)
		return
	}
	var b bytes.Buffer
	s.Encode(&b)
	enc := pktline.NewEncoder(rp.w)
	band{enc: enc, ch: bandData}.Write(b.Bytes())
	enc.Flush()
}

// push checks the update of main from old to tip, then applies it.
func (r *Repos) push(snap *snapshot, objs *layer, ws string, old, tip plumbing.Hash) (string, error) {
	base, steps, err := r.plan(snap, objs, old, tip)
	if err != nil {
		return "", err
	}
	return r.apply(snap, ws, base, steps)
}

// baseOf returns the files of commit c if c is one of collab's that the
// push may build on: a closed session's, or a recent open session's;
// the zero hash is the empty history. parent is the closed session's
// commit it descends from (itself for one).
func (r *Repos) baseOf(snap *snapshot, objs *layer, c plumbing.Hash) (files map[string]fileAt, at int, ok bool, err error) {
	h := snap.hist
	var docFiles map[string]file
	switch i, found := h.find(c); {
	case c.IsZero():
		return map[string]fileAt{}, -1, true, nil
	case found:
		docFiles, err = h.filesAt(i)
		if err != nil {
			return nil, 0, false, err
		}
		at = i
	default:
		o := snap.recentOpen(c)
		if o == nil {
			return nil, 0, false, nil
		}
		docFiles = o.files
		at = -1
		if p, found := h.find(o.parent); found {
			at = p
		}
	}
	files = map[string]fileAt{}
	for _, f := range docFiles {
		files[f.path] = fileAt{doc: f.id, rev: f.rev, blob: f.blob}
	}
	return files, at, true, nil
}

// filesAt returns the documents as of commit i: their revisions from the
// commits up to it, their blobs from its tree.
func (h *history) filesAt(i int) (map[string]file, error) {
	if i == len(h.commits)-1 {
		return h.files, nil
	}
	revs := map[string]uint64{}
	for _, c := range h.commits[:i+1] {
		for id, rev := range c.revs {
			revs[id] = rev
		}
	}
	tree, err := treeFiles(newLayer(h.objs), h.commits[i].tree, -1)
	if err != nil {
		return nil, err
	}
	out := map[string]file{}
	for id, f := range h.files {
		rev, ok := revs[id]
		if !ok {
			continue // no revision yet
		}
		g := file{id: id, path: f.path, rev: rev}
		g.blob = tree[f.path].hash
		out[id] = g
	}
	return out, nil
}

// treeFiles lists the files of tree: path -> entry. With max >= 0 it
// refuses more files than max, and anything but regular files.
func treeFiles(objs *layer, tree plumbing.Hash, max int) (map[string]treeEntry, error) {
	out := map[string]treeEntry{}
	var walk func(h plumbing.Hash, prefix string) error
	walk = func(h plumbing.Hash, prefix string) error {
		obj, ok := objs.get(h)
		if !ok || obj.Type() != plumbing.TreeObject {
			return refusal("tree %s is missing from the push", h)
		}
		data, err := content(obj)
		if err != nil {
			return err
		}
		entries, err := decodeTree(data)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := prefix + e.name
			switch e.mode {
			case modeTree:
				if err := walk(e.hash, p+"/"); err != nil {
					return err
				}
				continue
			case modeFile, modeExec:
			case modeLink:
				return refusal("%s is a symbolic link: collab keeps text files only", p)
			case modeGit:
				return refusal("%s is a submodule: collab keeps text files only", p)
			default:
				return refusal("%s has mode %s: collab keeps text files only", p, e.mode)
			}
			out[p] = e
			if max >= 0 && len(out) > max {
				return refusal("the commit has more than %d files", max)
			}
		}
		return nil
	}
	return out, walk(tree, "")
}

// plan checks the push of tip over old whole and returns what to apply:
// the files of the commit of collab's it builds on, and each pushed
// commit's changes, oldest first.
func (r *Repos) plan(snap *snapshot, objs *layer, old, tip plumbing.Hash) (map[string]fileAt, []step, error) {
	// Back from the tip to a commit of collab's.
	var chain []plumbing.Hash
	var base map[string]fileAt
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
			return nil, nil, fmt.Errorf("%w: the push builds on collab's commit %s, from a session that has moved on since: git pull --rebase, then push again", ErrUnmapped, c.String()[:12])
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
	prev := base
	var steps []step
	for _, c := range chain {
		hdr, err := readCommit(objs, c)
		if err != nil {
			return nil, nil, err
		}
		tree, err := treeFiles(objs, hdr.tree, r.cfg.MaxFiles)
		if err != nil {
			return nil, nil, err
		}
		st := step{commit: c, author: hdr.author}
		next := map[string]fileAt{}
		for p, f := range prev {
			if _, still := tree[p]; !still {
				next[p] = fileAt{doc: f.doc, rev: f.rev}
			}
		}
		for p, e := range tree {
			f := prev[p]
			if f.blob == e.hash {
				next[p] = f
				continue
			}
			if _, err := docs.CleanName(p); err != nil || !gitPath(p) {
				return nil, nil, refusal("%q is not a path collab can keep", p)
			}
			text, err := r.text(objs, e.hash, p)
			if err != nil {
				return nil, nil, err
			}
			old, err := textOf(objs, f.blob)
			if err != nil {
				return nil, nil, err
			}
			doc := f.doc
			if doc == "" {
				doc = docAt(snap.metas, p)
			}
			st.changes = append(st.changes, change{path: p, doc: doc, old: old, new: text})
			next[p] = fileAt{doc: doc, rev: f.rev, blob: e.hash}
		}
		for p, f := range prev {
			if _, still := tree[p]; !still && !f.blob.IsZero() {
				old, err := textOf(objs, f.blob)
				if err != nil {
					return nil, nil, err
				}
				st.changes = append(st.changes, change{path: p, doc: f.doc, old: old, new: ""})
			}
		}
		slices.SortFunc(st.changes, func(a, b change) int { return strings.Compare(a.path, b.path) })
		steps = append(steps, st)
		prev = next
	}
	return base, steps, nil
}

// docAt is the document at path p among metas, if any.
func docAt(metas []docs.Meta, p string) string {
	for _, m := range metas {
		if m.Name == p {
			return m.ID
		}
	}
	return ""
}

// text reads a pushed file's blob as text, refusing what is not: invalid
// UTF-8, a NUL byte (binary), over the document size limit.
func (r *Repos) text(objs *layer, h plumbing.Hash, path string) (string, error) {
	obj, ok := objs.get(h)
	if !ok || obj.Type() != plumbing.BlobObject {
		return "", refusal("the blob of %s is missing from the push", path)
	}
	if obj.Size() > int64(r.docs.MaxBytes()) {
		return "", refusal("%s is %d bytes: the limit is %d", path, obj.Size(), r.docs.MaxBytes())
	}
	data, err := content(obj)
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", refusal("%s is binary (it has a NUL byte): collab keeps text files only", path)
	}
	if !utf8.Valid(data) {
		return "", refusal("%s is not UTF-8 text: collab keeps text files only", path)
	}
	return string(data), nil
}

// textOf reads a blob collab made, or the empty text for none.
func textOf(objs *layer, h plumbing.Hash) (string, error) {
	if h.IsZero() {
		return "", nil
	}
	obj, ok := objs.get(h)
	if !ok {
		return "", fmt.Errorf("gitrepo: blob %s is missing", h)
	}
	data, err := content(obj)
	return string(data), err
}

// apply submits the planned steps, in order, as edits.
func (r *Repos) apply(snap *snapshot, ws string, base map[string]fileAt, steps []step) (string, error) {
	revs := map[string]uint64{}
	for _, f := range base {
		if f.doc != "" {
			revs[f.doc] = f.rev
		}
	}
	created := map[string]string{} // path -> the document made for it
	touched := map[string]bool{}   // documents an earlier step edited
	anyDoc := ""
	if len(snap.metas) > 0 {
		anyDoc = snap.metas[0].ID
	}
	applied, dup := 0, 0
	var files []string
	for _, st := range steps {
		author := r.cfg.PushAuthor(strings.ToLower(st.author.email))
		named := false
		for _, ch := range st.changes {
			doc := ch.doc
			if doc == "" {
				doc = created[ch.path]
			}
			if doc == "" {
				m, err := r.docs.Create(docs.CreateParams{Name: ch.path, Workspace: ws, Author: author})
				switch {
				case errors.Is(err, docs.ErrConflict):
					// Made meanwhile by someone else: the push edits it.
					metas, lerr := r.listDocs(ws)
					if lerr != nil {
						return "", lerr
					}
					if doc = docAt(metas, ch.path); doc == "" {
						return "", err
					}
				case err != nil:
					return "", fmt.Errorf("creating %s: %w", ch.path, err)
				default:
					doc = m.ID
				}
				created[ch.path] = doc
			}
			if anyDoc == "" {
				anyDoc = doc
			}
			if !named && st.author.name != "" {
				named = true
				if err := r.docs.SetAuthor(doc, author, docs.AuthorProfile{Name: clean(st.author.name)}); err != nil {
					r.cfg.Logger.Warn("git: saving a pushing author's name", "err", err)
				}
			}
			if ch.old == ch.new {
				continue // an empty file where none was: the document is all it needs
			}
			op := docs.Diff(ch.old, ch.new)
			if touched[doc] {
				// The text at the revision an earlier step made may hold
				// others' typing too: bring the op over it.
				cur, err := r.docs.TextAt(doc, revs[doc])
				if err != nil {
					return "", err
				}
				if s := cur.String(); s != ch.old {
					if op, _, err = ot.Transform(op, docs.Diff(ch.old, s)); err != nil {
						return "", err
					}
				}
			}
			res, err := r.submit(doc, docs.Edit{Base: revs[doc], Op: op, Author: author, OpID: "git-" + st.commit.String()})
			if err != nil {
				return "", fmt.Errorf("applying %s of commit %s: %w", ch.path, st.commit.String()[:12], err)
			}
			if res.Duplicate {
				dup++
			} else {
				applied++
			}
			revs[doc], touched[doc] = res.Rev, true
			if !slices.Contains(files, ch.path) {
				files = append(files, ch.path)
			}
		}
	}
	slices.Sort(files)
	msg := fmt.Sprintf("collab: %d commits applied as %d edits", len(steps), applied)
	if dup > 0 {
		msg += fmt.Sprintf(" (%d applied before)", dup)
	}
	if len(files) > 0 {
		msg += " to " + strings.Join(files, ", ")
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
