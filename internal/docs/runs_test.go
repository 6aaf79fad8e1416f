package docs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/collab-editor/collab/internal/ot"
)

// runLog is a Log that takes at most most bytes an entry and records the
// runs of each Append; refuse, if set, fails a document's runs. Only
// Append and MaxAppend are used.
type runLog struct {
	Log
	most   int
	calls  [][]Run
	refuse map[string]error
}

func (l *runLog) MaxAppend() int { return l.most }

func (l *runLog) Append(runs []Run) []error {
	l.calls = append(l.calls, append([]Run(nil), runs...))
	errs := make([]error, len(runs))
	for i, r := range runs {
		errs[i] = l.refuse[r.Doc]
	}
	return errs
}

// revisionWrites makes n revisions of d, from revision 1, each inserting
// 30 bytes.
func revisionWrites(d *Document, n int) []*write {
	var ws []*write
	for i := 1; i <= n; i++ {
		r := Revision{Rev: uint64(i), Op: *new(ot.Operation).Insert(strings.Repeat("x", 30))}
		rec, _ := encodeRecord(r)
		ws = append(ws, &write{doc: d, rev: r, prep: prepared{rec: rec}})
	}
	return ws
}

// twoFit is a MaxAppend that takes two of revisionWrites' records in a run
// and not three.
func twoFit(ws []*write) int {
	return 2*len(ws[0].prep.rec) + binary.MaxVarintLen64 + 1
}

// A group commit's revisions of one document that one entry of the Log
// cannot carry go in several runs, appended one after the other, each
// once the one before is stored.
func TestRunsFitTheLog(t *testing.T) {
	a, b := &Document{id: "a"}, &Document{id: "b"}
	var batch []*write
	wa, wb := revisionWrites(a, 5), revisionWrites(b, 2)
	batch = append(batch, wa[:3]...)
	batch = append(batch, wb...)
	batch = append(batch, wa[3:]...)
	log := &runLog{most: twoFit(wa)}
	c := &committer{store: &Store{byDoc: map[string][]*write{}}}
	(&clusterLog{log: log}).appendRuns(c, batch)

	var got []string
	for i, call := range log.calls {
		for _, r := range call {
			if len(r.Body) > log.most {
				t.Errorf("append %d: run of %q takes %d bytes, more than %d", i, r.Doc, len(r.Body), log.most)
			}
			revs, _, err := decodeRun(r)
			if err != nil || len(revs) != r.Count {
				t.Fatalf("append %d: run of %q does not decode: %v", i, r.Doc, err)
			}
			got = append(got, fmt.Sprintf("%d:%s%d-%d", i, r.Doc, r.First, r.Last()))
		}
	}
	if want := "[0:a1-2 0:b1-2 1:a3-4 2:a5-5]"; fmt.Sprint(got) != want {
		t.Errorf("appends %v, want %v", got, want)
	}
	for _, w := range batch {
		if w.err != nil {
			t.Errorf("revision %d of %q: %v", w.rev.Rev, w.doc.id, w.err)
		}
	}
	if n := len(c.store.byDoc["a"]); n != 5 {
		t.Errorf("%d of a's revisions pending in the store, want 5", n)
	}
	for i, w := range c.store.byDoc["a"] {
		if w.rev.Rev != uint64(i+1) {
			t.Fatalf("a's revisions pending out of order: %d at %d", w.rev.Rev, i)
		}
	}
}

// When a run is refused, the document's revisions after it fail the same
// way, unsent; other documents go on.
func TestRunsAfterARefusalFail(t *testing.T) {
	a, b := &Document{id: "a"}, &Document{id: "b"}
	wa, wb := revisionWrites(a, 4), revisionWrites(b, 4)
	moved := &ConflictError{Doc: "a", Head: 7}
	log := &runLog{most: twoFit(wa), refuse: map[string]error{"a": moved}}
	c := &committer{store: &Store{byDoc: map[string][]*write{}}}
	(&clusterLog{log: log}).appendRuns(c, append(append([]*write(nil), wa...), wb...))

	if len(log.calls) != 2 {
		t.Fatalf("%d appends, want 2 (b's second run only after the first)", len(log.calls))
	}
	for _, r := range log.calls[1] {
		if r.Doc == "a" {
			t.Fatalf("a's revisions %d to %d sent after its first run was refused", r.First, r.Last())
		}
	}
	for _, w := range wa {
		if !errors.Is(w.err, ErrConflict) {
			t.Errorf("a's revision %d: %v, want the refusal", w.rev.Rev, w.err)
		}
	}
	for _, w := range wb {
		if w.err != nil {
			t.Errorf("b's revision %d: %v", w.rev.Rev, w.err)
		}
	}
}
