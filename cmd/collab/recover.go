package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/collab-editor/collab/internal/docs"
)

// recoverData runs "collab recover": it repairs the data files the server
// refused to start with (a damaged collab.db, a damaged revision log, or
// the two from different moments), keeping the damaged ones beside the
// repaired ones, and prints what it kept and what it lost. The server must
// be stopped. See docs/OPERATIONS.md.
func recoverData(args []string, getenv func(string) string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("collab recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "collab.db", "bbolt data file to repair; its revision log is <data>.wal")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: collab recover [-data collab.db]

Repairs the data files after the server refused to start on them. A damaged
bbolt file is salvaged, document by document, into a new one; the old one is
kept as <data>.damaged-<time>. A revision log that does not open with it is
kept as <data>.wal.damaged-<time>, and every whole record in it is replayed
where it fits. Every document lost, byte range skipped and revision that does
not fit is printed. Stop the server first.

Flags:
`)
		fs.PrintDefaults()
	}
	if v := getenv(envName("data")); v != "" {
		*data = v
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see collab recover -h)", fs.Args())
	}
	if err := docs.Recover(*data, stdout, now); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: start the server on %s again\n", *data)
	return nil
}
