// Command fsyncprobe measures the disk under a data directory the way
// collab's revision log uses it: it appends a record to a file and
// fdatasyncs it, at a steady pace, and prints the latency percentiles of
// those durable appends. Every acknowledged edit waits for one of them,
// so a stall here (a virtual disk that now and then takes 100 ms) is a
// stall of every edit that arrives meanwhile: run it beside a load run to
// tell the disk's tail from the server's.
//
//	go run ./tools/fsyncprobe -dir . -duration 20s
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/collab-editor/collab/internal/fsync"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the disk to measure")
	duration := flag.Duration("duration", 10*time.Second, "how long to measure")
	every := flag.Duration("every", 4*time.Millisecond, "pause between appends (group commits at 2,000 edits/s come every 4-5 ms)")
	size := flag.Int("size", 1536, "bytes per append (a commit of several typing edits)")
	flag.Parse()
	lat, err := probe(*dir, *duration, *every, *size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsyncprobe:", err)
		os.Exit(1)
	}
	fmt.Println(summary(lat))
}

// probe appends size bytes and syncs them every pause for d, in a
// temporary file under dir, and returns each append's latency, sorted.
func probe(dir string, d, pause time.Duration, size int) ([]time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsyncprobe-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, size)
	var lat []time.Duration
	var off int64
	for end := time.Now().Add(d); time.Now().Before(end) || len(lat) == 0; {
		start := time.Now()
		if _, err := f.WriteAt(rec, off); err != nil {
			return nil, err
		}
		if err := fsync.Data(f); err != nil {
			return nil, fmt.Errorf("sync %s: %w", filepath.Base(f.Name()), err)
		}
		lat = append(lat, time.Since(start))
		off += int64(size)
		time.Sleep(pause)
	}
	slices.Sort(lat)
	return lat, nil
}

// summary is one line of percentiles of sorted latencies.
func summary(lat []time.Duration) string {
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("%d durable appends: p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms",
		len(lat), ms(q(0.5)), ms(q(0.99)), ms(q(0.999)), ms(lat[len(lat)-1]))
}
