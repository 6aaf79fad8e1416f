// Command collab serves collaborative code editing: the REST API, the
// realtime WebSocket protocol and the browser editor, with documents kept
// in one bbolt file.
//
// Run it with no arguments to serve on 127.0.0.1:8080 with data in
// ./collab.db; collab -h lists every flag and its environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "collab:", err)
		os.Exit(1)
	}
}

// options are the command's settings; each flag has an environment
// variable, and a flag given on the command line wins.
type options struct {
	addr, data, logFormat, logLevel string
	server                          server.Config
	docs                            docs.Config
	origins                         string
	shutdownWait                    time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("collab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		if n, err := strconv.Atoi(getenv(name)); err == nil {
			return n
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(name)); err == nil {
			return d
		}
		return def
	}
	envFloat := func(name string, def float64) float64 {
		if f, err := strconv.ParseFloat(getenv(name), 64); err == nil {
			return f
		}
		return def
	}
	fs.StringVar(&o.addr, "addr", env("COLLAB_ADDR", "127.0.0.1:8080"), "listen address (COLLAB_ADDR)")
	fs.StringVar(&o.data, "data", env("COLLAB_DATA", "collab.db"), "bbolt data file (COLLAB_DATA)")
	fs.StringVar(&o.logFormat, "log-format", env("COLLAB_LOG_FORMAT", "text"), "log format: text or json (COLLAB_LOG_FORMAT)")
	fs.StringVar(&o.logLevel, "log-level", env("COLLAB_LOG_LEVEL", "info"), "log level: debug, info, warn, error (COLLAB_LOG_LEVEL)")
	fs.IntVar(&o.docs.MaxBytes, "max-doc-bytes", envInt("COLLAB_MAX_DOC_BYTES", 8<<20), "largest document in bytes (COLLAB_MAX_DOC_BYTES)")
	fs.DurationVar(&o.docs.IdleTimeout, "idle-timeout", envDur("COLLAB_IDLE_TIMEOUT", 2*time.Minute), "unload documents unused this long (COLLAB_IDLE_TIMEOUT)")
	fs.IntVar(&o.docs.SnapshotEvery, "snapshot-every", envInt("COLLAB_SNAPSHOT_EVERY", 500), "revisions between text snapshots (COLLAB_SNAPSHOT_EVERY)")
	fs.DurationVar(&o.docs.CommitInterval, "commit-interval", envDur("COLLAB_COMMIT_INTERVAL", 0), "least time between two group commits: more edits share an fsync, each waits up to this long (COLLAB_COMMIT_INTERVAL)")
	var maxMsg int
	fs.IntVar(&maxMsg, "max-message-bytes", envInt("COLLAB_MAX_MESSAGE_BYTES", 1<<20), "largest WebSocket message in bytes (COLLAB_MAX_MESSAGE_BYTES)")
	fs.IntVar(&o.server.SendBuffer, "send-buffer", envInt("COLLAB_SEND_BUFFER", 1<<20), "bytes queued for a slow session before it is closed (COLLAB_SEND_BUFFER)")
	fs.Float64Var(&o.server.OpsPerSecond, "ops-per-second", envFloat("COLLAB_OPS_PER_SECOND", 50), "operations per second per session (COLLAB_OPS_PER_SECOND)")
	fs.Float64Var(&o.server.CursorsPerSecond, "cursors-per-second", envFloat("COLLAB_CURSORS_PER_SECOND", 30), "cursor updates per second per session (COLLAB_CURSORS_PER_SECOND)")
	fs.IntVar(&o.server.MaxSessionsPerDoc, "sessions-per-doc", envInt("COLLAB_SESSIONS_PER_DOC", 200), "sessions per document (COLLAB_SESSIONS_PER_DOC)")
	fs.DurationVar(&o.server.PingPeriod, "ping-period", envDur("COLLAB_PING_PERIOD", 10*time.Second), "WebSocket ping interval (COLLAB_PING_PERIOD)")
	fs.DurationVar(&o.server.PongWait, "pong-wait", envDur("COLLAB_PONG_WAIT", 25*time.Second), "drop a peer silent this long (COLLAB_PONG_WAIT)")
	var maxReq int
	fs.IntVar(&maxReq, "max-request-bytes", envInt("COLLAB_MAX_REQUEST_BYTES", 10<<20), "largest REST request body (COLLAB_MAX_REQUEST_BYTES)")
	fs.StringVar(&o.origins, "allowed-origins", env("COLLAB_ALLOWED_ORIGINS", ""), "comma-separated extra origins allowed to open WebSockets (COLLAB_ALLOWED_ORIGINS)")
	fs.StringVar(&o.server.FrameAncestors, "frame-ancestors", env("COLLAB_FRAME_ANCESTORS", "*"), "CSP frame-ancestors for /embed pages (COLLAB_FRAME_ANCESTORS)")
	fs.StringVar(&o.server.APIToken, "api-token", "", "administrator's API token; administrative routes are refused without one (COLLAB_API_TOKEN; prefer the variable: flags show in ps)")
	fs.IntVar(&o.server.MaxConnsPerAddr, "conns-per-addr", envInt("COLLAB_CONNS_PER_ADDR", 1000), "WebSocket connections per client address, -1 for no limit (COLLAB_CONNS_PER_ADDR)")
	fs.BoolVar(&o.server.Pprof, "pprof", getenv("COLLAB_PPROF") == "1", "serve /debug/pprof for profiling (COLLAB_PPROF=1)")
	fs.DurationVar(&o.shutdownWait, "shutdown-wait", envDur("COLLAB_SHUTDOWN_WAIT", 10*time.Second), "how long shutdown waits for requests to finish (COLLAB_SHUTDOWN_WAIT)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: collab [flags]\n\nServes collaborative code editing on -addr with documents in the bbolt file -data.\nEvery flag can also be set by the environment variable named after it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see collab -h)", fs.Args())
	}
	if o.server.APIToken == "" {
		o.server.APIToken = getenv("COLLAB_API_TOKEN")
	}
	o.server.MaxMessageBytes = int64(maxMsg)
	o.server.MaxRequestBytes = int64(maxReq)
	for _, origin := range strings.Split(o.origins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			o.server.AllowedOrigins = append(o.server.AllowedOrigins, origin)
		}
	}
	return o, nil
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, not %q", format)
}

// run serves until ctx is done, then shuts down gracefully: stop accepting,
// close WebSocket sessions with 1001 (going away), finish in-flight
// commits, close the database. It prints "listening on http://ADDR" to
// stdout once it accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(o.logFormat, o.logLevel, stderr)
	if err != nil {
		return err
	}
	metrics := server.NewMetrics()
	o.docs.OnCommit = metrics.ObserveCommit
	mgr, err := docs.Open(o.data, o.docs)
	if err != nil {
		return err
	}
	srv := server.New(o.server, mgr, metrics, log)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		mgr.Close()
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	log.Info("collab serving", "addr", ln.Addr().String(), "data", o.data)

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownWait)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	srv.Drain(sctx)
	closeErr := mgr.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(shutdownErr, closeErr)
}
