package docs

import (
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Backup is a consistent copy of the whole store, taken while edits go on:
// a bbolt read transaction opened just after the revisions pending in the
// revision log were checkpointed, so it holds every edit acknowledged
// before Manager.Backup was called. Written out, it is a complete
// standalone bbolt file: put it in place as the data file, with no
// revision log beside it, and the store opens on it (its recorded log
// generation pairs with a missing log, which starts the next one).
//
// A Backup holds a read transaction until Close: bbolt cannot reuse the
// pages it sees, and a checkpoint that must grow the file's memory map
// waits for it. Edits are still acknowledged meanwhile (they are durable
// in the revision log), so stream it out and close it promptly.
type Backup struct {
	tx *bolt.Tx
}

// Backup checkpoints the revisions pending in the revision log, then
// opens a read transaction on the result. The caller must Close it. A
// checkpoint the disk refuses fails the backup with an ErrStorage: the
// copy would lack acknowledged edits.
func (m *Manager) Backup() (*Backup, error) {
	return m.store.backup()
}

func (s *Store) backup() (*Backup, error) {
	if err := s.checkpoint(); err != nil {
		return nil, fmt.Errorf("docs: backup: %w", err)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("docs: backup: %w", err)
	}
	return &Backup{tx: tx}, nil
}

// Size is the copy's length in bytes, what WriteTo writes.
func (b *Backup) Size() int64 { return b.tx.Size() }

// WriteTo writes the copy to w: a bbolt file of Size bytes.
func (b *Backup) WriteTo(w io.Writer) (int64, error) {
	n, err := b.tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("docs: backup: %w", err)
	}
	return n, nil
}

// Close ends the read transaction. It is safe to call more than once.
func (b *Backup) Close() error {
	if b.tx == nil {
		return nil
	}
	err := b.tx.Rollback()
	b.tx = nil
	return err
}
