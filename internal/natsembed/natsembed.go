// Package natsembed runs a NATS server with JetStream inside the collab
// process: for tests, which form a three-node cluster in one process, and
// for collab -nats-embed, where each collab node carries its own NATS
// server and the nodes form the cluster among themselves.
//
// Start takes a Config and returns a running Server, ready for client
// connections. A Server that is part of a cluster is usable for
// JetStream only once the cluster has elected a meta leader (the raft
// group that places streams); WaitReady polls for that, bounded by a
// context, and a node can serve no stream before it.
//
// # Durability
//
// JetStream acknowledges a message once a quorum of the stream's replicas
// has it in their write-ahead log, in the operating system's page cache;
// each server fsyncs its files every SyncInterval (JetStream's default is
// two minutes). A quorum losing power together within that interval may
// lose acknowledged messages; a process crash alone loses nothing the
// kernel has. SyncAlways fsyncs every write before it is acknowledged, at
// a cost in latency that depends on the disk.
//
// # A cluster
//
// Every node of a cluster lists every node's route URL in Routes (its own
// included: a server ignores the route to itself). JetStream counts the
// routes to know how many peers to expect, so all nodes must list all of
// them: a three-node cluster elects its meta leader as soon as two nodes
// see each other.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config describes one embedded server. With only StoreDir set it is a
// single server with JetStream on a free local port.
type Config struct {
	// Name is the server's name, unique in its cluster (server_name).
	// Required for a cluster; JetStream keys its peers by it.
	Name string
	// Host and Port are the client listener. Host defaults to 127.0.0.1;
	// Port 0 picks a free port (see Server.ClientURL), -1 likewise.
	Host string
	Port int
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Cluster is the cluster's name; empty runs a single server, with no
	// route listener.
	Cluster string
	// ClusterHost and ClusterPort are the route listener (default
	// 127.0.0.1, and a free port for 0).
	ClusterHost string
	ClusterPort int
	// Routes are the route URLs of every node of the cluster
	// (nats://host:port), this one included.
	Routes []string
	// SyncAlways fsyncs every JetStream write before it is acknowledged
	// (sync_interval: always). Otherwise SyncInterval applies.
	SyncAlways bool
	// SyncInterval is how often JetStream fsyncs its files when SyncAlways
	// is off; 0 keeps JetStream's default (2 minutes).
	SyncInterval time.Duration
	// MaxPayload is the largest message the server accepts, in bytes; 0
	// keeps NATS's default (1 MiB). It bounds one edit in a cluster (see
	// jetstream.Log.MaxAppend).
	MaxPayload int32
	// Logger, if set, takes the server's notices (Info), warnings and
	// errors, and its debug lines when it is enabled for them; nil: the
	// server logs nothing.
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
	cfg Config
}

// Errors.
var (
	// ErrConfig is returned by Start for an unusable Config.
	ErrConfig = errors.New("natsembed: bad config")
	// ErrNotReady is returned when a server does not become ready in time.
	ErrNotReady = errors.New("natsembed: server not ready")
	// ErrUnavailable is returned by Start when a port it is to listen on
	// is taken.
	ErrUnavailable = errors.New("natsembed: address unavailable")
)

// Start starts a server and waits, up to readyTimeout (10s if 0), until it
// accepts client connections.
func Start(cfg Config, readyTimeout time.Duration) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("%w: StoreDir is required", ErrConfig)
	}
	if cfg.Cluster != "" && cfg.Name == "" {
		return nil, fmt.Errorf("%w: a clustered server needs a Name", ErrConfig)
	}
	if readyTimeout <= 0 {
		readyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName:   cfg.Name,
		Host:         orDefault(cfg.Host, "127.0.0.1"),
		Port:         randomIfZero(cfg.Port),
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		MaxPayload:   cfg.MaxPayload,
		NoSigs:       true,
		NoLog:        cfg.Logger == nil,
	}
	if cfg.SyncAlways && opts.SyncInterval == 0 {
		// The server's config parser sets both; keep them alike.
		opts.SyncInterval = 2 * time.Minute
	}
	if cfg.Cluster != "" {
		opts.Cluster = server.ClusterOpts{
			Name: cfg.Cluster,
			Host: orDefault(cfg.ClusterHost, "127.0.0.1"),
			Port: randomIfZero(cfg.ClusterPort),
		}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("%w: route %q is not a URL like nats://host:port", ErrConfig, r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	if err := free(opts.Host, opts.Port, opts.Cluster.Host, opts.Cluster.Port); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if cfg.Logger != nil {
		srv.SetLogger(slogger{cfg.Logger}, cfg.Logger.Enabled(context.Background(), slog.LevelDebug), false)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("%w: %s accepts no connections after %v", ErrNotReady, cfg.Name, readyTimeout)
	}
	return &Server{srv: srv, cfg: cfg}, nil
}

// free fails at once, naming the address, when the client or route
// port is taken (by another process, or one still shutting down): the
// server would only log it, and never become ready.
func free(host string, port int, clusterHost string, clusterPort int) error {
	for _, a := range []struct {
		what, host string
		port       int
	}{{"client", host, port}, {"route", clusterHost, clusterPort}} {
		if a.port <= 0 { // none, or chosen by the server
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(a.host, strconv.Itoa(a.port)))
		if err != nil {
			return fmt.Errorf("%w: the %s port: %v", ErrUnavailable, a.what, err)
		}
		l.Close()
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func randomIfZero(port int) int {
	if port == 0 {
		return server.RANDOM_PORT
	}
	return port
}

// Name is the server's name.
func (s *Server) Name() string { return s.cfg.Name }

// ClientURL is the URL clients connect to (nats://127.0.0.1:port).
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// InProcessConn is a client connection to the server that stays inside
// the process (no socket): with nats.InProcessServer, the node's own
// client skips the loopback TCP its every publish and delivery would
// otherwise cross twice.
func (s *Server) InProcessConn() (net.Conn, error) { return s.srv.InProcessConn() }

// Running reports whether the server is running.
func (s *Server) Running() bool { return s.srv.Running() }

// Shutdown stops the server: its raft leaderships step down first, so the
// rest of the cluster elects new leaders without waiting for a timeout.
// It returns once the server has stopped.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// Ready reports whether JetStream on this server is usable now: JetStream
// is on and, in a cluster, a meta leader is known and this server's view
// of the cluster's state is current.
func (s *Server) Ready() bool {
	if !s.srv.Running() || !s.srv.JetStreamEnabled() {
		return false
	}
	if s.cfg.Cluster == "" {
		return true
	}
	return s.srv.JetStreamIsCurrent()
}

// IsMetaLeader reports whether this server leads the JetStream meta group.
func (s *Server) IsMetaLeader() bool { return s.srv.JetStreamIsLeader() }

// Peers is how many JetStream peers this server knows of, itself
// included (meaningful on the meta leader).
func (s *Server) Peers() int { return len(s.srv.JetStreamClusterPeers()) }

// IsStreamLeader reports whether this server leads the named stream of the
// global account.
func (s *Server) IsStreamLeader(stream string) bool {
	return s.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream)
}

// pollEvery is how often the wait functions look at the cluster's state.
const pollEvery = 10 * time.Millisecond

// WaitReady waits until the given servers form a JetStream cluster: one of
// them leads the meta group, that leader knows len(servers) peers, and
// every running server is current. It polls (every 10ms) until ctx ends.
func WaitReady(ctx context.Context, servers ...*Server) error {
	return waitFor(ctx, func() bool {
		running := 0
		var leader *Server
		for _, s := range servers {
			if !s.Running() {
				continue
			}
			running++
			if s.IsMetaLeader() {
				leader = s
			}
		}
		if leader == nil || leader.Peers() < len(servers) {
			return false
		}
		for _, s := range servers {
			if s.Running() && !s.Ready() {
				return false
			}
		}
		return running > 0
	}, "the JetStream cluster to form")
}

// WaitStreamLeader waits until one of the running servers leads the
// stream, and returns it.
func WaitStreamLeader(ctx context.Context, stream string, servers ...*Server) (*Server, error) {
	var leader *Server
	err := waitFor(ctx, func() bool {
		for _, s := range servers {
			if s.Running() && s.IsStreamLeader(stream) {
				leader = s
				return true
			}
		}
		return false
	}, "a leader for stream "+stream)
	return leader, err
}

// waitFor polls cond until it holds or ctx ends: a bounded wait on a
// condition, never a fixed sleep.
func waitFor(ctx context.Context, cond func() bool, what string) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for %s: %v", ErrNotReady, what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// slogger hands the server's log lines to a slog.Logger.
type slogger struct{ l *slog.Logger }

func (s slogger) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s slogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s slogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s slogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s slogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s slogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
