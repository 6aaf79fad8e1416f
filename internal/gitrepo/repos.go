package gitrepo

import (
	"container/list"
	"log/slog"
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
	// CacheBytes bounds the memory that workspaces' histories keep
	// between requests (default 256 MiB), as estimated by what they hold:
	// the objects of their closed sessions' commits and of their recent
	// open ones, each counted as its size, an eighth more, and
	// objectOverhead, and entryOverhead a workspace (within 10% of the heap
	// measured, see TestCacheEstimate). Past it the least recently used
	// workspaces are dropped, to be made again by their next request; the
	// workspace a request just used stays, even alone over the bound.
	CacheBytes int64
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
	if c.CacheBytes <= 0 {
		c.CacheBytes = 256 << 20
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

	mu    sync.Mutex // guards cache, lru, bytes and the entries' size
	cache map[string]*list.Element
	lru   list.List // of *entry, the least recently used first
	bytes int64     // the sum of the entries' size
}

// What an estimate of a history's memory counts besides the objects'
// bytes: an object's hash, header and place in its map, and a workspace's
// entry with its newest documents' state (see CacheBytes). Measured with
// TestCacheEstimate.
const (
	objectOverhead = 160
	entryOverhead  = 16 << 10
)

// entry is one workspace's cached history. mu is held by the request
// that brings hist up to date (see Repos.current), and guards hist and
// opens.
type entry struct {
	ws   string
	size int64 // the estimate of what it keeps (see CacheBytes); Repos.mu guards it

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
	return &Repos{docs: m, cfg: cfg, cache: map[string]*list.Element{}}
}

// entry returns workspace ws's cache entry, making it the most recently
// used.
func (r *Repos) entry(ws string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el := r.cache[ws]; el != nil {
		r.lru.MoveToBack(el)
		return el.Value.(*entry)
	}
	e := &entry{ws: ws}
	r.cache[ws] = r.lru.PushBack(e)
	return e
}

// estimate is what e keeps in memory, as CacheBytes counts it. Called
// with e.mu held.
func (e *entry) estimate() int64 {
	n := int64(entryOverhead)
	if e.hist != nil {
		n += e.hist.objs.estimate()
	}
	for _, o := range e.opens {
		n += o.objs.estimate()
	}
	return n
}

// resized records the size of entry e after a request, and drops the
// least recently used entries, never e, while the total is over
// CacheBytes. An entry dropped meanwhile stays dropped.
func (r *Repos) resized(e *entry, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el := r.cache[e.ws]
	if el == nil || el.Value.(*entry) != e {
		return
	}
	r.bytes += size - e.size
	e.size = size
	for r.bytes > r.cfg.CacheBytes {
		old := r.lru.Front()
		if old == el {
			old = old.Next()
		}
		if old == nil {
			return
		}
		oe := r.lru.Remove(old).(*entry)
		delete(r.cache, oe.ws)
		r.bytes -= oe.size
	}
}

// cachedBytes is the estimate of what workspace ws's history keeps, 0
// when none is kept.
func (r *Repos) cachedBytes(ws string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el := r.cache[ws]; el != nil {
		return el.Value.(*entry).size
	}
	return 0
}
