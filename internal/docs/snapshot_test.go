package docs

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/collab-editor/collab/internal/kv"
)

// writeSnapshotted makes a document of SnapshotEvery 3 and submits four
// edits to it (a snapshot at revision 3), returning its id and text.
func writeSnapshotted(t *testing.T, m *Manager) (string, string) {
	t.Helper()
	text := strings.Repeat("func f() { return 42 }\n", 50)
	meta, d := createOpen(t, m, CreateParams{Name: "a.go", Text: text})
	for i := range 4 {
		n := utf8.RuneCountInString(text)
		if _, err := d.Submit(Edit{Base: uint64(i + 1), Op: insertAt(n, n, "// é\n")}); err != nil {
			t.Fatal(err)
		}
		text += "// é\n"
	}
	return meta.ID, text
}

// snapshotBytes returns the stored snapshot of a document at rev.
func snapshotBytes(t *testing.T, m *Manager, id string, rev uint64) []byte {
	t.Helper()
	var v []byte
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketDoc).Bucket([]byte(id)).Bucket(subSnap).Get(revKey(rev)))
		return nil
	})
	if v == nil {
		t.Fatalf("no snapshot at %d", rev)
	}
	return v
}

// TestSnapshotsCompressed: a new file stores snapshots compressed, and
// reading any revision back gives the text.
func TestSnapshotsCompressed(t *testing.T) {
	m := openTest(t, Config{SnapshotEvery: 3})
	id, text := writeSnapshotted(t, m)
	at3, err := m.TextAt(id, 3)
	if err != nil {
		t.Fatal(err)
	}
	if v := snapshotBytes(t, m, id, 3); len(v) >= at3.ByteLen() {
		t.Fatalf("snapshot of %d bytes stored in %d", at3.ByteLen(), len(v))
	}
	if got, err := m.TextAt(id, 5); err != nil || got.String() != text {
		t.Fatalf("text at 5: %v, %q", err, got.String())
	}
}

// TestSnapshotsOfAnOlderFile: a file with documents and no snapshot
// format predates compressed snapshots; it goes on storing plain ones and
// reads them back.
func TestSnapshotsOfAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	m := openAt(t, path, Config{SnapshotEvery: 3})
	meta, err := m.Create(CreateParams{Name: "a.txt", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// As an older version left it: no format setting.
	if err := m.Do(func(tx *kv.Tx) error { return tx.Bucket(bucketLinks).Delete(keySnapFormat) }); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m = openAt(t, path, Config{SnapshotEvery: 3})
	if m.Store().zenc != nil {
		t.Fatal("an older file was taken for one with compressed snapshots")
	}
	id, text := writeSnapshotted(t, m)
	at3, _ := m.TextAt(id, 3)
	if v := snapshotBytes(t, m, id, 3); string(v) != at3.String() {
		t.Fatalf("an older file's snapshot is not plain text: %q", v)
	}
	if got, err := m.TextAt(id, 5); err != nil || got.String() != text {
		t.Fatalf("text at 5: %v, %q", err, got.String())
	}
	if got, err := m.TextAt(meta.ID, 1); err != nil || got.String() != "x" {
		t.Fatalf("the first document: %v, %q", err, got.String())
	}
}

// TestSnapshotsOfABigText: a text longer than SnapshotEvery*256 bytes is
// snapshotted once per 256 bytes of it in revisions instead, across a
// restart too, and every revision still reads back.
func TestSnapshotsOfABigText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.db")
	cfg := Config{SnapshotEvery: 3}
	m := openAt(t, path, cfg)
	text := strings.Repeat("x", 2560) // 10 revisions of snapshot interval
	meta, err := m.Create(CreateParams{Name: "big.txt", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"", text}
	edit := func(m *Manager, to uint64) {
		d, err := m.Open(meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		for rev := uint64(len(texts)); rev <= to; rev++ {
			if _, err := d.Submit(Edit{Base: rev - 1, Op: insertAt(len(text), 0, "y")}); err != nil {
				t.Fatal(err)
			}
			text = "y" + text
			texts = append(texts, text)
		}
	}
	edit(m, 15)
	m.Close()
	m = openAt(t, path, cfg)
	edit(m, 27)
	var snaps []uint64
	viewDB(m.Store().DB(), func(tx *kv.Tx) error {
		return tx.Bucket(bucketDoc).Bucket([]byte(meta.ID)).Bucket(subSnap).ForEach(func(k, _ []byte) error {
			snaps = append(snaps, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	// 3: the first interval knows no size yet; then every 2563/256 = 10.
	if want := []uint64{0, 3, 13, 23}; !slices.Equal(snaps, want) {
		t.Fatalf("snapshots at %v, want %v", snaps, want)
	}
	for rev, want := range texts {
		if got, err := m.TextAt(meta.ID, uint64(rev)); err != nil || got.String() != want {
			t.Fatalf("text at %d: %v, %d bytes, want %d", rev, err, got.ByteLen(), len(want))
		}
	}
}
