package gitrepo

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// objects holds git objects by hash, in memory. A workspace's history keeps
// the objects of its commits in one, which only grows; a request adds its
// own (the open session's commit, a push's pack) in a layer above it (see
// layer), so that what one request makes is gone with it.
type objects struct {
	mu    sync.RWMutex // guards m and bytes; held for memory only
	m     map[plumbing.Hash]plumbing.EncodedObject
	bytes int64 // the objects' sizes
}

func newObjects() *objects { return &objects{m: map[plumbing.Hash]plumbing.EncodedObject{}} }

func (o *objects) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obj, ok := o.m[h]
	return obj, ok
}

func (o *objects) put(obj plumbing.EncodedObject) plumbing.Hash {
	h := obj.Hash()
	o.mu.Lock()
	if _, ok := o.m[h]; !ok {
		o.m[h] = obj
		o.bytes += obj.Size()
	}
	o.mu.Unlock()
	return h
}

// estimate is the memory the objects take: their bytes (uncompressed),
// an eighth more for the allocator's rounding, and objectOverhead each.
func (o *objects) estimate() int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.bytes + o.bytes/8 + int64(len(o.m))*objectOverhead
}

// layer is a request's objects over a history's: reads look in both,
// writes go to the layer. It is the storer go-git's pack encoder and
// parser work with.
type layer struct {
	own   *objects
	under []*objects
}

func newLayer(under ...*objects) *layer { return &layer{own: newObjects(), under: under} }

var _ storer.EncodedObjectStorer = (*layer)(nil)

func (l *layer) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	if obj, ok := l.own.get(h); ok {
		return obj, true
	}
	for _, o := range l.under {
		if obj, ok := o.get(h); ok {
			return obj, true
		}
	}
	return nil, false
}

func (l *layer) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (l *layer) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	return l.own.put(obj), nil
}

func (l *layer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, ok := l.get(h)
	if !ok || t != plumbing.AnyObject && obj.Type() != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return obj, nil
}

func (l *layer) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	var all []plumbing.EncodedObject
	for _, o := range append([]*objects{l.own}, l.under...) {
		o.mu.RLock()
		for _, obj := range o.m {
			if t == plumbing.AnyObject || obj.Type() == t {
				all = append(all, obj)
			}
		}
		o.mu.RUnlock()
	}
	return storer.NewEncodedObjectSliceIter(all), nil
}

func (l *layer) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := l.get(h); !ok {
		return plumbing.ErrObjectNotFound
	}
	return nil
}

func (l *layer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	obj, ok := l.get(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	return obj.Size(), nil
}

func (l *layer) AddAlternate(string) error { return fmt.Errorf("gitrepo: no alternates") }

// content reads an object's bytes.
func content(obj plumbing.EncodedObject) ([]byte, error) {
	if m, ok := obj.(*plumbing.MemoryObject); ok {
		r, _ := m.Reader()
		return io.ReadAll(r)
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// newObject makes an object of type t holding data.
func newObject(t plumbing.ObjectType, data []byte) *plumbing.MemoryObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	obj.Write(data)
	return obj
}

// The modes of tree entries.
const (
	modeFile = "100644"
	modeExec = "100755"
	modeTree = "40000"
	modeLink = "120000"
	modeGit  = "160000"
)

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode string
	hash plumbing.Hash
}

// encodeTree encodes a tree's entries in git's order: by name, a
// directory's name compared as if it ended in "/".
func encodeTree(entries []treeEntry) []byte {
	key := func(e treeEntry) string {
		if e.mode == modeTree {
			return e.name + "/"
		}
		return e.name
	}
	slices.SortFunc(entries, func(a, b treeEntry) int { return strings.Compare(key(a), key(b)) })
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.mode)
		b.WriteByte(' ')
		b.WriteString(e.name)
		b.WriteByte(0)
		b.Write(e.hash[:])
	}
	return b.Bytes()
}

// readTree reads the entries of obj, a tree object.
func readTree(obj plumbing.EncodedObject) ([]treeEntry, error) {
	data, err := content(obj)
	if err != nil {
		return nil, err
	}
	return decodeTree(data)
}

// decodeTree reads a tree object's entries from its bytes.
func decodeTree(data []byte) ([]treeEntry, error) {
	var out []treeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		nul := bytes.IndexByte(data, 0)
		if sp <= 0 || nul < sp || len(data) < nul+1+20 {
			return nil, fmt.Errorf("%w: a malformed tree", ErrRefused)
		}
		var h plumbing.Hash
		copy(h[:], data[nul+1:nul+21])
		mode := string(data[:sp])
		if mode == "040000" {
			mode = modeTree
		}
		out = append(out, treeEntry{name: string(data[sp+1 : nul]), mode: mode, hash: h})
		data = data[nul+21:]
	}
	return out, nil
}

// putTree stores the tree of files (path -> blob hash) and its subtrees
// in store and returns its hash. Paths are slash-separated.
func putTree(store func(plumbing.EncodedObject) plumbing.Hash, files map[string]plumbing.Hash) plumbing.Hash {
	type dir struct {
		files map[string]plumbing.Hash
		dirs  map[string]*dir
	}
	root := &dir{files: map[string]plumbing.Hash{}, dirs: map[string]*dir{}}
	for p, h := range files {
		d := root
		parts := strings.Split(p, "/")
		for _, part := range parts[:len(parts)-1] {
			sub := d.dirs[part]
			if sub == nil {
				sub = &dir{files: map[string]plumbing.Hash{}, dirs: map[string]*dir{}}
				d.dirs[part] = sub
			}
			d = sub
		}
		d.files[parts[len(parts)-1]] = h
	}
	var write func(d *dir) plumbing.Hash
	write = func(d *dir) plumbing.Hash {
		entries := make([]treeEntry, 0, len(d.files)+len(d.dirs))
		for name, sub := range d.dirs {
			entries = append(entries, treeEntry{name: name, mode: modeTree, hash: write(sub)})
		}
		for name, h := range d.files {
			if _, isDir := d.dirs[name]; isDir {
				continue // a file and a directory of one name: see treeFiles
			}
			entries = append(entries, treeEntry{name: name, mode: modeFile, hash: h})
		}
		return store(newObject(plumbing.TreeObject, encodeTree(entries)))
	}
	return write(root)
}
