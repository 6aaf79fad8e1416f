package gitrepo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// Upload-pack: clone and fetch. Over smart HTTP each request stands alone
// (git's stateless RPC): it repeats the wants and the common commits found
// so far, and says "done" when it wants the pack. collab's history is one
// line of commits, so a common commit is all it needs to know what the
// client lacks: it says "ready" at the first one.

// uploadRequest is one upload-pack request.
type uploadRequest struct {
	wants    []plumbing.Hash
	haves    []plumbing.Hash
	done     bool
	sideband bool // side-band-64k
}

func parseUpload(rd io.Reader) (uploadRequest, error) {
	var u uploadRequest
	sc := pktline.NewScanner(rd)
	for sc.Scan() {
		line := strings.TrimSuffix(string(sc.Bytes()), "\n")
		switch {
		case line == "":
			// a flush: between the wants and the haves, or the end
		case strings.HasPrefix(line, "want "):
			hex, caps, _ := strings.Cut(line[5:], " ")
			if len(u.wants) == 0 && caps != "" {
				for _, c := range strings.Fields(caps) {
					if c == "side-band-64k" {
						u.sideband = true
					}
				}
			}
			if !plumbing.IsHash(hex) {
				return u, fmt.Errorf("%w: want %q", ErrProtocol, hex)
			}
			u.wants = append(u.wants, plumbing.NewHash(hex))
		case strings.HasPrefix(line, "have "):
			if !plumbing.IsHash(line[5:]) {
				return u, fmt.Errorf("%w: have %q", ErrProtocol, line[5:])
			}
			u.haves = append(u.haves, plumbing.NewHash(line[5:]))
		case line == "done":
			u.done = true
		case strings.HasPrefix(line, "shallow "), strings.HasPrefix(line, "deepen"):
			return u, fmt.Errorf("%w: shallow clones are not supported", ErrProtocol)
		default:
			return u, fmt.Errorf("%w: unexpected %q", ErrProtocol, line)
		}
	}
	if err := sc.Err(); err != nil {
		return u, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if len(u.wants) == 0 {
		return u, fmt.Errorf("%w: no wants", ErrProtocol)
	}
	return u, nil
}

// ServeUploadPack answers POST <repo>/git-upload-pack: negotiation, and
// the pack of what the client wants and lacks.
func (r *Repos) ServeUploadPack(w http.ResponseWriter, req *http.Request, a Access) {
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	w.Header().Set("Cache-Control", "no-cache")
	enc := pktline.NewEncoder(w)
	rd, err := body(w, req, 16<<20)
	if err != nil {
		enc.EncodeString("ERR " + err.Error() + "\n")
		return
	}
	u, err := parseUpload(rd)
	if err != nil {
		enc.EncodeString("ERR " + err.Error() + "\n")
		return
	}
	snap, err := r.current(a.Workspace)
	if err != nil {
		r.unreadable(enc, "reading a workspace's history", err)
		return
	}
	for _, want := range u.wants {
		if obj, ok := snap.objs.get(want); !ok || obj.Type() != plumbing.CommitObject {
			enc.EncodeString(fmt.Sprintf("ERR upload-pack: not our ref %s\n", want))
			return
		}
	}
	var common []plumbing.Hash
	for _, h := range u.haves {
		if obj, ok := snap.objs.get(h); ok && obj.Type() == plumbing.CommitObject {
			common = append(common, h)
		}
	}
	if !u.done {
		for _, h := range common {
			enc.Encodef("ACK %s common\n", h)
		}
		if len(common) > 0 {
			enc.Encodef("ACK %s ready\n", common[len(common)-1])
		}
		enc.EncodeString("NAK\n")
		return
	}
	if len(common) > 0 {
		enc.Encodef("ACK %s\n", common[len(common)-1])
	} else {
		enc.EncodeString("NAK\n")
	}
	hashes, err := missing(snap.objs, u.wants, common)
	if err != nil {
		r.unreadable(enc, "walking a workspace's history", err)
		return
	}
	var out io.Writer = w
	if u.sideband {
		out = band{enc: enc, ch: bandData}
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	if _, err := packfile.NewEncoder(bw, snap.objs, false).Encode(hashes, uint(r.cfg.PackWindow)); err != nil {
		// The client sees a pack cut short and fails.
		r.cfg.Logger.Warn("git: writing a pack", "err", err)
		return
	}
	bw.Flush()
	if u.sideband {
		enc.Flush()
	}
}

// missing lists the objects the client lacks: the commits from each want
// back to a common commit (or the root), their trees and blobs, less
// what the common commits' trees hold.
func missing(objs *layer, wants, common []plumbing.Hash) ([]plumbing.Hash, error) {
	have := map[plumbing.Hash]bool{}
	for _, c := range common {
		have[c] = true
	}
	var walkTree func(h plumbing.Hash, into map[plumbing.Hash]bool, out *[]plumbing.Hash) error
	walkTree = func(h plumbing.Hash, into map[plumbing.Hash]bool, out *[]plumbing.Hash) error {
		if into[h] {
			return nil
		}
		into[h] = true
		if out != nil {
			*out = append(*out, h)
		}
		obj, ok := objs.get(h)
		if !ok {
			return fmt.Errorf("gitrepo: object %s is missing", h)
		}
		if obj.Type() != plumbing.TreeObject {
			return nil
		}
		entries, err := readTree(obj)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := walkTree(e.hash, into, out); err != nil {
				return err
			}
		}
		return nil
	}
	// What the client has: the common commits' trees.
	for _, c := range common {
		hdr, err := readCommit(objs, c)
		if err != nil {
			return nil, err
		}
		if err := walkTree(hdr.tree, have, nil); err != nil {
			return nil, err
		}
	}
	var out []plumbing.Hash
	for _, want := range wants {
		for c := want; !c.IsZero() && !have[c]; {
			have[c] = true
			out = append(out, c)
			hdr, err := readCommit(objs, c)
			if err != nil {
				return nil, err
			}
			if err := walkTree(hdr.tree, have, &out); err != nil {
				return nil, err
			}
			c = plumbing.ZeroHash
			if len(hdr.parents) > 0 {
				c = hdr.parents[0]
			}
		}
	}
	return out, nil
}

// readCommit reads commit c's header from objs.
func readCommit(objs *layer, c plumbing.Hash) (commitHeader, error) {
	obj, ok := objs.get(c)
	if !ok || obj.Type() != plumbing.CommitObject {
		return commitHeader{}, fmt.Errorf("%w: commit %s is unknown", ErrUnmapped, c)
	}
	data, err := content(obj)
	if err != nil {
		return commitHeader{}, err
	}
	return parseCommit(bytes.Clone(data))
}
