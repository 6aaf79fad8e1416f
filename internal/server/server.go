// Package server wires collab together: the HTTP API and pages (chi), the
// realtime protocol over WebSockets (melody), the documents (docs) and
// presence. See docs/PROTOCOL.md for the protocol.
package server

import (
	"context"
	"crypto/sha256"
	"golang.org/x/time/rate"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collab-editor/collab/internal/access"
	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/gitrepo"
	"github.com/collab-editor/collab/internal/hooks"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// WebSocket close codes beyond the standard ones. Clients reconnect and
// resume after closeSlowConsumer, closeRateLimited and 1001 (going away).
const (
	closeSlowConsumer = 4001 // the send buffer filled: resume from the last revision
	closeDeleted      = 4002 // the document was deleted
	closeForbidden    = 4003 // the link or token no longer grants access
	closeNotFound     = 4004 // no such document
	closeRateLimited  = 4008 // too many messages
	closeTooMany      = 4009 // too many sessions on the document
	closeReset        = 4010 // the document was reset on the server: rejoin
)

// Config holds the server's limits and behaviour. Zero fields take the
// documented defaults (see fill).
type Config struct {
	MaxMessageBytes   int64         // largest WebSocket message accepted (default 1 MiB)
	SendBuffer        int           // bytes queued for one slow session before it is closed (default 1 MiB)
	OpsPerSecond      float64       // per session (default 50, burst 100)
	CursorsPerSecond  float64       // per session (default 30, burst 60); extra cursor updates are dropped
	MaxSessionsPerDoc int           // default 200
	PingPeriod        time.Duration // default 10s
	PongWait          time.Duration // a peer silent this long is dropped (default 25s)
	WriteWait         time.Duration // default 10s
	PresenceEvery     time.Duration // presence written to disk at most this often per user (default 5s)
	MaxRequestBytes   int64         // REST request bodies (default 10 MiB)
	ChatKeep          int           // chat messages kept per document (default 1000)
	MaxResume         int           // revisions a reconnecting client may catch up on (default 100,000); beyond, it gets the text
	MaxResumeBytes    int           // bytes of operations a reconnecting client may catch up on (default 1 MiB); beyond, it gets the text
	ChatPerSecond     float64       // chat messages per session (default 1, burst 10); more are refused
	ProfilesPerSecond float64       // profile changes per session (default 2, burst 10); more are refused
	MaxChatBytes      int           // default 2000
	EventsPerSecond   float64       // app events per session, and per document over REST (default 20, burst 40); more are refused
	MaxEventBytes     int           // an app event's data, in JSON (default 8 KiB)
	MaxUserDataBytes  int           // a client's app data, in JSON (default 1 KiB)
	AllowedOrigins    []string      // WebSocket origins besides the server's own (CORSOrigins are allowed too)
	APIToken          string        // administrator's token; administrative routes are refused without one
	MaxConnsPerAddr   int           // WebSocket connections per client address (default 1000; <0 for no limit)
	ConnsPerSecond    float64       // new WebSocket connections per second per client address (default 100, bursts of 10 s' worth)
	Pprof             bool          // serve /debug/pprof (off by default)
	FrameAncestors    string        // CSP frame-ancestors for /embed (default "*")
	GitCacheBytes     int64         // memory kept for workspaces' git histories between requests (see gitrepo.Config.CacheBytes; default 256 MiB)

	// Now and AfterFunc are the server's clock (default time.Now, and
	// time.AfterFunc's timer and its Stop): tokens are checked on Now, and
	// AfterFunc ends a token's sessions and streams at its expiry and
	// times event stream heartbeats. A test gives a clock of its own and
	// moves it instead of waiting.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)

	// Webhooks and event streams (see hooks.go). Hooks.Now and Hooks.After
	// default to Now and AfterFunc; Hooks.Handles is the server's.
	Hooks           hooks.Config
	EventsHeartbeat time.Duration // a comment on an idle event stream this often (default 15s)

	// Tokens: JSON Web Tokens from a host application (see access and
	// docs/EMBED.md).
	JWTSecret   string        // HS256 secret shared with hosts, at least 32 bytes; default: a key of the server's own, kept in the database (only the server mints HS256 tokens then)
	JWKSURL     string        // a JWK Set of the RS256, ES256 and EdDSA keys that sign tokens; default none
	JWKSRefresh time.Duration // how often the JWK Set is fetched again (default 1h; an unknown kid fetches it at once, at most once a minute)
	JWTIssuer   string        // when set, tokens must have this "iss" (the server's own get it)
	JWTAudience string        // when set, tokens' "aud" must name it (the server's own get it)
	JWTLeeway   time.Duration // clock skew allowed on exp, nbf and iat (default none)

	// Cluster mode (see bus.go): several nodes serve the same documents.
	Bus         Bus           // carries the rooms' presence, cursors, app events, chat and endings to the other nodes; nil: a single node
	PeerRefresh time.Duration // a node re-announces its users of each live document this often (default 5s); one not heard from for three times as long is gone, and its users leave
	SyncWait    time.Duration // the first session of a document on a node waits this long for the other nodes' presence (default 50ms)

	// Behind proxies and in browser apps (see docs/OPERATIONS.md).
	CORSOrigins    []string       // browser origins that may call /api/* (CORS; "*" for any); default none: no CORS headers
	TrustedProxies []netip.Prefix // peers whose ProxyHeader names the client (default none: the peer is the client)
	ProxyHeader    string         // the header trusted proxies set: "X-Forwarded-For" (default) or "Forwarded"
}

// tokens is the token configuration of c, signing with serverKey when no
// secret is configured.
func (c *Config) tokens(serverKey []byte, log *slog.Logger) access.Config {
	secret := []byte(c.JWTSecret)
	if len(secret) == 0 {
		secret = serverKey
	}
	return access.Config{Secret: secret, JWKSURL: c.JWKSURL, JWKSRefresh: c.JWKSRefresh, Issuer: c.JWTIssuer,
		Audience: c.JWTAudience, Leeway: c.JWTLeeway, Now: c.Now, Log: log}
}

// Check reports what in c keeps the server from starting as configured:
// the token settings (a short secret, a JWK Set URL that is not one).
func (c Config) Check() error {
	return c.tokens(make([]byte, access.MinSecret), nil).Check()
}

func (c *Config) fill() {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 1 << 20
	}
	if c.OpsPerSecond <= 0 {
		c.OpsPerSecond = 50
	}
	if c.CursorsPerSecond <= 0 {
		c.CursorsPerSecond = 30
	}
	if c.MaxSessionsPerDoc <= 0 {
		c.MaxSessionsPerDoc = 200
	}
	if c.PingPeriod <= 0 {
		c.PingPeriod = 10 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 25 * time.Second
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.PresenceEvery <= 0 {
		c.PresenceEvery = 5 * time.Second
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 10 << 20
	}
	if c.MaxResume <= 0 {
		c.MaxResume = 100_000
	}
	if c.MaxResumeBytes <= 0 {
		c.MaxResumeBytes = 1 << 20
	}
	if c.ChatPerSecond <= 0 {
		c.ChatPerSecond = 1
	}
	if c.ProfilesPerSecond <= 0 {
		c.ProfilesPerSecond = 2
	}
	if c.ChatKeep <= 0 {
		c.ChatKeep = 1000
	}
	if c.MaxChatBytes <= 0 {
		c.MaxChatBytes = 2000
	}
	if c.EventsPerSecond <= 0 {
		c.EventsPerSecond = 20
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = 8 << 10
	}
	if c.MaxUserDataBytes <= 0 {
		c.MaxUserDataBytes = 1 << 10
	}
	if c.ConnsPerSecond <= 0 {
		c.ConnsPerSecond = 100
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = 1000
	}
	if c.ProxyHeader == "" {
		c.ProxyHeader = HeaderXForwardedFor
	}
	if c.FrameAncestors == "" {
		c.FrameAncestors = "*"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AfterFunc == nil {
		c.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if c.Hooks.Now == nil {
		c.Hooks.Now = c.Now
	}
	if c.Hooks.After == nil {
		afterFunc, now := c.AfterFunc, c.Now
		c.Hooks.After = func(d time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			afterFunc(d, func() { ch <- now() })
			return ch
		}
	}
	if c.EventsHeartbeat <= 0 {
		c.EventsHeartbeat = 15 * time.Second
	}
	if c.PeerRefresh <= 0 {
		c.PeerRefresh = 5 * time.Second
	}
	if c.SyncWait <= 0 {
		c.SyncWait = 50 * time.Millisecond
	}
}

// The bursts of the chat and profile limits: a person types a few chat
// lines or picks a colour quickly, then slows down.
const (
	chatBurst    = 10
	profileBurst = 10
)

// Server is collab's HTTP and WebSocket front.
type Server struct {
	cfg       Config
	docs      *docs.Manager
	git       *gitrepo.Repos // the workspaces as git repositories
	log       *slog.Logger
	metrics   *Metrics
	ws        *melody.Melody
	handler   http.Handler
	wsHandler http.Handler // GET /api/docs/{id}/ws, outside the router (see ServeHTTP)

	tokens    *access.Tokens  // verifies tokens, and signs the server's own
	handles   *access.Handles // name documents and workspaces in tokens
	userKey   []byte          // derives public user ids from client ids (see userID)
	authorKey []byte          // derives public author ids (see authorID)

	mu       sync.Mutex // guards rooms, loading, conns, connRate, apiRates and draining
	rooms    map[string]*room
	loading  map[string]*roomLoad     // rooms being opened
	conns    map[string]int           // WebSocket connections per client address
	connRate map[string]*rate.Limiter // new WebSocket connections per client address
	apiRates map[string]*rate.Limiter // REST events to documents without a room here, in a cluster (see emitElsewhere)
	draining bool

	node    string // this node's id on the Bus
	busStop func() // ends the subscription to busAll

	open atomic.Int64 // WebSocket sessions connected and not yet disconnected

	hooks       *hooks.Service
	streamsDone chan struct{} // closed by CloseStreams: event streams end

	smu         sync.Mutex                      // guards linkStreams
	linkStreams map[string]map[*liveStream]bool // event streams opened with a link, by link: a rotation ends them
	streamsOnce sync.Once
	drainOnce   sync.Once

	// openDoc is docs.Manager.Open; tests hold a load up with it.
	openDoc func(id string) (*docs.Document, error)
}

// New returns a server over the documents of m. metrics may be shared with
// the docs.Manager's commit hook (see NewMetrics).
func New(cfg Config, m *docs.Manager, metrics *Metrics, log *slog.Logger) *Server {
	cfg.fill()
	s := &Server{cfg: cfg, docs: m, log: log, metrics: metrics, rooms: map[string]*room{}, loading: map[string]*roomLoad{}, conns: map[string]int{}, connRate: map[string]*rate.Limiter{}}
	key, err := m.Setting("embed-key", newEmbedKey)
	if err != nil {
		log.Error("loading the server's key; tokens it signs and handles will not survive a restart", "err", err)
		key = newEmbedKey()
	}
	s.handles = access.NewHandles(key)
	tk := sha256.Sum256(append([]byte("collab tokens\x00"), key...))
	if s.tokens, err = access.New(cfg.tokens(tk[:], log)); err != nil {
		// cmd/collab checks the configuration first (Config.Check).
		log.Error("the token configuration is unusable: every token is refused", "err", err)
		s.tokens, _ = access.New(access.Config{Now: cfg.Now})
	}
	if cfg.Hooks.Logger == nil {
		cfg.Hooks.Logger = log
	}
	cfg.Hooks.Handles = s.handles
	s.hooks = hooks.New(m, cfg.Hooks)
	s.streamsDone = make(chan struct{})
	s.openDoc = m.Open
	uk := sha256.Sum256(append([]byte("collab user ids\x00"), key...))
	s.userKey = uk[:]
	ak := sha256.Sum256(append([]byte("collab author ids\x00"), key...))
	s.authorKey = ak[:]
	s.git = gitrepo.New(m, gitrepo.Config{
		// A pushed commit's author, from its e-mail: an author id of its
		// own kind, as an embed token's subject has.
		PushAuthor: func(email string) string { return s.authorID("git", email) },
		CacheBytes: cfg.GitCacheBytes,
		Logger:     log,
	})
	s.ws = melody.New()
	s.ws.Config.MaxMessageSize = cfg.MaxMessageBytes
	s.ws.Config.PingPeriod = cfg.PingPeriod
	s.ws.Config.PongWait = cfg.PongWait
	s.ws.Config.WriteWait = cfg.WriteWait
	// We keep at most one frame in melody's queue per session (see
	// client.send), plus close frames.
	s.ws.Config.MessageBufferSize = 16
	s.ws.Upgrader.CheckOrigin = s.checkOrigin
	s.ws.Upgrader.Error = s.upgradeRefused
	s.ws.Upgrader.EnableCompression = false
	// Idle connections should cost little memory. With no read buffer
	// size set, gorilla reads through net/http's hijacked 4 KB reader
	// instead of adding its own. Writes take a buffer from a pool only
	// while a message is written (gorilla writes a message's payload
	// straight from the message, so the buffer holds frame headers), and
	// net/http's hijacked 4 KB writer is let go.
	s.ws.Upgrader.ReadBufferSize = 0
	s.ws.Upgrader.WriteBufferSize = 4 << 10
	s.ws.Upgrader.WriteBufferPool = &sync.Pool{}
	s.ws.HandleConnect(s.onConnect)
	s.ws.HandleDisconnect(s.onDisconnect)
	s.ws.HandleMessage(s.onMessage)
	s.ws.HandleSentMessage(func(ms *melody.Session, _ []byte) {
		if c := clientOf(ms); c != nil {
			c.sent()
		}
	})
	s.ws.HandleError(s.onError)
	metrics.sessionsFn(func() float64 { return float64(s.open.Load()) })
	metrics.loadedFn(func() float64 { return float64(m.Loaded()) })
	metrics.storageFn(m.Storage)
	s.handler = s.routes()
	s.wsHandler = s.recoverer(http.HandlerFunc(s.handleWS))
	if cfg.Bus != nil {
		s.node, s.apiRates = newNodeID(), map[string]*rate.Limiter{}
		if s.busStop, err = cfg.Bus.Subscribe(busAll, s.fromBusAll); err != nil {
			log.Error("subscribing to the cluster's messages for every node: the administrator's events and link rotations of other nodes do not reach this one", "err", err)
		}
	}
	return s
}

// ServeHTTP serves every route. WebSocket upgrades (GET
// /api/docs/{id}/ws, listed in routes.go with the rest) skip the router:
// their goroutine lives as long as the connection, blocked in a read, and
// fewer frames under that read let the runtime shrink its stack, which is
// most of what an idle connection costs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := wsDocID(r); ok {
		r.SetPathValue("id", id)
		s.setSecurityHeaders(w, r)
		s.wsHandler.ServeHTTP(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// wsDocID matches GET /api/docs/{id}/ws.
func wsDocID(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/docs/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/ws")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// Close stops the server's background work (fetching the JWK Set, the
// subscription to the cluster's messages for every node). Call it after
// Drain.
func (s *Server) Close() {
	s.tokens.Close()
	if s.busStop != nil {
		s.busStop()
	}
}

// Drain closes every WebSocket session with 1001 (going away) so clients
// reconnect elsewhere, and refuses new ones; ends the event streams; and
// stops the webhook deliveries, saving their state. Call it after the
// HTTP server stopped accepting and before closing the docs.Manager.
func (s *Server) Drain(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.CloseStreams()
	defer s.drainOnce.Do(s.hooks.Close)
	_ = s.ws.CloseWithMsg(websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"))
	// melody's own count drops to 0 as soon as the close is queued; wait
	// for the sessions to end.
	for s.open.Load() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// CloseStreams ends every event stream (clients reconnect with their
// Last-Event-ID). Give it to http.Server.RegisterOnShutdown, so that a
// shutdown does not wait for them.
func (s *Server) CloseStreams() {
	s.streamsOnce.Do(func() { close(s.streamsDone) })
}

func (s *Server) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.draining
}
