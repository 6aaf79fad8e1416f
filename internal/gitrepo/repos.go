package gitrepo

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/go-git/go-git/v5/plumbing"
)

// Config tunes Repos. Zero fields take the documented defaults.
type Config struct {
	// MaxFiles caps the files of a pushed commit's tree (default 1000).
	MaxFiles int
	// MaxPushBytes caps a push's pack, in bytes (default 64 MiB).
	MaxPushBytes int64
	// MaxCommits caps the commits one push brings (default 1000).
	MaxCommits int
	// PackWindow is how many objects of a pack each one is tried as a
	// delta against (default 0: none). go-git's delta search costs a
	// clone fifteen times the time for a pack 1% smaller on collab's
	// histories (see docs/BENCHMARKS.md).
	PackWindow int
	// Cached is how many workspaces' histories are kept in memory
	// (default 16); the least recently used beyond it is dropped, and made
	// again by its next request.
	Cached int
	// PushAuthor is the author id of a pushed commit's author, from the
	// commit's e-mail address (default: "git:" and the address).
	PushAuthor func(email string) string
	// Logger receives failures worth an operator's attention (default
	// slog.Default()).
	Logger *slog.Logger
}

func (c *Config) fill() {
	if c.MaxFiles <= 0 {
		c.MaxFiles = 1000
	}
	if c.MaxPushBytes <= 0 {
		c.MaxPushBytes = 64 << 20
	}
	if c.MaxCommits <= 0 {
		c.MaxCommits = 1000
	}
	c.PackWindow = max(c.PackWindow, 0)
	if c.Cached <= 0 {
		c.Cached = 16
	}
	if c.PushAuthor == nil {
		c.PushAuthor = func(email string) string { return "git:" + email }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Repos serves the workspaces of a docs.Manager as git repositories.
type Repos struct {
	docs *docs.Manager
	cfg  Config

	mu    sync.Mutex // guards cache and order
	cache map[string]*entry
	order []string // workspace ids, the least recently used first
}

// entry is one workspace's cached history. mu is held by the request
// that brings hist up to date (see Repos.current), and guards hist.
type entry struct {
	mu   sync.Mutex
	hist *history
	// opens are the open session's commits made most recently, the
	// newest last (at most maxOpens): a clone whose advertisement named
	// one still gets it after the session grew, and a push based on one
	// is mapped to its revisions.
	opens []*openCommit
}

// maxOpens bounds entry.opens.
const maxOpens = 32

// openCommit is a commit of an open session, as one request made it.
type openCommit struct {
	info   commitInfo
	parent plumbing.Hash   // the closed session's commit it follows (zero: none)
	files  map[string]file // the documents as of it
	objs   *objects        // the objects it added to its history's
}

// New returns the repositories of m's workspaces.
func New(m *docs.Manager, cfg Config) *Repos {
	cfg.fill()
	return &Repos{docs: m, cfg: cfg, cache: map[string]*entry{}}
}

// entry returns workspace ws's cache entry, making it the most recently
// used, and drops the least recently used beyond the bound.
func (r *Repos) entry(ws string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.cache[ws]
	if e == nil {
		e = &entry{}
		r.cache[ws] = e
	}
	if i := slices.Index(r.order, ws); i >= 0 {
		r.order = slices.Delete(r.order, i, i+1)
	}
	r.order = append(r.order, ws)
	for len(r.order) > r.cfg.Cached {
		delete(r.cache, r.order[0])
		r.order = r.order[1:]
	}
	return e
}

// cachedBytes is the bytes of the objects kept for workspace ws.
func (r *Repos) cachedBytes(ws string) int64 {
	r.mu.Lock()
	e := r.cache[ws]
	r.mu.Unlock()
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hist == nil {
		return 0
	}
	return e.hist.objs.size()
}
