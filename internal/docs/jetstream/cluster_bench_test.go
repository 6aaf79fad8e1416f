package jetstream

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
)

// BenchmarkNodesClosedLoop: 10 documents, 5 writers each spread over
// three nodes, every writer waiting for its edit's acknowledgement before
// the next (a realtime client), for b.N edits in all.
func BenchmarkNodesClosedLoop(b *testing.B) {
	logs, _ := cluster(b)
	ms := nodes(b, logs)
	const ndocs, writers = 10, 5
	var ids []string
	for i := range ndocs {
		meta, err := ms[i%3].Create(docs.CreateParams{Name: fmt.Sprintf("f%d.txt", i), Text: "x"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, ndocs*writers)
	b.ResetTimer()
	start := time.Now()
	for i, id := range ids {
		for k := range writers {
			m := ms[(i+k)%3]
			d, err := m.Open(id)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer d.Release()
				rng := rand.New(rand.NewPCG(uint64(i), uint64(k)))
				client := fmt.Sprintf("w%d-%d", i, k)
				for n := 1; left.Add(-1) >= 0; n++ {
					if err := typeInto1(d, client, n, rng); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "edits/s")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkFreshNode: a document of 100,000 revisions (typing-sized, in
// runs of 100 as group commits make them) is in the Log; a node with an
// empty replica starts (it applies the whole Log) and opens it.
func BenchmarkFreshNode(b *testing.B) {
	logs, _ := cluster(b)
	ms := nodes(b, logs[:1])
	meta, err := ms[0].Create(docs.CreateParams{Name: "big.txt", Text: "x"})
	if err != nil {
		b.Fatal(err)
	}
	const revs, per = 100_000, 100
	rng := rand.New(rand.NewPCG(1, 2))
	for first := uint64(2); first <= revs; first += per {
		batch := make([]docs.Revision, min(per, revs+1-int(first)))
		for i := range batch {
			rev := first + uint64(i)
			size := int(rev - 1) // the text before it: "x" and a letter a revision
			pos := rng.IntN(size + 1)
			batch[i] = docs.Revision{Rev: rev, Op: *new(ot.Operation).Retain(pos).Insert("a").Retain(size - pos), Author: "bench", Time: time.Now()}
		}
		run := docs.NewRun(meta.ID, batch)
		if err := logs[1].Append([]docs.Run{run})[0]; err != nil {
			b.Fatal(err)
		}
	}
	if err := ms[0].Sync(); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		m, err := docs.Open(fmt.Sprintf("%s/fresh%d.db", dir, i), docs.Config{Log: logs[2]})
		if err != nil {
			b.Fatal(err)
		}
		caught := time.Since(start)
		start = time.Now()
		d, err := m.Open(meta.ID)
		if err != nil {
			b.Fatal(err)
		}
		opened := time.Since(start)
		_, rev, _ := d.Text()
		d.Release()
		m.Close()
		if rev != revs {
			b.Fatalf("at %d, want %d", rev, revs)
		}
		b.ReportMetric(caught.Seconds()*1000, "ms-catch-up")
		b.ReportMetric(float64(opened.Microseconds())/1000, "ms-open")
	}
}
