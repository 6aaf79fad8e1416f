package jetstream

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
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
