package docs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	bolt "go.etcd.io/bbolt"
)

// The journal: what happened to documents, in one order, durable.
//
// Every creation, rename, deletion, restoration and purge of a document
// appends an entry to the journal in the same transaction as the change
// itself, so an acknowledged change always has its entry and a refused one
// never does.
// Edits are journaled after the fact, in summaries: NoteChanges appends one
// "changed" entry per document for the revisions since its last one (their
// range and their authors), and moves the document's cursor (Meta's
// Journaled, the newest revision an entry covers) in the same transaction.
// Revisions are durable on their own, so nothing is lost between an edit
// and its summary: after a crash, Unjournaled names the documents whose
// revisions no entry covers yet. A rename, a deletion or a purge first
// summarises the revisions before it, in its own transaction, so a
// document's entries keep the order of what happened to it.
//
// Who calls NoteChanges, and how often, is the caller's choice (the
// webhooks debounce it); this package only keeps the entries, numbers
// them (Seq: 1, 2, 3, … for the life of the file), lets readers page
// through them by workspace or document, tells a Watcher of new ones,
// and forgets them after JournalKeep or beyond JournalMax.
//
//	journal      seq (8 bytes big-endian) -> JournalEntry (JSON); "trimmed" -> the newest seq forgotten
//	journal-ws   workspace \x00 seq -> ""  (a workspace's entries)
//	journal-doc  document \x00 seq -> ""   (a document's entries)

var (
	bucketJournal    = []byte("journal")
	bucketJournalWS  = []byte("journal-ws")
	bucketJournalDoc = []byte("journal-doc")
	keyTrimmed       = []byte("trimmed")
	// keyJournal marks a file whose documents have a journal cursor
	// (see initJournal).
	keyJournal = settingKey("journal")
)

// The kinds of journal entries.
const (
	JournalCreated  = "created"
	JournalRenamed  = "renamed"
	JournalDeleted  = "deleted"
	JournalChanged  = "changed"
	JournalRestored = "restored" // a deleted document brought back (see trash.go)
	JournalPurged   = "purged"   // a document and its history removed for good
)

// JournalEntry is one thing that happened to a document. Links are the
// document's at the time of the entry.
type JournalEntry struct {
	Seq       uint64    `json:"-"`
	Kind      string    `json:"kind"`
	Time      time.Time `json:"time"`
	Doc       string    `json:"doc"`
	Workspace string    `json:"workspace"`
	Name      string    `json:"name"`              // the document's name (after a rename, the new one)
	OldName   string    `json:"oldName,omitempty"` // renamed: the name before
	EditLink  string    `json:"editLink"`
	ViewLink  string    `json:"viewLink"`
	// FromRev and ToRev: changed: the first and last revision summarised;
	// created: both the revision the document starts at (0, or 1 with a
	// text); renamed, deleted, restored and purged: both its revision
	// then.
	FromRev uint64 `json:"fromRev"`
	ToRev   uint64 `json:"toRev"`
	// Authors: changed: the authors of the revisions FromRev-ToRev, in
	// the order of their first revision; created: its author.
	Authors []JournalAuthor `json:"authors,omitempty"`
}

// JournalAuthor is an author of a journal entry's revisions: the
// revision's Author and, if known then, the author's name (see
// AuthorProfile).
type JournalAuthor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Watcher hears of what the store made durable. Its functions run on the
// goroutines that commit and publish (or on the writer's): they must
// return at once, and must not call back into the Manager.
type Watcher struct {
	// Revisions: document id's revisions up to rev are durable.
	Revisions func(id string, rev uint64)
	// Journal: entry e is durable.
	Journal func(e JournalEntry)
	// Changes, in cluster mode only: a change set of the Log (any node's,
	// this one's too) was applied to this node's bbolt file; c is what it
	// wrote. The other packages learn this way of their own buckets'
	// changes made on other nodes.
	Changes func(c kv.Changes)
}

// Watch sets the one Watcher of m (replacing any earlier one).
func (m *Manager) Watch(w Watcher) { m.watcher.Store(&w) }

func (m *Manager) watchRevisions(id string, rev uint64) {
	if w := m.watcher.Load(); w != nil && w.Revisions != nil {
		w.Revisions(id, rev)
	}
}

func (m *Manager) watchChanges(c kv.Changes) {
	if w := m.watcher.Load(); w != nil && w.Changes != nil {
		w.Changes(c)
	}
}

func (m *Manager) watchJournal(es []JournalEntry) {
	if w := m.watcher.Load(); w != nil && w.Journal != nil {
		for _, e := range es {
			w.Journal(e)
		}
	}
}

func journalIndexKey(scope string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(scope), 0), seq)
}

// appendJournal numbers e and appends it, with its index entries.
func appendJournal(tx *kv.Tx, e *JournalEntry) error {
	j := tx.Bucket(bucketJournal)
	seq, err := j.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.SetFillPercent(appendFill)
	if err := j.Put(revKey(seq), v); err != nil {
		return err
	}
	if err := tx.Bucket(bucketJournalWS).Put(journalIndexKey(e.Workspace, seq), []byte{}); err != nil {
		return err
	}
	return tx.Bucket(bucketJournalDoc).Put(journalIndexKey(e.Doc, seq), []byte{})
}

// entryOf is an entry about meta as it is now.
// journalTo appends e to the journal in tx and, numbered, to out: the
// entries its write tells the watcher of once committed.
func journalTo(tx *kv.Tx, out *[]JournalEntry, e JournalEntry) error {
	if err := appendJournal(tx, &e); err != nil {
		return err
	}
	*out = append(*out, e)
	return nil
}

func entryOf(kind string, meta Meta, now time.Time) JournalEntry {
	return JournalEntry{Kind: kind, Time: now, Doc: meta.ID, Workspace: meta.Workspace, Name: meta.Name,
		EditLink: meta.EditLink, ViewLink: meta.ViewLink, FromRev: meta.Rev, ToRev: meta.Rev}
}

// recordAuthor reads the author of a log record without decoding its
// operation (see encodeRecord).
func recordAuthor(data []byte) (string, bool) {
	_, n := binary.Uvarint(data)
	if n <= 0 {
		return "", false
	}
	data = data[n:]
	l, n := binary.Uvarint(data)
	if n <= 0 || uint64(len(data)-n) < l {
		return "", false
	}
	return string(data[n : n+int(l)]), true
}

// authorsOf adds the authors of the records of log after after up to to
// (bbolt's only) to ids, each once, in order.
func authorsOf(log *kv.Bucket, after, to uint64, ids []string) ([]string, error) {
	c := log.Cursor()
	for k, v := c.Seek(revKey(after + 1)); isRev(k); k, v = c.Next() {
		rev := binary.BigEndian.Uint64(k)
		if rev > to {
			break
		}
		a, ok := recordAuthor(v)
		if !ok {
			return nil, corruptRecord(rev)
		}
		if !slices.Contains(ids, a) {
			ids = append(ids, a)
		}
	}
	return ids, nil
}

// journalAuthors names authors ids of meta's revisions with their
// profiles' names.
func journalAuthors(tx *kv.Tx, meta Meta, ids []string) []JournalAuthor {
	out := make([]JournalAuthor, len(ids))
	b := tx.Bucket(bucketAuthors)
	scope := authorScope(meta)
	for i, id := range ids {
		out[i].ID = id
		if b == nil || id == "" {
			continue
		}
		var p AuthorProfile
		if raw := b.Get(append(scope[:len(scope):len(scope)], id...)); raw != nil && json.Unmarshal(raw, &p) == nil {
			out[i].Name = p.Name
		}
	}
	return out
}

// noteIn appends, inside a commit's transaction (which holds every durable
// revision), the changed entry of meta's revisions no entry covers yet,
// if any, and moves meta's cursor; the caller writes meta.
func noteIn(tx *kv.Tx, meta *Meta, now time.Time, out *[]JournalEntry) error {
	if meta.Rev <= meta.Journaled {
		return nil
	}
	log, err := logBucket(tx, meta.ID)
	if err != nil {
		return err
	}
	ids, err := authorsOf(log, meta.Journaled, meta.Rev, nil)
	if err != nil {
		return err
	}
	e := entryOf(JournalChanged, *meta, now)
	e.FromRev, e.ToRev = meta.Journaled+1, meta.Rev
	e.Authors = journalAuthors(tx, *meta, ids)
	if err := journalTo(tx, out, e); err != nil {
		return err
	}
	meta.Journaled = meta.Rev
	return nil
}

// NoteChanges appends, for each document of ids, one changed entry that
// summarises its revisions since its last entry, if it has any; all in one
// commit (in parts, if a cluster's log takes less in one change set). It
// returns the entries. The authors are read before the commit, so the
// commit's transaction only writes: a document changed meanwhile
// (renamed, or noted by another call) is left for the next call, and a
// deleted one is skipped.
func (m *Manager) NoteChanges(ids []string) ([]JournalEntry, error) {
	type plan struct {
		from, to uint64
		authors  []string
	}
	plans := map[string]plan{}
	err := m.store.viewAll(func(v *view) error {
		for _, id := range ids {
			meta, d, err := v.meta(id)
			if err != nil {
				continue // deleted: its deletion noted it
			}
			if meta.Rev <= meta.Journaled {
				continue
			}
			p := plan{from: meta.Journaled + 1, to: meta.Rev}
			if p.authors, err = authorsOf(d.log, meta.Journaled, min(d.h.rev, meta.Rev), nil); err != nil {
				return err
			}
			for _, w := range d.ov {
				if w.rev.Rev >= p.from && w.rev.Rev <= p.to && !slices.Contains(p.authors, w.rev.Author) {
					p.authors = append(p.authors, w.rev.Author)
				}
			}
			plans[id] = p
		}
		return nil
	})
	if err != nil || len(plans) == 0 {
		return nil, err
	}
	now := m.cfg.Now().UTC()
	var out []JournalEntry
	err = m.Write("the journal's summary of edits", func(tx *kv.Tx) error {
		out = out[:0]
		for _, id := range ids {
			p, ok := plans[id]
			if !ok {
				continue
			}
			meta, err := getMeta(tx, id)
			if err != nil || meta.Journaled != p.from-1 || meta.Rev < p.to {
				continue
			}
			e := entryOf(JournalChanged, meta, now)
			e.FromRev, e.ToRev = p.from, p.to
			e.Authors = journalAuthors(tx, meta, p.authors)
			if err := appendJournal(tx, &e); err != nil {
				return err
			}
			meta.Journaled = p.to
			if err := putMeta(tx, meta); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if errors.Is(err, ErrTooLarge) && len(ids) > 1 {
		// More than one change set of a cluster's log carries: in halves.
		first, err := m.NoteChanges(ids[:len(ids)/2])
		if err != nil {
			return first, err
		}
		rest, err := m.NoteChanges(ids[len(ids)/2:])
		return append(first, rest...), err
	}
	if err != nil {
		return nil, err
	}
	m.watchJournal(out)
	return out, nil
}

// Unjournaled returns the documents that have revisions no journal entry
// covers yet: after a restart, those whose summary was due when the server
// stopped. It reads every document's metadata.
func (m *Manager) Unjournaled() (ids []string, err error) {
	err = m.store.viewAll(func(v *view) error {
		return v.tx.Bucket(bucketMeta).ForEach(func(k, _ []byte) error {
			meta, _, err := v.metaOf(string(k), true)
			if err != nil {
				return err
			}
			if meta.Deleted.IsZero() && meta.Rev > meta.Journaled {
				ids = append(ids, meta.ID)
			}
			return nil
		})
	})
	return ids, err
}

// JournalQuery selects journal entries.
type JournalQuery struct {
	After     uint64 // entries after this seq
	Workspace string // only this workspace's documents' ("" for all)
	Doc       string // only this document's ("" for all)
	Limit     int    // at most this many (default 100)
}

// Journal returns the entries q selects, oldest first.
func (m *Manager) Journal(q JournalQuery) (out []JournalEntry, err error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	err = m.store.view("", func(v *view) error {
		j := v.tx.Bucket(bucketJournal)
		get := func(seq uint64) error {
			raw := j.Get(revKey(seq))
			if raw == nil {
				return nil // trimmed under an index entry: gone
			}
			e := JournalEntry{Seq: seq}
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("docs: corrupt journal entry %d: %w", seq, err)
			}
			if q.Workspace != "" && e.Workspace != q.Workspace {
				return nil
			}
			out = append(out, e)
			return nil
		}
		var index *kv.Bucket
		var scope string
		switch {
		case q.Doc != "":
			index, scope = v.tx.Bucket(bucketJournalDoc), q.Doc
		case q.Workspace != "":
			index, scope = v.tx.Bucket(bucketJournalWS), q.Workspace
		}
		if index == nil {
			c := j.Cursor()
			for k, _ := c.Seek(revKey(q.After + 1)); k != nil && len(out) < q.Limit; k, _ = c.Next() {
				if len(k) != 8 {
					continue
				}
				if err := get(binary.BigEndian.Uint64(k)); err != nil {
					return err
				}
			}
			return nil
		}
		prefix := append([]byte(scope), 0)
		c := index.Cursor()
		for k, _ := c.Seek(journalIndexKey(scope, q.After+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < q.Limit; k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			if err := get(binary.BigEndian.Uint64(k[len(prefix):])); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// JournalBounds returns the newest seq forgotten (every entry after it is
// kept) and the newest seq.
func (m *Manager) JournalBounds() (trimmed, last uint64, err error) {
	err = m.store.view("", func(v *view) error {
		j := v.tx.Bucket(bucketJournal)
		if t := j.Get(keyTrimmed); len(t) == 8 {
			trimmed = binary.BigEndian.Uint64(t)
		}
		last = j.Sequence()
		return nil
	})
	return trimmed, last, err
}

// trimBatch bounds the entries one trim forgets, so that its commit stays
// short; the next trim goes on.
const trimBatch = 10_000

// TrimJournal forgets the journal's entries older than JournalKeep, and its
// oldest beyond JournalMax, up to trimBatch at a time (fewer, if a
// cluster's log takes no more in one change set); it returns how many.
// The Manager calls it every minute.
func (m *Manager) TrimJournal() (int, error) {
	cutoff := m.cfg.Now().Add(-m.cfg.JournalKeep)
	// Most minutes there is nothing to forget: no commit then.
	due := false
	if err := m.store.view("", func(v *view) error {
		j := v.tx.Bucket(bucketJournal)
		k, raw := j.Cursor().First()
		if k == nil || len(k) != 8 {
			return nil
		}
		var e JournalEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("docs: corrupt journal entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		due = e.Time.Before(cutoff) || j.Sequence()-binary.BigEndian.Uint64(k) >= uint64(m.cfg.JournalMax)
		return nil
	}); err != nil || !due {
		return 0, err
	}
	for batch := trimBatch; ; batch /= 10 {
		n, err := m.trimJournal(cutoff, batch)
		if !errors.Is(err, ErrTooLarge) || batch < 10 {
			return n, err
		}
		// More than one change set of a cluster's log carries.
	}
}

// trimJournal is one commit of TrimJournal: it forgets at most batch
// entries.
func (m *Manager) trimJournal(cutoff time.Time, batch int) (int, error) {
	n := 0
	err := m.Write("the journal's trim", func(tx *kv.Tx) error {
		n = 0
		j := tx.Bucket(bucketJournal)
		last := j.Sequence()
		var trimmed uint64
		c := j.Cursor()
		for k, v := c.First(); k != nil && len(k) == 8 && n < batch; k, v = c.First() {
			seq := binary.BigEndian.Uint64(k)
			var e JournalEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("docs: corrupt journal entry %d: %w", seq, err)
			}
			if !e.Time.Before(cutoff) && last-seq < uint64(m.cfg.JournalMax) {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := tx.Bucket(bucketJournalWS).Delete(journalIndexKey(e.Workspace, seq)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketJournalDoc).Delete(journalIndexKey(e.Doc, seq)); err != nil {
				return err
			}
			trimmed = seq
			n++
		}
		if n == 0 {
			return nil
		}
		return j.Put(keyTrimmed, revKey(trimmed))
	})
	return n, err
}

// initJournal makes the journal's buckets and, in a file made before the
// journal, starts every document's cursor at its head: its history before
// the upgrade is not journaled.
func initJournal(db *bolt.DB) error {
	return updateDB(db, func(tx *kv.Tx) error {
		for _, b := range [][]byte{bucketJournal, bucketJournalWS, bucketJournalDoc} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		links := tx.Bucket(bucketLinks)
		if links.Get(keyJournal) != nil {
			return nil
		}
		var ids []string
		if err := tx.Bucket(bucketMeta).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			meta, err := getMetaAny(tx, id)
			if err != nil {
				return err
			}
			meta.Journaled = meta.Rev
			if err := putMeta(tx, meta); err != nil {
				return err
			}
		}
		return links.Put(keyJournal, []byte("1"))
	})
}
