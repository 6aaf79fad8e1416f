package gitrepo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// Receive-pack: the protocol of a push. What a push does is push.go's.

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
		fail(refusal("%s clones and fetches only: push with the workspace's edit link or an edit token", a.who()))
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
		if msg, err := r.push(snap, objs, a, main.Old, main.New); err != nil {
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
		entries, err := readTree(obj)
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
