package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/collab-editor/collab/internal/docs"
)

// Authors: who made a revision, as history shows it long after they left.
//
// A session's author is, in order: its token's subject (or, without one,
// its user name), when it joined with a token (see auth.go) that names a
// user; else its join's author secret (the `author` field: kept by a
// browser across reloads and tabs, a secret exactly as the client id is);
// else its user id (the author of every session before authors existed,
// and of clients that send no author). The first two are public author
// ids, "a" and 20 hex digits, derived with a keyed hash as user ids are
// ("u" and 20 hex digits): the same secret or subject always gives the
// same author id, which does not reveal it, and a secret never meets a
// subject. A revision's Author is its session's author.
//
// The server keeps each author's name and colour in the store (per
// workspace; see docs.AuthorProfile), set when a session joins with a name
// or colour and when it changes them, and answers with the names of the
// authors of what it returns, looked up as it answers: so people long
// gone keep their names in history, and a new name relabels an author's
// past revisions. (The workspace's git history instead shows each author
// by the name they had at each commit, so that a new name changes no
// commit made before it: see internal/gitrepo.)

// authorID is the public author id of an author secret (kind "secret") or
// of a token's subject (kind "token").
func (s *Server) authorID(kind, v string) string {
	mac := hmac.New(sha256.New, s.authorKey)
	mac.Write([]byte(kind))
	mac.Write([]byte{0})
	mac.Write([]byte(v))
	return "a" + hex.EncodeToString(mac.Sum(nil)[:10])
}

// authorOfJoin is the author of a session joining with the given author
// secret (may be empty) under user id user.
func (s *Server) authorOfJoin(g grant, secret, user string) string {
	switch {
	case g.subject != "":
		return s.authorID("token", g.subject)
	case secret != "":
		return s.authorID("secret", secret)
	}
	return user
}

// authorNames returns the stored names and colours of the authors ids of
// document doc, for an answer that shows them: an empty map (never nil)
// when none is known.
func (s *Server) authorNames(doc string, ids []string) (map[string]docs.AuthorProfile, error) {
	slices.Sort(ids)
	return s.docs.Authors(doc, slices.Compact(ids))
}

// storedAuthor returns an author's stored profile, if any.
func (s *Server) storedAuthor(doc, author string) (docs.AuthorProfile, bool) {
	got, err := s.docs.Authors(doc, []string{author})
	if err != nil {
		return docs.AuthorProfile{}, false
	}
	p, ok := got[author]
	return p, ok
}

// saveAuthor keeps an author's name and colour. A failure (a full disk)
// costs only the name in history, not the session: it is logged.
func (s *Server) saveAuthor(doc, author, name, color string) {
	if err := s.docs.SetAuthor(doc, author, docs.AuthorProfile{Name: name, Color: color}); err != nil {
		s.log.Warn("saving an author's name", "doc", doc, "author", author, "err", err)
	}
}

// restAuthor is the author of a REST write under grant g: the token's
// author, or else the caller's X-Collab-Author, or "api".
func (s *Server) restAuthor(r *http.Request, g grant) string {
	if g.subject != "" {
		return s.authorID("token", g.subject)
	}
	return authorOf(r)
}
