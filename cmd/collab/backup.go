package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// backupData runs "collab backup": it asks a running server for a
// consistent copy of its store (GET /api/admin/backup, with the API token:
// the server holds the data file's lock) and writes it to -o through a
// temporary file, synced, checked and renamed, so that FILE is either the
// whole copy or untouched. See docs/OPERATIONS.md, "Backup and restore".
func backupData(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collab backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "file to write the copy to (required); written as <file>.tmp, then renamed")
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the running server ("+envName("url")+")")
	token := fs.String("token", "", "the server's API token (prefer the variable "+envName("api-token")+": flags show in ps)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: collab backup -o FILE [-url URL] [-token TOKEN]

Copies the whole store of a running server into FILE while edits go on: every
edit acknowledged before the backup started is in it. FILE is a complete
collab.db. To restore: stop the server, put FILE in place as collab.db,
delete collab.db.wal, start the server.

Flags:
`)
		fs.PrintDefaults()
	}
	if v := getenv(envName("url")); v != "" {
		*url = v
	}
	if v := getenv(envName("api-token")); v != "" {
		*token = v
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see collab backup -h)", fs.Args())
	}
	if *out == "" {
		return errors.New("collab backup: -o FILE is required (see collab backup -h)")
	}
	if *token == "" {
		return fmt.Errorf("collab backup: the API token is required: set %s or -token", envName("api-token"))
	}
	start := time.Now()
	n, err := fetchBackup(ctx, strings.TrimSuffix(*url, "/")+"/api/admin/backup", *token, *out)
	if err != nil {
		return fmt.Errorf("collab backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup: wrote %d bytes to %s in %s\n", n, *out, time.Since(start).Round(time.Millisecond))
	return nil
}

// fetchBackup downloads the copy into path+".tmp", syncs it, checks that
// it is a whole bbolt file, and renames it to path.
func fetchBackup(ctx context.Context, url, token, path string) (n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return 0, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// A body shorter than its Content-Length (the server failed halfway)
	// is an error here.
	if n, err = io.Copy(f, resp.Body); err != nil {
		return n, fmt.Errorf("reading the copy: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("the copy is %d bytes, the server announced %d", n, resp.ContentLength)
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	if err = checkBolt(tmp); err != nil {
		return n, fmt.Errorf("the copy in %s is not a sound database file: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return n, err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return n, err
	}
	defer d.Close()
	return n, d.Sync()
}

// checkBolt opens path read-only and checks every page of it.
func checkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
