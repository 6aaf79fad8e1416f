package docs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/kv"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/rope"
)

// sessionHistory is a 100,000-revision document whose edits come in
// sessions: bursts of typing by one author at a time, a few seconds to a
// few minutes apart, and pauses of ten minutes to hours between sessions.
var sessionHistory struct {
	once     sync.Once
	dir      string
	m        *Manager
	id       string
	n        uint64
	sessions int
	err      error
}

func sharedSessionHistory(b *testing.B) (*Manager, string) {
	h := &sessionHistory
	h.once.Do(func() {
		start := time.Now()
		if h.dir, h.err = os.MkdirTemp("", "docs-sessions-"); h.err != nil {
			return
		}
		h.n = 100_000
		h.m, h.id, h.sessions, h.err = buildSessionHistory(filepath.Join(h.dir, "s.db"), h.n)
		if h.err == nil {
			b.Logf("built a document of %d revisions in %d edit sessions in %v", h.n, h.sessions, time.Since(start).Round(time.Millisecond))
		}
	})
	if h.err != nil {
		b.Fatal(h.err)
	}
	return h.m, h.id
}

func closeSessionHistory() {
	if sessionHistory.m != nil {
		sessionHistory.m.Close()
	}
	if sessionHistory.dir != "" {
		os.RemoveAll(sessionHistory.dir)
	}
}

// buildSessionHistory writes the history straight into the log, in large
// transactions, with the line counts of every closed session that the
// session indexer would have kept.
func buildSessionHistory(path string, n uint64) (*Manager, string, int, error) {
	m, err := Open(path, Config{})
	if err != nil {
		return nil, "", 0, err
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var lines []string
	for len(lines) < 800 {
		lines = append(lines, codeLine(rng))
	}
	meta, err := m.Create(CreateParams{Name: "s.go", Text: strings.Join(lines, ""), Author: "alice"})
	if err != nil {
		m.Close()
		return nil, "", 0, err
	}
	text := rope.New(strings.Join(lines, ""))
	authors := []string{"alice", "bob", "carol", "dave", "erin"}
	clock := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	rev := uint64(1)
	var (
		burst    []ot.Operation
		author   string
		first    uint64 = 1 // the open session's first revision
		before   string     // the text before it
		sessions = 1
		last     = clock // the previous revision's time
	)
	// newBurst is the edits of one author between pauses: a word typed,
	// a line pasted or deleted.
	newBurst := func() {
		author = authors[rng.IntN(len(authors))]
		s := text.String()
		ls := strings.SplitAfter(s, "\n")
		k := rng.IntN(len(ls))
		at := len([]rune(strings.Join(ls[:k], "")))
		size := text.Len()
		switch r := rng.IntN(10); {
		case r < 7: // type a word
			col := rng.IntN(len([]rune(ls[k])) + 1)
			if col == len([]rune(ls[k])) && strings.HasSuffix(ls[k], "\n") {
				col--
			}
			for i, c := range []string{"v", "a", "l", "u", "e", "+", "1"}[:1+rng.IntN(7)] {
				burst = append(burst, *new(ot.Operation).Retain(at + col + i).Insert(c).Retain(size - at - col))
			}
		case r < 9: // paste a line
			burst = append(burst, *new(ot.Operation).Retain(at).Insert(codeLine(rng)).Retain(size - at))
		default: // delete a line
			if l := len([]rune(ls[k])); l > 0 && size > l {
				burst = append(burst, *new(ot.Operation).Retain(at).Delete(l).Retain(size - at - l))
			}
		}
	}
	for rev < n {
		err := updateDB(m.store.db, func(tx *kv.Tx) error {
			cache, err := tx.Bucket(bucketDoc).Bucket([]byte(meta.ID)).CreateBucketIfNotExists(subSessLines)
			if err != nil {
				return err
			}
			for range 10_000 {
				if rev == n {
					return nil
				}
				for len(burst) == 0 {
					// Between bursts: a pause, sometimes long enough to
					// end the session.
					if rng.IntN(10) < 3 {
						clock = clock.Add(10*time.Minute + time.Duration(rng.Int64N(int64(3*time.Hour))))
					} else {
						clock = clock.Add(5*time.Second + time.Duration(rng.Int64N(int64(4*time.Minute))))
					}
					newBurst()
				}
				clock = clock.Add(300 * time.Millisecond)
				if clock.Sub(last) > SessionGap {
					// The open session closes: keep its counts.
					a, r := countLines(before, text.String())
					if err := cache.Put(revKey(first), lineCounts{last: rev, added: a, removed: r}.encode()); err != nil {
						return err
					}
					first, before = rev+1, text.String()
					sessions++
				}
				last = clock
				op := burst[0]
				burst = burst[1:]
				if text, err = op.ApplyRope(text); err != nil {
					return err
				}
				rev++
				r := Revision{Rev: rev, Op: op, Author: author, OpID: fmt.Sprintf("%s-tab:%d", author, rev), Time: clock}
				if err := m.store.appendRevision(tx, meta.ID, r, text); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			m.Close()
			return nil, "", 0, err
		}
	}
	return m, meta.ID, sessions, nil
}

// BenchmarkSessions lists a 100,000-revision document's edit sessions,
// fifty a page: the newest page (whose open session is diffed for its line
// counts each time), a page from a random revision, and a random page
// without the counts the session indexer keeps (each of its fifty
// sessions diffed).
func BenchmarkSessions(b *testing.B) {
	m, id := sharedSessionHistory(b)
	const limit = 50
	b.Run("newest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ss, err := m.Sessions(id, 0, limit); err != nil || len(ss) != limit {
				b.Fatal(len(ss), err)
			}
		}
	})
	rng := rand.New(rand.NewPCG(13, 14))
	page := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ss, err := m.Sessions(id, 2+rng.Uint64N(sessionHistory.n), limit); err != nil || len(ss) == 0 {
				b.Fatal(len(ss), err)
			}
		}
	}
	b.Run("page", page)
	b.Run("page-uncounted", func(b *testing.B) {
		// Set the counts aside for the run, and put them back.
		var kept map[string][]byte
		move := func(fill bool) {
			err := updateDB(m.store.db, func(tx *kv.Tx) error {
				doc := tx.Bucket(bucketDoc).Bucket([]byte(id))
				if !fill {
					kept = map[string][]byte{}
					doc.Bucket(subSessLines).ForEach(func(k, v []byte) error {
						kept[string(k)] = append([]byte(nil), v...)
						return nil
					})
					return doc.DeleteBucket(subSessLines)
				}
				cache, err := doc.CreateBucket(subSessLines)
				for k, v := range kept {
					if err == nil {
						err = cache.Put([]byte(k), v)
					}
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		move(false)
		defer move(true)
		page(b)
	})
}
