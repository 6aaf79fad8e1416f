package gitrepo

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// Access is what a request may do with a workspace, as the caller
// resolved its credential.
type Access struct {
	Workspace string // the workspace's id
	// Push: the credential may push edits and new files (the workspace's
	// edit link, an edit or owner token); Owner: deletions and renames
	// too (the edit link, an owner token).
	Push, Owner bool
	// Author, when set, is the author of every edit a push makes (a
	// token's user), shown by AuthorName (when set); without it, each
	// commit's author is, by an author id made from its e-mail address
	// (Config.PushAuthor) and shown by its name.
	Author, AuthorName string
	// Credential names the credential in refusals ("the workspace's view
	// link", "a view token").
	Credential string
}

func (a Access) who() string {
	if a.Credential == "" {
		return "this credential"
	}
	return a.Credential
}

// The two services of git's smart HTTP protocol.
const (
	serviceUpload  = "git-upload-pack"
	serviceReceive = "git-receive-pack"
)

// branch is the one branch a workspace's repository has.
const branch = plumbing.ReferenceName("refs/heads/main")

// agent names the server in capabilities.
const agent = "agent=collab"

// ServeInfoRefs answers GET <repo>/info/refs?service=...: the refs and
// capabilities of upload-pack (clone, fetch) or receive-pack (push).
// Only the smart protocol is served.
func (r *Repos) ServeInfoRefs(w http.ResponseWriter, req *http.Request, a Access) {
	service := req.URL.Query().Get("service")
	if service != serviceUpload && service != serviceReceive {
		http.Error(w, "collab serves git's smart HTTP protocol only: use git 1.6.6 or newer", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	enc := pktline.NewEncoder(w)
	enc.EncodeString("# service=" + service + "\n")
	enc.Flush()
	if service == serviceReceive && !a.Push {
		enc.EncodeString("ERR " + a.who() + " clones and fetches only: push with the workspace's edit link or an edit token\n")
		return
	}
	snap, err := r.current(a.Workspace)
	if err != nil {
		r.unreadable(enc, "reading a workspace's history", err)
		return
	}
	var head plumbing.Hash
	caps := ""
	if service == serviceUpload {
		head = snap.head()
		caps = "multi_ack_detailed side-band-64k ofs-delta no-progress " + agent
		if !head.IsZero() {
			caps += " symref=HEAD:" + string(branch)
		}
	} else {
		// A push is checked against the last closed session's commit,
		// which open sessions' commits (the clone's, a fetch's) all
		// descend from: see receive.go.
		head = snap.hist.head()
		caps = "report-status side-band-64k ofs-delta " + agent
	}
	if head.IsZero() {
		enc.Encodef("%s capabilities^{}\x00%s\n", plumbing.ZeroHash, caps)
	} else {
		if service == serviceUpload {
			enc.Encodef("%s HEAD\x00%s\n", head, caps)
			enc.Encodef("%s %s\n", head, branch)
		} else {
			enc.Encodef("%s %s\x00%s\n", head, branch, caps)
		}
	}
	enc.Flush()
}

// unreadable logs why the workspace's history could not be read (what
// was being done, and err) and tells git, in a pkt-line.
func (r *Repos) unreadable(enc *pktline.Encoder, what string, err error) {
	r.cfg.Logger.Error("git: "+what, "err", err)
	enc.EncodeString("ERR collab could not read the workspace's history\n")
}

// body returns a request's body, gunzipped when the client compressed it,
// at most limit bytes.
func body(w http.ResponseWriter, req *http.Request, limit int64) (io.Reader, error) {
	rd := io.Reader(http.MaxBytesReader(w, req.Body, limit))
	if req.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		rd = io.LimitReader(z, limit)
	}
	return rd, nil
}

// tooLarge reports whether err is a request body over its limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// band writes to one channel of side-band-64k: each write in packets of
// at most 65516 bytes of payload, the channel's byte first. (go-git's
// Muxer makes packets one byte too long.)
type band struct {
	enc *pktline.Encoder
	ch  byte
}

// The channels of side-band-64k.
const (
	bandData     = 1
	bandProgress = 2
)

func (b band) Write(p []byte) (int, error) {
	const max = pktline.MaxPayloadSize - 1
	n := 0
	for len(p) > 0 {
		k := min(len(p), max)
		if err := b.enc.Encode(append([]byte{b.ch}, p[:k]...)); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}
