package docs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/collab-editor/collab/internal/kv"
	bolt "go.etcd.io/bbolt"
)

// TestMoveLogs opens a file in the earlier layout, where each document's
// log, head record and client marks lived inside doc/<id>, and checks that
// the documents read back whole after the upgrade: text, history, and the
// exactly-once marks (a resend is still recognised).
func TestMoveLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	m := openAt(t, path, Config{SnapshotEvery: 5})
	type want struct {
		id, text string
		revs     []Revision
		last     Edit // the newest client edit, to resend
		lastRev  uint64
	}
	var docs []want
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 3 {
		meta, d := createOpen(t, m, CreateParams{Name: fmt.Sprintf("f%d.go", i), Text: "package f\n"})
		w := want{id: meta.ID}
		for k := range 12 {
			text, rev, _ := d.Text()
			e := Edit{Base: rev, Op: randomEdit(rng, text.String()), Author: "ann", OpID: fmt.Sprintf("c%d:%d", k%2, k/2+1)}
			if k == 7 {
				e.OpID = "idem-7"
			}
			res, err := d.Submit(e)
			if err != nil {
				t.Fatal(err)
			}
			if e.OpID != "idem-7" {
				w.last, w.lastRev = e, res.Rev
			}
		}
		text, _, _ := d.Text()
		w.text = text.String()
		var err error
		if w.revs, err = m.Revisions(meta.ID, 0, 100); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, w)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	writeOldLayout(t, path)

	m = openAt(t, path, Config{SnapshotEvery: 5})
	for _, w := range docs {
		if _, text, err := m.Head(w.id); err != nil || text.String() != w.text {
			t.Errorf("%s: text %q, %v; want %q", w.id, text.String(), err, w.text)
		}
		revs, err := m.Revisions(w.id, 0, 100)
		if err != nil || !slices.EqualFunc(revs, w.revs, sameRevision) {
			t.Errorf("%s: revisions differ after the upgrade (%v)", w.id, err)
		}
		if rev, ok, err := m.Store().LookupOpID(w.id, "idem-7"); err != nil || !ok || rev != 9 {
			t.Errorf("%s: idem-7 at %d, %v, %v; want 9", w.id, rev, ok, err)
		}
		if ss, err := m.Sessions(w.id, 0, 10); err != nil || len(ss) != 1 || ss[0].First != 1 || ss[0].Last != uint64(len(w.revs)) {
			t.Errorf("%s: edit sessions after the upgrade: %+v, %v; want one of every revision", w.id, ss, err)
		}
		d, err := m.Open(w.id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Submit(w.last)
		if err != nil || !res.Duplicate || res.Rev != w.lastRev {
			t.Errorf("%s: resend of %s: %+v, %v; want a duplicate of %d", w.id, w.last.OpID, res, err, w.lastRev)
		}
		if _, rev, _ := d.Text(); rev != uint64(len(w.revs)) {
			t.Errorf("%s: head %d after the resend, want %d", w.id, rev, len(w.revs))
		}
		d.Release()
	}
	err := viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		return tx.Bucket(bucketDoc).ForEach(func(id, _ []byte) error {
			b := tx.Bucket(bucketDoc).Bucket(id)
			if b.Bucket(oldSubLog) != nil || b.Bucket(subClients) != nil || b.Get(oldKeyHead) != nil {
				t.Errorf("%s: doc/<id> still holds the earlier layout", id)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameRevision(a, b Revision) bool {
	return a.Rev == b.Rev && a.Author == b.Author && a.OpID == b.OpID && a.Time.Equal(b.Time) &&
		bytes.Equal(a.Op.AppendJSON(nil), b.Op.AppendJSON(nil))
}

// writeOldLayout moves every log bucket back into doc/<id> as the earlier
// layout kept it: doc/<id>/log for the revisions, doc/<id>["head"], and
// doc/<id>/clients for the marks.
func writeOldLayout(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = updateDB(db, func(tx *kv.Tx) error {
		err := tx.Bucket(bucketLog).ForEach(func(id, _ []byte) error {
			log := tx.Bucket(bucketLog).Bucket(id)
			doc := tx.Bucket(bucketDoc).Bucket(id)
			old, err := doc.CreateBucket(oldSubLog)
			if err != nil {
				return err
			}
			clients, err := doc.CreateBucket(subClients)
			if err != nil {
				return err
			}
			return log.ForEach(func(k, v []byte) error {
				switch {
				case isRev(k):
					return old.Put(k, bytes.Clone(v))
				case bytes.Equal(k, keyHead):
					return doc.Put(oldKeyHead, bytes.Clone(v))
				case bytes.HasPrefix(k, markPrefix):
					return clients.Put(k[len(markPrefix):], bytes.Clone(v))
				case bytes.HasPrefix(k, sessPrefix):
					return nil // the earlier layout had no edit sessions
				}
				return fmt.Errorf("unknown key %q in log/%s", k, id)
			})
		})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketLinks).Delete(keySessionsIndexed); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketLog)
	})
	if err != nil {
		t.Fatal(err)
	}
}
