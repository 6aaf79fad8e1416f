package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/nats-io/nats.go"
)

// migrateData runs "collab migrate": it copies a single-node database
// into the JetStream stream of a new cluster, from which the cluster's
// nodes then start (see docs/CLUSTER.md). The server must be stopped.
func migrateData(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collab migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "collab.db", "the single-node bbolt data file to copy; its revision log is <data>.wal")
	urls := fs.String("nats", "", "comma-separated nats:// or tls:// URLs of the cluster's NATS servers, with JetStream (required; user:password@ in a URL logs in)")
	creds := fs.String("nats-creds", "", "NATS credentials file (.creds: a user JWT and its nkey seed)")
	stream := fs.String("nats-stream", "COLLAB", "the JetStream stream of the cluster's documents, as the nodes will use it; it must be empty, and is created if missing")
	replicas := fs.Int("nats-replicas", 3, "servers keeping each message of the stream, if this command creates it; 1 for a single server")
	wait := fs.Duration("nats-wait", time.Minute, "how long to wait for the stream to be found or created")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: collab migrate -nats URLS [-data collab.db] [-nats-creds FILE] [-nats-stream COLLAB] [-nats-replicas 3]

Copies a single-node database into a new cluster: every document with its
whole history, the workspaces, links, trash, labels, chat, author profiles,
events, webhooks and the server's own keys, so that links, handles and tokens
keep working. The stream must be empty: run it before any node starts on the
cluster. Stop the server first; the data file is left as it was (its revision
log replayed into it), a backup of the moment of the migration. Then start
the nodes with -nats, each with a new data file. See docs/CLUSTER.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fromEnv(fs, getenv); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see collab migrate -h)", fs.Args())
	}
	if *urls == "" {
		return errors.New("collab migrate: -nats URLS is required (see collab migrate -h)")
	}
	opts := []nats.Option{nats.Name("collab migrate")}
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(*urls, opts...)
	if err != nil {
		return fmt.Errorf("collab migrate: NATS %s: %w", *urls, err)
	}
	defer nc.Close()
	octx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	log, err := jetstream.Open(octx, nc, jetstream.Config{Stream: *stream, Replicas: *replicas})
	if err != nil {
		return fmt.Errorf("collab migrate: %w", err)
	}
	start := time.Now()
	if err := docs.Migrate(*data, log, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done in %v: start the cluster's nodes on stream %s\n", time.Since(start).Round(time.Millisecond), *stream)
	return nil
}
