package docs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/collab-editor/collab/internal/kv"
)

// Deleting a document does not destroy it: it leaves its workspace (its
// path is free again, no listing or export shows it, its links and handle
// grant nothing) and goes to the workspace's trash with its whole
// history, the time of its deletion and who deleted it. Its names (see
// names.go) end with the deletion, so a view of the workspace's past
// shows it up to its deletion and never changes because of it. Undelete
// brings it back, at its path or another; Purge removes a document,
// deleted or not, and its history for good.
//
//	trash   workspace \x00 seq (8 bytes big-endian) -> document id
//
// seq numbers deletions in the order they were made; Meta.DeletedSeq is a
// deleted document's.
//
// A deletion or purge stops the document's edits first (withoutEdits):
// every revision of it is committed before the change, none after, so
// its history ends where its deletion was recorded.

var bucketTrash = []byte("trash")

func trashKey(ws string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(ws), 0), seq)
}

// Delete deletes a document, by by, keeping its history in its
// workspace's trash. Live subscribers get a Closed event with ErrDeleted.
// A deleted document is not found (ErrNotFound) by any call but those of
// this file, Store.Names and the reads of revisions and texts.
func (m *Manager) Delete(id string, by By) error {
	var entries []JournalEntry
	w := &write{what: "the deletion", fn: func(tx *kv.Tx) error {
		entries = entries[:0]
		meta, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		now := m.cfg.Now().UTC()
		// The edits before the deletion are summarised first.
		if err := noteIn(tx, &meta, now, &entries); err != nil {
			return err
		}
		if err := tx.Bucket(bucketFiles).Delete(fileKey(meta.Workspace, meta.Name)); err != nil {
			return err
		}
		if err := appendName(tx, &meta, "", now, by); err != nil {
			return err
		}
		trash := tx.Bucket(bucketTrash)
		seq, err := trash.NextSequence()
		if err != nil {
			return err
		}
		meta.Deleted, meta.DeletedBy, meta.DeletedSeq = now, by.Author, seq
		trash.SetFillPercent(appendFill)
		if err := trash.Put(trashKey(meta.Workspace, seq), []byte(id)); err != nil {
			return err
		}
		if err := putDocLinks(tx, meta); err != nil {
			return err
		}
		if err := journalTo(tx, &entries, entryOf(JournalDeleted, meta, now)); err != nil {
			return err
		}
		return putMeta(tx, meta)
	}}
	err := m.withoutEdits(id, w)
	if err == nil {
		m.watchJournal(entries)
	}
	return err
}

// Undelete restores a deleted document to its workspace, by by: at the
// path it had, or at name if name is not empty (ErrConflict if another
// document has it). Its links and handle grant again what they did (rotate
// them if the deletion was meant to cut someone off). A document that is
// not deleted is not found.
func (m *Manager) Undelete(id, name string, by By) (Meta, error) {
	if name != "" {
		var err error
		if name, err = CleanName(name); err != nil {
			return Meta{}, err
		}
	}
	var out Meta
	var entries []JournalEntry
	err := m.commit.do("the restoration", func(tx *kv.Tx) error {
		entries = entries[:0]
		meta, err := getMetaAny(tx, id)
		if err != nil {
			return err
		}
		if meta.Deleted.IsZero() {
			return fmt.Errorf("%w: document %q is not deleted", ErrNotFound, id)
		}
		path := meta.Name
		if name != "" {
			path = name
		}
		files := tx.Bucket(bucketFiles)
		if files.Get(fileKey(meta.Workspace, path)) != nil {
			return fmt.Errorf("%w: %q exists in the workspace: restore the file under another name", ErrConflict, path)
		}
		now := m.cfg.Now().UTC()
		if err := files.Put(fileKey(meta.Workspace, path), []byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTrash).Delete(trashKey(meta.Workspace, meta.DeletedSeq)); err != nil {
			return err
		}
		if err := appendName(tx, &meta, path, now, by); err != nil {
			return err
		}
		if path != meta.Name {
			meta.Name, meta.Language = path, LanguageOf(path)
		}
		meta.Deleted, meta.DeletedBy, meta.DeletedSeq = time.Time{}, "", 0
		if err := putDocLinks(tx, meta); err != nil {
			return err
		}
		if err := journalTo(tx, &entries, entryOf(JournalRestored, meta, now)); err != nil {
			return err
		}
		out = meta
		return putMeta(tx, meta)
	})
	if err != nil {
		return Meta{}, err
	}
	m.watchJournal(entries)
	return out, nil
}

// Purge removes a document, deleted or not, with all its history, its
// links and everything else it holds, for good. Live subscribers get a
// Closed event with ErrDeleted. The journal tells a live document's
// deletion, then the purge.
func (m *Manager) Purge(id string) error {
	var entries []JournalEntry
	w := &write{what: "the purge", drops: id, fn: func(tx *kv.Tx) error {
		entries = entries[:0]
		meta, err := getMetaAny(tx, id)
		if err != nil {
			return err
		}
		now := m.cfg.Now().UTC()
		if meta.Deleted.IsZero() {
			if err := noteIn(tx, &meta, now, &entries); err != nil {
				return err
			}
			if err := journalTo(tx, &entries, entryOf(JournalDeleted, meta, now)); err != nil {
				return err
			}
		}
		if err := deleteDoc(tx, id); err != nil {
			return err
		}
		return journalTo(tx, &entries, entryOf(JournalPurged, meta, now))
	}}
	err := m.withoutEdits(id, w)
	if err == nil {
		m.watchJournal(entries)
		m.purgeLog(id)
	}
	return err
}

// withoutEdits commits w, a write that ends document id's life as it is
// (a deletion or a purge), while the document takes no edits: no copy of
// it is loaded meanwhile, and a live copy refuses edits (ErrClosed: the
// client sends them again, and finds the document gone), so every
// revision of it is queued before w and none after. Once w commits, the
// live copy is dropped and closed with ErrDeleted, in commit order (its
// subscribers hear of its last revisions first); should w fail, the live
// copy takes edits again.
func (m *Manager) withoutEdits(id string, w *write) error {
	m.mu.Lock()
	m.stopped[id]++
	e := m.live[id]
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.stopped[id]--; m.stopped[id] == 0 {
			delete(m.stopped, id)
		}
		m.mu.Unlock()
	}()
	var d *Document
	if e != nil {
		<-e.ready
		d = e.d
	}
	if d != nil {
		d.mu.Lock()
		d.halted++
		d.mu.Unlock()
	}
	w.then = func(err error) {
		if err == nil && d != nil {
			// Forgotten first: whoever hears of the close and opens the
			// document again must find it gone.
			m.drop(d)
			d.close(ErrDeleted)
		}
	}
	err := m.commit.wait(w)
	if d != nil && err != nil {
		// Only on failure: on success d stays halted until then closes
		// it, which may be after this returns.
		d.mu.Lock()
		d.halted--
		d.mu.Unlock()
	}
	return err
}

// Deleted returns deleted documents of workspace ws, the most recently
// deleted first: at most limit, deleted before the one whose DeletedSeq is
// before (0: from the newest).
func (s *Store) Deleted(ws string, before uint64, limit int) (out []Meta, err error) {
	err = s.viewAll(func(v *view) error {
		out, err = v.deleted(ws, before, limit)
		return err
	})
	return out, err
}

// deleted reads the trash of workspace ws as Deleted does.
func (v *view) deleted(ws string, before uint64, limit int) (out []Meta, err error) {
	if before == 0 {
		before = math.MaxUint64
	}
	prefix := append([]byte(ws), 0)
	c := v.tx.Bucket(bucketTrash).Cursor()
	k, id := c.Seek(trashKey(ws, before))
	if k == nil {
		k, id = c.Last()
	} else {
		k, id = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 && len(out) < limit; k, id = c.Prev() {
		m, _, err := v.metaOf(string(id), true)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// DeletedMeta returns a deleted document's metadata; a live one is not
// found.
func (s *Store) DeletedMeta(id string) (m Meta, err error) {
	err = s.view(id, func(v *view) error {
		m, _, err = v.metaOf(id, true)
		if err == nil && m.Deleted.IsZero() {
			err = fmt.Errorf("%w: document %q is not deleted", ErrNotFound, id)
		}
		return err
	})
	return m, err
}

// Documents returns every document of workspace ws as of one moment: the
// live ones by path, then the deleted ones in the order of their
// deletion. For a view of the workspace's whole history.
func (s *Store) Documents(ws string) (out []Meta, err error) {
	err = s.viewAll(func(v *view) error {
		files := v.tx.Bucket(bucketFiles).Cursor()
		prefix := fileKey(ws, "")
		for k, id := files.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = files.Next() {
			m, _, err := v.meta(string(id))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		deleted, err := v.deleted(ws, 0, math.MaxInt)
		if err != nil {
			return err
		}
		slices.Reverse(deleted) // in the order of their deletion
		out = append(out, deleted...)
		return nil
	})
	return out, err
}
