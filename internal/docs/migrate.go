package docs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/rope"
	bolt "go.etcd.io/bbolt"
)

// Migrate copies the single-node database at path (a collab.db, with its
// revision log path+".wal") into log, the Log of a new cluster, for the
// "collab migrate" command (see docs/CLUSTER.md); it prints what it copied
// to out. The server must be stopped, and log must be empty: no node may
// have started on it. Every node that starts on log afterwards, with a
// replica file of its own (new or not), holds the database's documents,
// histories, workspaces, links, settings, chat, labels, trash, authors,
// journal and webhooks, as a node that had made them itself.
//
// The file is opened as the server opens it first, which replays its
// revision log into it (and brings an older file's layout up to date),
// then read-only. What goes to the Log:
//
//   - change sets of everything a node does not derive from revisions
//     (see replicated), as the file holds it, but for the settings that
//     describe the file itself (see fileLocal); and every document made
//     empty, at revision 0, as createDoc makes it;
//   - each document's revisions, in order, as runs of the records its log
//     holds, which every node applies as it applies any revision;
//   - a last change set that deletes the deleted documents again: until
//     then they are live, since a node drops revisions of a deleted
//     document.
//
// A failure part way leaves the Log part written: delete the stream and
// run it again.
func Migrate(path string, log Log, out io.Writer) error {
	last, err := log.Last()
	if err != nil {
		return fmt.Errorf("docs: migrate: the cluster's log: %w", err)
	}
	if last != 0 {
		return fmt.Errorf("docs: migrate: the cluster's log is not empty (its newest entry is at %d): a database migrates only into a new cluster, before any node starts on it", last)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("docs: migrate: %w", err)
	}
	st, err := OpenStore(path, Config{Logger: slog.New(slog.NewTextHandler(out, nil))})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("docs: migrate: %s is in use: stop the server first", path)
	}
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("docs: migrate: open %s: %w", path, err)
	}
	defer db.Close()
	return viewDB(db, func(tx *kv.Tx) error {
		mg := &migration{log: log, tx: tx, out: out, path: path, isDoc: map[string]bool{}, deleted: map[string][]byte{}}
		return mg.run()
	})
}

// The sizes of what Migrate sends: change sets and runs well under NATS's
// largest message (1 MiB by default), and at most migrateBatchRuns runs,
// of different documents, or migrateBatchBytes per Log.Append.
const (
	migrateSetBytes   = 512 << 10
	migrateRunBytes   = 256 << 10
	migrateBatchRuns  = 64
	migrateBatchBytes = 4 << 20
)

// fileLocal are the settings that describe one bbolt file rather than the
// cluster's data: the file's snapshot encoding, its revision log's
// generation, the upgrades it has had, its place in the Log. Each node's
// file has its own, and no change set carries them.
var fileLocal = [][]byte{keySnapFormat, keyWALGen, keySessionsIndexed, keyJournal, keyFollowed, keyMetaPos}

// migration is one run of Migrate, in one read transaction of the file.
type migration struct {
	log  Log
	tx   *kv.Tx
	out  io.Writer
	path string

	ids     []string          // the documents, in the meta bucket's order
	isDoc   map[string]bool   // the same
	deleted map[string][]byte // the metadata of the deleted ones, as the file holds it

	// The change set being gathered, its size as estimated by
	// changeBytes, and the position of the newest one committed.
	set   kv.Changes
	size  int
	after uint64

	// What was sent: change sets, runs, Append calls, revisions, bytes.
	sets, runs, appends int
	revs                uint64
	setBytes, runBytes  int64
}

func (mg *migration) run() error {
	if err := mg.check(); err != nil {
		return err
	}
	workspaces := 0
	if b := mg.tx.Bucket(bucketWorkspaces); b != nil {
		workspaces = b.Stats().KeyN
	}
	fmt.Fprintf(mg.out, "%s: %d documents, %d of them deleted, in %d workspaces\n", mg.path, len(mg.ids), len(mg.deleted), workspaces)
	err := mg.tx.ForEach(func(name []byte, b *kv.Bucket) error {
		if err := mg.add(kv.Change{Op: kv.OpCreateBucket, Key: name}); err != nil {
			return err
		}
		return mg.copyBucket([][]byte{name}, b)
	})
	if err != nil {
		return err
	}
	for _, id := range mg.ids {
		if err := mg.createDoc(id); err != nil {
			return err
		}
	}
	if err := mg.flush(); err != nil {
		return err
	}
	fmt.Fprintf(mg.out, "metadata: %d change sets, %d bytes\n", mg.sets, mg.setBytes)
	if err := mg.revisions(); err != nil {
		return err
	}
	fmt.Fprintf(mg.out, "revisions: %d in %d runs, %d bytes, in %d appends\n", mg.revs, mg.runs, mg.runBytes, mg.appends)
	for _, id := range mg.ids {
		if v, ok := mg.deleted[id]; ok {
			if err := mg.add(kv.Change{Op: kv.OpPut, Path: [][]byte{bucketMeta}, Key: []byte(id), Value: v}); err != nil {
				return err
			}
		}
	}
	if err := mg.flush(); err != nil {
		return err
	}
	fmt.Fprintf(mg.out, "the cluster's log holds it all: %d change sets and %d runs\n", mg.sets, mg.runs)
	return nil
}

// check lists the documents and checks that each is whole: metadata, a
// log with a head record, a doc bucket. A file that is a cluster node's
// replica is refused.
func (mg *migration) check() error {
	links := mg.tx.Bucket(bucketLinks)
	if links.Get(keyFollowed) != nil || links.Get(keyMetaPos) != nil {
		return fmt.Errorf("docs: migrate: %s is a cluster node's replica, not a single-node database", mg.path)
	}
	return mg.tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
		id := string(k)
		var m Meta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("docs: migrate: corrupt metadata of %q: %w", id, err)
		}
		lb := mg.tx.Bucket(bucketLog).Bucket(k)
		if lb == nil || mg.tx.Bucket(bucketDoc).Bucket(k) == nil {
			return fmt.Errorf("docs: migrate: document %q has lost its buckets: %s", id, recoverHint(mg.path))
		}
		if _, ok := readHead(lb); !ok {
			return fmt.Errorf("docs: migrate: document %q has no head record: %s", id, recoverHint(mg.path))
		}
		mg.ids = append(mg.ids, id)
		mg.isDoc[id] = true
		if !m.Deleted.IsZero() {
			mg.deleted[id] = bytes.Clone(v)
		}
		return nil
	})
}

// copyBucket adds the changes that fill the bucket at path as b: its
// sequence, its keys and its sub-buckets, but what each node derives from
// the revisions, the file-local settings and the buckets of documents
// without metadata. A deleted document's metadata is written live (see
// Migrate).
func (mg *migration) copyBucket(path [][]byte, b *kv.Bucket) error {
	if seq := b.Sequence(); seq != 0 {
		if err := mg.add(kv.Change{Op: kv.OpSetSequence, Path: path, Seq: seq}); err != nil {
			return err
		}
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if sub := b.Bucket(k); sub != nil {
			child := append(append(make([][]byte, 0, len(path)+1), path...), k)
			if derived(child) || len(path) == 1 && bytes.Equal(path[0], bucketDoc) && !mg.isDoc[string(k)] {
				continue
			}
			if err := mg.add(kv.Change{Op: kv.OpCreateBucket, Path: path, Key: k}); err != nil {
				return err
			}
			if err := mg.copyBucket(child, sub); err != nil {
				return err
			}
			continue
		}
		if len(path) == 1 && bytes.Equal(path[0], bucketLinks) && isFileLocal(k) {
			continue
		}
		if len(path) == 1 && bytes.Equal(path[0], bucketMeta) && mg.deleted[string(k)] != nil {
			var m Meta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("docs: migrate: corrupt metadata of %q: %w", k, err)
			}
			m.Deleted, m.DeletedBy, m.DeletedSeq = time.Time{}, "", 0
			live, err := json.Marshal(m)
			if err != nil {
				return err
			}
			v = live
		}
		if err := mg.add(kv.Change{Op: kv.OpPut, Path: path, Key: k, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

func isFileLocal(k []byte) bool {
	for _, l := range fileLocal {
		if bytes.Equal(k, l) {
			return true
		}
	}
	return false
}

// createDoc adds, in one change set, what createDoc makes of document id
// that a node otherwise derives from its revisions: its log bucket with a
// head record at revision 0 (at the time of the file's head, which the
// revisions move on if it has any) and its empty first snapshot; a
// node applies them only from the change set that creates their buckets.
func (mg *migration) createDoc(id string) error {
	key := []byte(id)
	h, _ := readHead(mg.tx.Bucket(bucketLog).Bucket(key))
	doc := [][]byte{bucketDoc, key}
	group := kv.Changes{
		{Op: kv.OpCreateBucket, Path: [][]byte{bucketLog}, Key: key},
		{Op: kv.OpPut, Path: [][]byte{bucketLog, key}, Key: keyHead, Value: head{updatedMs: h.updatedMs}.encode()},
		{Op: kv.OpCreateBucket, Path: doc, Key: subSnap},
		{Op: kv.OpPut, Path: [][]byte{bucketDoc, key, subSnap}, Key: revKey(0)},
		{Op: kv.OpCreateBucket, Path: doc, Key: subOpID},
		{Op: kv.OpCreateBucket, Path: doc, Key: subBlame},
		{Op: kv.OpCreateBucket, Path: doc, Key: subPres},
	}
	n := 0
	for _, ch := range group {
		n += changeBytes(ch)
	}
	if mg.size+n > migrateSetBytes {
		if err := mg.flush(); err != nil {
			return err
		}
	}
	mg.set = append(mg.set, group...)
	mg.size += n
	return nil
}

// changeBytes is a change's size in a change set, or a little more.
func changeBytes(ch kv.Change) int {
	n := 3*binary.MaxVarintLen64 + len(ch.Key) + len(ch.Value)
	for _, p := range ch.Path {
		n += binary.MaxVarintLen64 + len(p)
	}
	return n
}

// add adds ch to the change set, committing the set first if ch would
// take it past migrateSetBytes.
func (mg *migration) add(ch kv.Change) error {
	n := changeBytes(ch)
	if len(mg.set) > 0 && mg.size+n > migrateSetBytes {
		if err := mg.flush(); err != nil {
			return err
		}
	}
	mg.set = append(mg.set, ch)
	mg.size += n
	return nil
}

// flush commits the change set gathered, if any, after the previous one.
func (mg *migration) flush() error {
	if len(mg.set) == 0 {
		return nil
	}
	body, err := mg.set.MarshalBinary()
	if err != nil {
		return err
	}
	pos, err := mg.log.Commit(mg.after, body)
	if err != nil {
		return fmt.Errorf("docs: migrate: committing change set %d (%d bytes) to the cluster's log: %w", mg.sets+1, len(body), err)
	}
	mg.after = pos
	mg.sets++
	mg.setBytes += int64(len(body))
	mg.set, mg.size = nil, 0
	return nil
}

// docRevs reads one document's revisions, next to last, off its log.
type docRevs struct {
	id         string
	log        *kv.Bucket
	next, last uint64
	text       rope.Rope // the text at next-1
}

// revisions appends every document's revisions to the Log: each Append
// carries the next run of up to migrateBatchRuns documents.
func (mg *migration) revisions() error {
	var todo []*docRevs
	for _, id := range mg.ids {
		lb := mg.tx.Bucket(bucketLog).Bucket([]byte(id))
		if h, _ := readHead(lb); h.rev > 0 {
			todo = append(todo, &docRevs{id: id, log: lb, next: 1, last: h.rev})
		}
	}
	for len(todo) > 0 {
		var runs []Run
		size := 0
		for _, d := range todo {
			if len(runs) == migrateBatchRuns || size >= migrateBatchBytes {
				break
			}
			r, err := d.run(migrateRunBytes)
			if err != nil {
				return err
			}
			runs = append(runs, r)
			size += len(r.Body)
		}
		for i, err := range mg.log.Append(runs) {
			if err != nil {
				r := runs[i]
				return fmt.Errorf("docs: migrate: appending revisions %d to %d of %q (%d bytes) to the cluster's log: %w", r.First, r.Last(), r.Doc, len(r.Body), err)
			}
		}
		mg.appends++
		for _, r := range runs {
			mg.runs++
			mg.revs += uint64(r.Count)
			mg.runBytes += int64(len(r.Body))
		}
		left := todo[:0]
		for _, d := range todo {
			if d.next <= d.last {
				left = append(left, d)
			}
		}
		todo = left
	}
	return nil
}

// run reads the document's next run: its next revisions, as many as fit
// in limit bytes (one at least). Each is checked as a node will apply it:
// its record decodes and its operation applies to the text before it.
func (d *docRevs) run(limit int) (Run, error) {
	r := Run{Doc: d.id, First: d.next}
	c := d.log.Cursor()
	for k, v := c.Seek(revKey(d.next)); d.next <= d.last; k, v = c.Next() {
		if !isRev(k) || binary.BigEndian.Uint64(k) != d.next {
			return r, fmt.Errorf("docs: migrate: revision %d of %q is missing from its log", d.next, d.id)
		}
		if r.Count > 0 && len(r.Body)+binary.MaxVarintLen64+len(v) > limit {
			break
		}
		rev, err := decodeRecord(d.next, v)
		if err != nil {
			return r, fmt.Errorf("docs: migrate: document %q: %w", d.id, err)
		}
		if d.text, err = rev.Op.ApplyRope(d.text); err != nil {
			return r, fmt.Errorf("docs: migrate: revision %d of %q does not apply: %w", d.next, d.id, err)
		}
		r.Body = appendRunRecord(r.Body, v)
		r.Count++
		d.next++
	}
	return r, nil
}
