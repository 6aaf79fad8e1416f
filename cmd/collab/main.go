// Command collab serves collaborative code editing: the REST API, the
// realtime WebSocket protocol and the browser editor, with documents kept
// in one bbolt file.
//
// Run it with no arguments to serve on 127.0.0.1:8080 with data in
// ./collab.db; collab -h lists every flag and its environment variable.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
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
	corsOrigins, trustedProxies     string
	tlsCert, tlsKey                 string
	shutdownWait                    time.Duration
	requestWait, keepAlive          time.Duration
	cluster                         clusterOptions
}

// envName is the environment variable of a flag: COLLAB_ and the flag's
// name in capitals, with "_" for "-" (-max-doc-bytes: COLLAB_MAX_DOC_BYTES).
func envName(flagName string) string {
	return "COLLAB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("collab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.data, "data", "collab.db", "bbolt data file")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&o.docs.MaxBytes, "max-doc-bytes", 8<<20, "largest document in bytes")
	fs.DurationVar(&o.docs.IdleTimeout, "idle-timeout", 2*time.Minute, "unload documents unused this long")
	fs.IntVar(&o.docs.SnapshotEvery, "snapshot-every", 1000, "revisions between text snapshots: a history read replays at most this many")
	fs.BoolVar(&o.docs.DirectCommits, "direct-commits", false, "commit revisions straight to the bbolt file instead of making them durable in its revision log (<data>.wal) and copying them in every second: for comparison")
	fs.DurationVar(&o.docs.CheckpointEvery, "checkpoint-every", time.Second, "how often revisions in the revision log are copied into the bbolt file")
	fs.Int64Var(&o.server.MaxMessageBytes, "max-message-bytes", 1<<20, "largest WebSocket message in bytes; a larger one closes the session (1009)")
	fs.IntVar(&o.server.SendBuffer, "send-buffer", 1<<20, "bytes queued for a slow session before it is closed")
	fs.Float64Var(&o.server.OpsPerSecond, "ops-per-second", 50, "operations per second per session (bursts of twice that)")
	fs.Float64Var(&o.server.CursorsPerSecond, "cursors-per-second", 30, "cursor updates per second per session")
	fs.IntVar(&o.server.MaxSessionsPerDoc, "sessions-per-doc", 200, "sessions per document")
	fs.DurationVar(&o.server.PingPeriod, "ping-period", 10*time.Second, "WebSocket ping interval")
	fs.DurationVar(&o.server.PongWait, "pong-wait", 25*time.Second, "drop a peer silent this long")
	fs.DurationVar(&o.server.WriteWait, "write-wait", 10*time.Second, "drop a peer that takes longer to accept one write")
	fs.IntVar(&o.server.MaxResume, "max-resume", 100_000, "revisions a reconnecting client may catch up on; one further behind gets the whole text")
	fs.IntVar(&o.server.MaxResumeBytes, "max-resume-bytes", 1<<20, "bytes of operations a reconnecting client may catch up on; beyond, it gets the whole text")
	fs.Float64Var(&o.server.ChatPerSecond, "chat-per-second", 1, "chat messages per second per session (bursts of 10); more are refused")
	fs.Float64Var(&o.server.ProfilesPerSecond, "profiles-per-second", 2, "profile changes per second per session (bursts of 10); more are refused")
	fs.IntVar(&o.server.ChatKeep, "chat-keep", 1000, "chat messages kept per document")
	fs.IntVar(&o.server.MaxChatBytes, "max-chat-bytes", 2000, "largest chat message in bytes")
	fs.Float64Var(&o.server.EventsPerSecond, "events-per-second", 20, "app events per second per session, and per document over REST (bursts of twice that); more are refused")
	fs.IntVar(&o.server.MaxEventBytes, "max-event-bytes", 8<<10, "largest app event payload, in bytes of JSON")
	fs.IntVar(&o.server.MaxUserDataBytes, "max-user-data-bytes", 1<<10, "largest app data of one client, in bytes of JSON")
	fs.Int64Var(&o.server.MaxRequestBytes, "max-request-bytes", 10<<20, "largest REST request body")
	fs.Int64Var(&o.server.GitCacheBytes, "git-cache-bytes", 256<<20, "memory kept for workspaces' git histories between clones and fetches, in bytes (estimated); the least recently used are dropped beyond it and made again when asked for")
	fs.StringVar(&o.origins, "allowed-origins", "", "comma-separated extra origins allowed to open WebSockets")
	fs.StringVar(&o.corsOrigins, "cors-origins", "", "comma-separated browser origins allowed to call /api/* (CORS), '*' for any; they may also open WebSockets; default none: no CORS headers")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose -proxy-header names the client address (for the per-address limits and logs); default none")
	fs.StringVar(&o.server.ProxyHeader, "proxy-header", server.HeaderXForwardedFor, "the header the trusted proxies set: X-Forwarded-For or Forwarded (only this one is read)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS and WSS (with -tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file of -tls-cert")
	fs.StringVar(&o.server.FrameAncestors, "frame-ancestors", "*", "CSP frame-ancestors for /embed pages, e.g. 'https://a.example https://b.example'")
	fs.StringVar(&o.server.APIToken, "api-token", "", "administrator's API token; administrative routes are refused without one (prefer the variable: flags show in ps)")
	fs.StringVar(&o.server.JWTSecret, "jwt-secret", "", "HS256 secret, at least 32 bytes, with which hosts sign tokens (JWTs) for their users; default: a key of the server's own, and only the server mints HS256 tokens (prefer the variable)")
	fs.StringVar(&o.server.JWKSURL, "jwt-jwks-url", "", "http(s) URL of a JWK Set whose RS256, ES256 and EdDSA keys sign tokens; fetched at start, cached, fetched again every -jwt-jwks-refresh and on an unknown kid (at most once a minute)")
	fs.DurationVar(&o.server.JWKSRefresh, "jwt-jwks-refresh", time.Hour, "how often the JWK Set of -jwt-jwks-url is fetched again")
	fs.StringVar(&o.server.JWTIssuer, "jwt-issuer", "", "when set, tokens must carry this iss claim (the server's own tokens get it)")
	fs.StringVar(&o.server.JWTAudience, "jwt-audience", "", "when set, the aud claim of tokens must name it (the server's own tokens get it)")
	fs.DurationVar(&o.server.JWTLeeway, "jwt-leeway", 0, "clock skew allowed when checking the exp, nbf and iat claims of tokens")
	fs.Float64Var(&o.server.ConnsPerSecond, "conn-rate", 100, "new WebSocket connections per second per client address (bursts of ten seconds' worth); more are refused with 429")
	fs.IntVar(&o.server.MaxConnsPerAddr, "conns-per-addr", 1000, "WebSocket connections per client address, -1 for no limit")
	fs.BoolVar(&o.server.Pprof, "pprof", false, "serve /debug/pprof for profiling")
	fs.DurationVar(&o.server.Hooks.Debounce, "change-debounce", time.Second, "a document's edits gather this long into one document.changed event (webhooks and event streams)")
	fs.DurationVar(&o.server.Hooks.Timeout, "webhook-timeout", 10*time.Second, "longest wait for one webhook delivery attempt")
	fs.DurationVar(&o.server.Hooks.GiveUpAfter, "webhook-give-up", 24*time.Hour, "a webhook event still failing this long after its first attempt is marked failed and its endpoint disabled")
	fs.BoolVar(&o.server.Hooks.AllowPrivate, "webhook-allow-private", false, "let webhooks go to loopback, private and link-local addresses (default: public addresses only)")
	fs.IntVar(&o.server.Hooks.MaxEndpoints, "webhooks-per-scope", 20, "webhook endpoints per workspace, and server-wide")
	fs.DurationVar(&o.docs.JournalKeep, "event-retention", 72*time.Hour, "how long events are kept for webhook retries and for event streams to resume (Last-Event-ID)")
	fs.IntVar(&o.docs.JournalMax, "event-log-max", 1_000_000, "most events kept; the oldest beyond are forgotten sooner than -event-retention")
	fs.DurationVar(&o.server.EventsHeartbeat, "events-heartbeat", 15*time.Second, "a comment on an idle event stream this often, so proxies keep it open")
	fs.DurationVar(&o.requestWait, "request-timeout", 2*time.Minute, "longest time to receive one HTTP request, headers and body (WebSocket connections keep their own deadlines: -pong-wait)")
	fs.DurationVar(&o.keepAlive, "keepalive-timeout", 2*time.Minute, "close an idle HTTP keep-alive connection after this long")
	fs.DurationVar(&o.shutdownWait, "shutdown-wait", 10*time.Second, "how long shutdown waits for requests to finish and, in a cluster, for the stream to take the last writes")
	o.cluster.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: collab [flags]\n\nServes collaborative code editing on -addr with documents in the bbolt file -data;\nwith -nats or -nats-embed, as a node of a cluster (docs/CLUSTER.md).\nEvery flag can also be set by the environment variable named after it; a flag\ngiven on the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Every flag's variable, checked like the flag, then the command line.
	if err := fromEnv(fs, getenv); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see collab -h)", fs.Args())
	}
	for _, origin := range strings.Split(o.origins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			o.server.AllowedOrigins = append(o.server.AllowedOrigins, origin)
		}
	}
	for _, origin := range strings.Split(o.corsOrigins, ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			o.server.CORSOrigins = append(o.server.CORSOrigins, origin)
		}
	}
	for _, cidr := range strings.Split(o.trustedProxies, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			a, aerr := netip.ParseAddr(cidr)
			if aerr != nil {
				return nil, fmt.Errorf("-trusted-proxies: %q is not a CIDR or an address", cidr)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		o.server.TrustedProxies = append(o.server.TrustedProxies, p.Masked())
	}
	switch o.server.ProxyHeader {
	case server.HeaderXForwardedFor, server.HeaderForwarded:
	default:
		return nil, fmt.Errorf("-proxy-header must be %s or %s, not %q", server.HeaderXForwardedFor, server.HeaderForwarded, o.server.ProxyHeader)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if err := o.cluster.check(o.data); err != nil {
		return nil, err
	}
	if err := o.server.Check(); err != nil {
		return nil, fmt.Errorf("%w (see -jwt-secret, -jwt-jwks-url)", err)
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
// commits, close the database. It prints "listening on http://ADDR" (https:// with -tls-cert) to
// stdout once it accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "recover" {
		return recoverData(args[1:], getenv, stdout, stderr, time.Now())
	}
	if len(args) > 0 && args[0] == "backup" {
		return backupData(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "migrate" {
		return migrateData(ctx, args[1:], getenv, stdout, stderr)
	}
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
	o.docs.Logger = log
	var node *clusterNode
	if o.cluster.on() {
		slog.SetDefault(log) // the Bus logs there
		if node, err = startCluster(ctx, &o.cluster, log); err != nil {
			return err
		}
		o.docs.Log, o.server.Bus = node.log, node.bus
		o.server.Hooks.Node = node.id // the webhooks' lease holder, by the name the logs use
		o.docs.Node, o.docs.Forward = node.id, node.fwd.Forward
	}
	mgr, err := docs.Open(o.data, o.docs)
	if err != nil {
		node.close()
		return err
	}
	if node != nil {
		if err := node.serve(mgr); err != nil {
			mgr.Close()
			node.close()
			return err
		}
	}
	// closeData closes the documents, then what cluster mode runs under
	// them.
	closeData := func() error {
		node.unserve()
		err := mgr.Close()
		node.close()
		return err
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			closeData()
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv := server.New(o.server, mgr, metrics, log)
	var handler http.Handler = srv
	var probe *logProbe
	if node != nil {
		probe = startProbe(node.reachable(o.cluster.stream, mgr.Sync), log)
		handler = probe.gate(srv)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		if probe != nil {
			probe.close()
		}
		srv.Close()
		closeData()
		return err
	}
	// A request's headers and body must arrive in time and an idle
	// keep-alive connection is let go; WebSocket connections, hijacked,
	// keep their own deadlines (ping and pong).
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: min(10*time.Second, o.requestWait), ReadTimeout: o.requestWait, IdleTimeout: o.keepAlive, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), TLSConfig: tlsConfig}
	// Event streams end as the shutdown begins; clients resume elsewhere.
	hs.RegisterOnShutdown(srv.CloseStreams)
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	log.Info("collab serving", "addr", ln.Addr().String(), "data", o.data, "cluster", node != nil)

	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- hs.ServeTLS(ln, "", "") // the certificate is in hs.TLSConfig
			return
		}
		serveErr <- hs.Serve(ln)
	}()
	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownWait)
	defer cancel()
	if node != nil {
		// Past the wait, the cluster's last writes (the webhooks' lease
		// and delivery state) are given up, not resent until the Log's
		// deadline: a stream without its quorum would hold the node.
		defer context.AfterFunc(sctx, node.log.Abandon)()
	}
	shutdownErr := hs.Shutdown(sctx)
	srv.Drain(sctx)
	srv.Close()
	if probe != nil {
		probe.close()
	}
	closeErr := closeData()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(shutdownErr, closeErr)
}

// fromEnv sets each flag of fs whose environment variable (envName) is
// set, checked as the flag would be, and names the variable in the flag's
// usage.
func fromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		f.Usage += " (" + name + ")"
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", name, v, err)
			}
		}
	})
	return envErr
}
