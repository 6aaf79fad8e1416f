package main

// Cluster mode (docs/CLUSTER.md): with -nats the node joins a NATS
// cluster with JetStream; with -nats-embed it runs a NATS server of its
// own, and the nodes' servers form the cluster among themselves. Either
// way the node opens the cluster's Log on a JetStream stream (package
// docs/jetstream), which puts its documents in cluster mode, and shares
// its rooms with the other nodes over a roombus.Bus. Without either flag
// none of this runs.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/collab-editor/collab/internal/roombus"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// clusterOptions are the cluster flags.
type clusterOptions struct {
	urls                    string // -nats
	creds, nkey             string
	tlsCA, tlsCert, tlsKey  string
	name                    string
	embed                   bool
	serverName, clusterName string
	listen, clusterListen   string
	routes, store           string
	syncAlways              bool
	stream                  string
	replicas                int
	wait                    time.Duration

	// server is the embedded server's configuration, made by check.
	server natsembed.Config
}

// on reports whether the node runs in cluster mode.
func (c *clusterOptions) on() bool { return c.urls != "" || c.embed }

func (c *clusterOptions) register(fs *flag.FlagSet) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "collab"
	}
	fs.StringVar(&c.urls, "nats", "", "cluster mode: comma-separated nats:// or tls:// URLs of a NATS cluster with JetStream to join (user:password@ in a URL logs in); see docs/CLUSTER.md")
	fs.StringVar(&c.creds, "nats-creds", "", "NATS credentials file (.creds: a user JWT and its nkey seed), with -nats")
	fs.StringVar(&c.nkey, "nats-nkey", "", "file holding the NATS user's nkey seed, with -nats")
	fs.StringVar(&c.tlsCA, "nats-tls-ca", "", "PEM CA certificates that signed the NATS servers' certificates (default the system's), with -nats")
	fs.StringVar(&c.tlsCert, "nats-tls-cert", "", "PEM client certificate for NATS servers that ask for one (with -nats-tls-key), with -nats")
	fs.StringVar(&c.tlsKey, "nats-tls-key", "", "PEM private key of -nats-tls-cert")
	fs.StringVar(&c.name, "nats-name", "collab-"+host, "the NATS connection's name, as the servers' monitoring shows it")
	fs.BoolVar(&c.embed, "nats-embed", false, "cluster mode: run a NATS server with JetStream in this process; the nodes' servers form the cluster among themselves (-nats-routes); see docs/CLUSTER.md")
	fs.StringVar(&c.serverName, "nats-server-name", host, "the embedded NATS server's name, unique in the cluster")
	fs.StringVar(&c.clusterName, "nats-cluster-name", "collab", "the embedded NATS servers' cluster name, the same on every node")
	fs.StringVar(&c.listen, "nats-listen", "127.0.0.1:4222", "the embedded NATS server's client address (the node connects to it there)")
	fs.StringVar(&c.clusterListen, "nats-cluster-listen", "0.0.0.0:6222", "the embedded NATS server's route address, where the other nodes' servers connect")
	fs.StringVar(&c.routes, "nats-routes", "", "comma-separated nats-route://host:port of every node's embedded server, this one's included (the same list on every node); default none: one server alone")
	fs.StringVar(&c.store, "nats-store", "", "directory of the embedded server's JetStream files (default <data>.nats)")
	fs.BoolVar(&c.syncAlways, "nats-sync-always", false, "the embedded server fsyncs every write before acknowledging it; default: a quorum holds it in memory and each server fsyncs every 2 minutes (see docs/CLUSTER.md)")
	fs.StringVar(&c.stream, "nats-stream", "COLLAB", "the JetStream stream of the cluster's documents, the same on every node")
	fs.IntVar(&c.replicas, "nats-replicas", 3, "servers keeping each message of the stream when this node creates it (a majority acknowledges each write); 1 for a single server")
	fs.DurationVar(&c.wait, "nats-wait", time.Minute, "how long the node waits at start for the NATS cluster and its stream before giving up")
}

// embedMaxPayload is the embedded servers' largest message, which bounds
// one edit, or a new document's text, in a cluster (see
// jetstream.Log.MaxAppend): NATS's largest without a warning, where its
// default (1 MiB) would refuse a paste the editor's WebSocket takes.
const embedMaxPayload = 8 << 20

// check validates the cluster flags, and fills in defaults that depend on
// others (data is the -data file).
func (c *clusterOptions) check(data string) error {
	if c.urls != "" && c.embed {
		return errors.New("-nats and -nats-embed are exclusive: join a NATS cluster, or run a server in each node")
	}
	needs := func(flag, value, mode string, on bool) error {
		if value != "" && !on {
			return fmt.Errorf("-%s needs %s", flag, mode)
		}
		return nil
	}
	if err := errors.Join(
		needs("nats-creds", c.creds, "-nats", c.urls != ""),
		needs("nats-nkey", c.nkey, "-nats", c.urls != ""),
		needs("nats-tls-ca", c.tlsCA, "-nats", c.urls != ""),
		needs("nats-tls-cert", c.tlsCert, "-nats", c.urls != ""),
		needs("nats-tls-key", c.tlsKey, "-nats", c.urls != ""),
		needs("nats-routes", c.routes, "-nats-embed", c.embed),
		needs("nats-store", c.store, "-nats-embed", c.embed),
	); err != nil {
		return err
	}
	if c.syncAlways && !c.embed {
		return errors.New("-nats-sync-always needs -nats-embed (a NATS cluster of your own sets sync_interval in its servers' configuration)")
	}
	if c.creds != "" && c.nkey != "" {
		return errors.New("-nats-creds and -nats-nkey are exclusive")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("-nats-tls-cert and -nats-tls-key go together")
	}
	if !c.on() {
		return nil
	}
	if c.replicas < 1 {
		return fmt.Errorf("-nats-replicas must be at least 1, not %d", c.replicas)
	}
	if c.wait <= 0 {
		return fmt.Errorf("-nats-wait must be positive, not %v", c.wait)
	}
	if c.stream == "" || strings.ContainsAny(c.stream, ". *>") {
		return fmt.Errorf("-nats-stream %q is not a stream name", c.stream)
	}
	if !c.embed {
		return nil
	}
	if c.store == "" {
		c.store = data + ".nats"
	}
	host, port, err := splitAddr(c.listen)
	if err != nil {
		return fmt.Errorf("-nats-listen: %w", err)
	}
	c.server = natsembed.Config{Name: c.serverName, Host: host, Port: port, StoreDir: c.store, SyncAlways: c.syncAlways, MaxPayload: embedMaxPayload}
	var routes []string
	for _, r := range strings.Split(c.routes, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "nats-route" && u.Scheme != "nats") || u.Port() == "" {
			return fmt.Errorf("-nats-routes: %q is not a route URL like nats-route://host:6222", r)
		}
		routes = append(routes, r)
	}
	if len(routes) == 0 {
		if c.replicas > 1 {
			return fmt.Errorf("-nats-embed without -nats-routes is one server, which keeps one replica: set -nats-replicas 1 (now %d)", c.replicas)
		}
		return nil
	}
	if c.replicas > len(routes) {
		return fmt.Errorf("-nats-replicas %d: the cluster has %d servers (-nats-routes)", c.replicas, len(routes))
	}
	if c.serverName == "" {
		return errors.New("-nats-server-name: a server of a cluster needs a name")
	}
	c.server.Cluster, c.server.Routes = c.clusterName, routes
	if c.server.ClusterHost, c.server.ClusterPort, err = splitAddr(c.clusterListen); err != nil {
		return fmt.Errorf("-nats-cluster-listen: %w", err)
	}
	return nil
}

// splitAddr splits host:port; the port must be given.
func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no port", addr)
	}
	return host, port, nil
}

// clusterNode is what cluster mode runs beside the documents.
type clusterNode struct {
	srv *natsembed.Server // with -nats-embed
	nc  *nats.Conn
	js  natsjs.JetStream // for the readiness probe's account info
	log *jetstream.Log   // the documents' Log (docs.Config.Log)
	bus *roombus.Bus     // the rooms' Bus (server.Config.Bus)
	id  string           // the node's name among the cluster's nodes (the bus's, the webhooks lease's)
	// fwd hands edits between nodes (docs.Config.Forward); stopServe
	// ends this node's answering them.
	fwd       *jetstream.Forwarder
	stopServe func()
}

// serve answers the edits other nodes hand to this one, on m, until
// unserve.
func (n *clusterNode) serve(m *docs.Manager) (err error) {
	n.stopServe, err = n.fwd.Serve(m, n.id)
	return err
}

// unserve stops answering handed-over edits (before the Manager closes:
// the nodes that asked go on themselves). A nil node does nothing.
func (n *clusterNode) unserve() {
	if n != nil && n.stopServe != nil {
		n.stopServe()
		n.stopServe = nil
	}
}

// startCluster starts the embedded server (with -nats-embed), connects to
// NATS, and waits, at most -nats-wait, until the stream answers; it logs
// what it waits for every few seconds. On error it stops what it started.
func startCluster(ctx context.Context, c *clusterOptions, log *slog.Logger) (_ *clusterNode, err error) {
	n := &clusterNode{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	urls := c.urls
	opts := []nats.Option{
		nats.Name(c.name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("NATS connected", "server", nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !nc.IsClosed() { // closed: the node is shutting down
				log.Warn("NATS disconnected: reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(natsErrors(log)),
	}
	if c.embed {
		cfg := c.server
		cfg.Logger = log.With("nats", cfg.Name)
		if n.srv, err = natsembed.Start(cfg, 10*time.Second); err != nil {
			return nil, fmt.Errorf("-nats-embed: %w", err)
		}
		log.Info("NATS server started", "name", cfg.Name, "client", n.srv.ClientURL(), "cluster", cfg.Cluster, "routes", len(cfg.Routes), "store", cfg.StoreDir)
		if err := await(wctx, log, "the NATS cluster to form (a majority of -nats-routes running)", func(context.Context) error {
			if !n.srv.Ready() {
				return errors.New("no JetStream meta leader yet")
			}
			return nil
		}); err != nil {
			return nil, err
		}
		urls = n.srv.ClientURL()
		opts = append(opts, nats.InProcessServer(n.srv))
	} else {
		if c.creds != "" {
			opts = append(opts, nats.UserCredentials(c.creds))
		}
		if c.nkey != "" {
			o, err := nats.NkeyOptionFromSeed(c.nkey)
			if err != nil {
				return nil, fmt.Errorf("-nats-nkey: %w", err)
			}
			opts = append(opts, o)
		}
		if c.tlsCA != "" {
			opts = append(opts, nats.RootCAs(c.tlsCA))
		}
		if c.tlsCert != "" {
			opts = append(opts, nats.ClientCert(c.tlsCert, c.tlsKey))
		}
	}
	if n.nc, err = nats.Connect(urls, opts...); err != nil {
		return nil, fmt.Errorf("NATS: %w", err)
	}
	if err := await(wctx, log, "a connection to NATS", func(context.Context) error {
		if !n.nc.IsConnected() {
			return fmt.Errorf("%s", strings.ToLower(n.nc.Status().String()))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if n.js, err = natsjs.New(n.nc); err != nil {
		return nil, fmt.Errorf("NATS: %w", err)
	}
	cfg := jetstream.Config{Stream: c.stream, Replicas: c.replicas}
	if err := await(wctx, log, "the JetStream stream "+c.stream, func(ctx context.Context) error {
		// One attempt at a time, so that each failure is logged: Open
		// itself retries while ctx lasts.
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		l, err := jetstream.Open(actx, n.nc, cfg)
		if err != nil {
			return err
		}
		if err := n.usable(actx, c.stream); err != nil {
			return err
		}
		n.log = l
		return nil
	}); err != nil {
		return nil, err
	}
	if most := n.log.MaxAppend(); most < 1<<20 {
		log.Warn("the NATS servers take messages of at most max_payload bytes: in this cluster, an edit or a new document's text larger than max_bytes fails as too large (raise max_payload in the servers' configuration, to 8 MB at most)",
			"max_payload", n.nc.MaxPayload(), "max_bytes", most)
	}
	n.id = c.name + "-" + randomHex(4)
	n.bus = roombus.New(n.nc, n.id)
	n.fwd = jetstream.NewForwarder(n.nc, cfg)
	return n, nil
}

// reachable is the readiness probe's question: is the stream usable
// (see usable: a majority of the servers elected its leader), and does
// sync, Manager.Sync, succeed (the stream's leader answers and this node
// applies what it holds)?
func (n *clusterNode) reachable(stream string, sync func() error) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), probeSlow/2)
		defer cancel()
		if err := n.usable(ctx, stream); err != nil {
			return err
		}
		return sync()
	}
}

// usable checks that JetStream's meta leader answers and that the
// stream has a leader: a server that has just started, or is cut off
// from the majority, answers for a stream it holds a replica of from what
// it has, without a leader.
func (n *clusterNode) usable(ctx context.Context, stream string) error {
	if _, err := n.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	s, err := n.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("JetStream: stream %s: %w", stream, err)
	}
	if cl := s.CachedInfo().Cluster; cl != nil && cl.Leader == "" {
		return fmt.Errorf("JetStream: stream %s has no leader", stream)
	}
	return nil
}

// close stops what startCluster started, after the documents' Manager
// has closed: the Bus, then the connection, then the embedded server. A
// nil node (not in cluster mode) does nothing.
func (n *clusterNode) close() {
	if n == nil {
		return
	}
	n.unserve()
	if n.bus != nil {
		n.bus.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
	}
}

// awaitLogEvery is how often a wait at start says what it waits for.
const awaitLogEvery = 5 * time.Second

// await calls try until it succeeds or ctx ends, every quarter second,
// logging what it waits for and why once a second has passed, and every
// awaitLogEvery after.
func await(ctx context.Context, log *slog.Logger, what string, try func(context.Context) error) error {
	start := time.Now()
	next := start.Add(time.Second)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		err := try(ctx)
		if err == nil {
			if waited := time.Since(start); waited > time.Second {
				log.Info("ready: "+what, "waited", waited.Round(time.Millisecond))
			}
			return nil
		}
		if now := time.Now(); !now.Before(next) {
			log.Info("waiting for "+what, "waited", now.Sub(start).Round(time.Second), "err", err)
			next = now.Add(awaitLogEvery)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %v for %s (-nats-wait): %w", time.Since(start).Round(time.Second), what, err)
		case <-t.C:
		}
	}
}

// natsErrors is the connection's handler of asynchronous errors: it logs
// them, and a subscription falling behind (a slow consumer, whose
// messages NATS drops) at most once every awaitLogEvery, with how many
// such errors came in between.
func natsErrors(log *slog.Logger) nats.ErrHandler {
	var mu sync.Mutex
	var last time.Time
	var missed int
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		if !errors.Is(err, nats.ErrSlowConsumer) {
			log.Warn("NATS error", "subject", subject, "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < awaitLogEvery {
			missed++
			return
		}
		log.Warn("NATS: a subscription falls behind and its messages are dropped (slow consumer)", "subject", subject, "more", missed)
		last, missed = time.Now(), 0
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The readiness probe of cluster mode.
const (
	probeEvery = 2 * time.Second  // how often the node asks the Log
	probeSlow  = 10 * time.Second // a Sync running this long: not ready
)

// logProbe tells /readyz whether the node is in touch with the cluster's
// Log: every probeEvery it asks (clusterNode.reachable), and the node is
// not ready while the last answer was an error or the question has been
// waiting for longer than probeSlow.
type logProbe struct {
	ask func() error
	log *slog.Logger

	mu    sync.Mutex // guards err and since
	err   error      // the last answer
	since time.Time  // when the question under way was asked; zero between questions

	stop chan struct{}
	done chan struct{}
}

// startProbe starts the probe's goroutine; stop it with close. It logs
// when the Log goes out of reach and when it answers again.
func startProbe(ask func() error, log *slog.Logger) *logProbe {
	p := &logProbe{ask: ask, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *logProbe) run() {
	defer close(p.done)
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		p.since = time.Now()
		p.mu.Unlock()
		err := p.ask()
		p.mu.Lock()
		was := p.err
		p.err, p.since = err, time.Time{}
		p.mu.Unlock()
		switch {
		case err != nil && was == nil:
			p.log.Warn("the cluster's log is out of reach: /readyz says not ready", "err", err)
		case err == nil && was != nil:
			p.log.Info("the cluster's log answers again: /readyz says ready")
		}
	}
}

// state is nil when the node is in touch with the Log.
func (p *logProbe) state() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.since.IsZero() && time.Since(p.since) > probeSlow {
		return fmt.Errorf("the cluster's log has not answered for %v", time.Since(p.since).Round(time.Second))
	}
	return p.err
}

// close stops the probe and waits for it (a question under way first ends).
func (p *logProbe) close() {
	close(p.stop)
	<-p.done
}

// gate answers /readyz with 503 while the Log is out of reach, and passes
// every other request, and /readyz otherwise, to next.
func (p *logProbe) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		err := p.state()
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{
			"type":   "https://collab.dev/problems/unavailable",
			"title":  http.StatusText(http.StatusServiceUnavailable),
			"status": http.StatusServiceUnavailable,
			"detail": "the cluster's log is out of reach: " + err.Error(),
			"code":   "unavailable",
		})
	})
}
