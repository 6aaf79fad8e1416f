package server

// Cluster mode: several collab nodes serve the same documents behind a
// load balancer, and the clients of one document may be connected to
// different nodes. The documents layer brings every node's room the
// document's revisions; everything else a room shares (presence, cursors,
// app events, chat, the endings of sessions) goes to the same document's
// rooms on the other nodes over a Bus (Config.Bus; internal/roombus is
// the NATS one). Without a Bus a server is one node, and none of this
// runs: a room's peers is nil.
//
// A room keeps its own sessions' presence in users, as a single node
// does, and in peers what each other node last said of its own: its
// users, and when it was last heard from. Clients see both, merged by
// user id (the node's own record wins): joined lists them, and remote
// joins, profile changes, cursors and leaves reach them as the same
// user, cursor and leave messages a local one sends. A room
// re-announces its users every PeerRefresh (a state message); a node not
// heard from for three times as long is gone (it died, or was cut off),
// and its users leave. A room that comes alive asks the others for
// their state (sync) and waits for the answers before its first session
// joins, so that joined lists everyone: until every node named in the
// answers has answered, at most SyncWait (the whole of it when the
// document is live on no other node).
//
// Messages are published with the room's lock held, so the other nodes
// get one node's messages in the order its room made them (a Bus keeps
// each sender's order, and Publish never blocks on the network).
// Messages from other nodes are delivered to this node's sessions only,
// never published again.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/collab-editor/collab/internal/presence"
	"golang.org/x/time/rate"
)

// A Bus carries a document's ephemeral room messages to the same
// document's rooms on the other nodes of a cluster.
type Bus interface {
	// Publish sends msg to the rooms of doc on the other nodes. It never
	// blocks on the network: a message it cannot send is dropped (they
	// are ephemeral, and presence is re-announced every PeerRefresh).
	Publish(doc string, msg []byte) error
	// Subscribe calls fn, one message at a time, with what the other
	// nodes publish to doc, each sender's messages in the order it
	// published them, never this node's own, until stop is called.
	Subscribe(doc string, fn func(msg []byte)) (stop func(), err error)
}

// busAll is the Bus's "document" of the messages for every node rather
// than one document's rooms: the administrator's events and link
// rotations. Document ids are UUIDs, never this.
const busAll = "all"

// The kinds of Bus messages (busMsg.Kind).
const (
	kindSync    = "sync"    // a room came alive: the others answer with their state
	kindState   = "state"   // Users: every user of the node's room, their ranges at Rev
	kindUser    = "user"    // User joined, or changed their name, colour or app data
	kindLeave   = "leave"   // ID's last session on the node ended
	kindCursor  = "cursor"  // ID's Ranges at Rev
	kindEvent   = "event"   // an app event (to the document; on busAll, to every document)
	kindChat    = "chat"    // a chat message, stored already
	kindDeleted = "deleted" // the document was deleted: its sessions are closed (4002)
	kindRotate  = "rotate"  // on busAll: Doc's (or a workspace's) old Links no longer grant anything (4003)
)

// busMsg is one message on the Bus, as compact JSON: its kind, the
// sending node, and the fields of its kind. Users are named by their
// public ids; a client id never leaves its node. For example:
//
//	{"k":"sync","n":"9f2c41d07ab3e865"}
//	{"k":"user","n":"9f2c41d07ab3e865","user":{"id":"u5a0e…","name":"Ann","color":"#e06c75","ranges":[],"lastSeen":"…"}}
//	{"k":"cursor","n":"9f2c41d07ab3e865","u":"u5a0e…","rev":44,"ranges":[{"anchor":31,"head":31}]}
//	{"k":"event","n":"9f2c41d07ab3e865","event":{"name":"follow-me","data":{"line":120},"from":"u5a0e…","to":["u9d3f…"]}}
//	{"k":"rotate","n":"9f2c41d07ab3e865","doc":"2b0c…","links":["…","…"]}
type busMsg struct {
	Kind   string            `json:"k"`
	Node   string            `json:"n"`
	ID     string            `json:"u,omitempty"`
	Rev    uint64            `json:"rev,omitempty"`
	Ranges []presence.Range  `json:"ranges,omitempty"`
	User   *presence.User    `json:"user,omitempty"` // its ranges are not read: they come with a revision in cursor and state
	Users  []presence.User   `json:"users,omitempty"`
	Nodes  []string          `json:"nodes,omitempty"` // kindState: the nodes the sender knows to have the document live, itself too
	Event  *busEvent         `json:"event,omitempty"`
	Chat   *docs.ChatMessage `json:"chat,omitempty"`
	Doc    string            `json:"doc,omitempty"`
	Links  []string          `json:"links,omitempty"`
}

// busEvent is an appEvent on the Bus.
type busEvent struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	From string          `json:"from"`
	To   []string        `json:"to,omitempty"`
}

func (e appEvent) wire() *busEvent {
	b := &busEvent{Name: e.name, Data: e.data, From: e.from}
	for u := range e.to {
		b.To = append(b.To, u)
	}
	return b
}

func (b *busEvent) event() appEvent {
	e := appEvent{name: b.Name, data: b.Data, from: b.From}
	if b.To != nil {
		e.to = make(map[string]bool, len(b.To))
		for _, u := range b.To {
			e.to[u] = true
		}
	}
	return e
}

// peers is what a room knows of its document's sessions on the other
// nodes. Guarded by the room's mu.
type peers struct {
	nodes map[string]*peerNode
	// ahead holds the newest ranges of remote users given at revisions
	// the room has not published yet, until it does.
	ahead map[peerUser]aheadRanges
	stop  func()      // ends the room's subscription
	tick  func() bool // stops the next refresh
	sync  *syncing    // while the room waits for the answers to its sync
}

// syncing is a new room's wait for the other nodes' state: it ends when
// every node that the answers name has answered (or after SyncWait).
type syncing struct {
	answered map[string]bool
	expected map[string]bool
	done     chan struct{} // closed once every expected node answered
}

// answer records node's state, which names the nodes it knows.
func (s *syncing) answer(node string, knows []string) {
	s.answered[node] = true
	s.expected[node] = true
	for _, n := range knows {
		s.expected[n] = true
	}
	for n := range s.expected {
		if !s.answered[n] {
			return
		}
	}
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// peerNode is one other node's users of the document.
type peerNode struct {
	users map[string]presence.User // ranges at the room's pubRev
	heard time.Time                // on the server's clock
}

type peerUser struct{ node, user string }

type aheadRanges struct {
	rev    uint64
	ranges []presence.Range
}

// has reports whether another node has user id.
func (p *peers) has(id string) bool {
	for _, n := range p.nodes {
		if _, ok := n.users[id]; ok {
			return true
		}
	}
	return false
}

// apply moves the remote users' ranges over op, a revision the room
// published.
func (p *peers) apply(op ot.Operation) {
	for _, n := range p.nodes {
		for id, u := range n.users {
			if len(u.Ranges) > 0 {
				u.Ranges = presence.Transform(u.Ranges, op)
				n.users[id] = u
			}
		}
	}
}

// newNodeID is a node's id on the Bus: random, so a restarted node is a
// new one and the users of the old one expire.
func newNodeID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// attach joins a new room to the document's rooms on the other nodes:
// it subscribes, asks for their state, starts the refresh, and waits for
// the answers: until every node they name has answered, at most
// SyncWait. Called before the room is listed, so no session is in it
// yet.
func (s *Server) attach(r *room) {
	wait := &syncing{answered: map[string]bool{s.node: true}, expected: map[string]bool{s.node: true}, done: make(chan struct{})}
	r.mu.Lock()
	r.peers = &peers{nodes: map[string]*peerNode{}, ahead: map[peerUser]aheadRanges{}, sync: wait}
	r.mu.Unlock()
	stop, err := s.cfg.Bus.Subscribe(r.id, r.fromBus)
	if err != nil {
		s.log.Error("subscribing a room to the cluster: its sessions see this node's only", "doc", r.id, "err", err)
		r.mu.Lock()
		r.peers = nil
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		stop()
		return
	}
	r.peers.stop = stop
	r.peers.tick = s.cfg.AfterFunc(s.cfg.PeerRefresh, r.refresh)
	r.publishBus(busMsg{Kind: kindSync})
	r.mu.Unlock()
	// A network round trip, not the server's clock: the answers come in
	// meanwhile.
	t := time.NewTimer(s.cfg.SyncWait)
	defer t.Stop()
	select {
	case <-wait.done:
	case <-t.C:
	}
	r.mu.Lock()
	if r.peers != nil {
		r.peers.sync = nil
	}
	r.mu.Unlock()
}

// detach ends a closed room's part in the cluster. Called without mu.
func (r *room) detach() {
	r.mu.Lock()
	var tick func() bool
	var stop func()
	if r.peers != nil {
		tick, stop = r.peers.tick, r.peers.stop
	}
	r.mu.Unlock()
	if tick != nil {
		tick()
	}
	if stop != nil {
		stop()
	}
}

// publishBus sends m to the document's rooms on the other nodes. Called
// with mu held: the other nodes get the room's messages in its order.
func (r *room) publishBus(m busMsg) {
	r.srv.publishBus(r.id, m)
}

// publishBus sends m to doc's rooms on the other nodes, or with busAll
// to every node.
func (s *Server) publishBus(doc string, m busMsg) {
	m.Node = s.node
	if err := s.cfg.Bus.Publish(doc, mustJSON(m)); err != nil {
		s.log.Debug("publishing to the cluster", "doc", doc, "kind", m.Kind, "err", err)
	}
}

// fromBus handles a message from the document's room on another node,
// delivering it to this room's sessions as a local one would be.
func (r *room) fromBus(data []byte) {
	var m busMsg
	if err := json.Unmarshal(data, &m); err != nil || m.Node == "" {
		r.srv.log.Warn("a message from the cluster that is not one", "doc", r.id, "err", err)
		return
	}
	switch m.Kind {
	case kindDeleted:
		r.srv.closeRoom(r, docs.ErrDeleted)
		return
	case kindEvent:
		if m.Event != nil {
			r.emitHere(m.Event.event(), nil)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.peers == nil {
		return
	}
	n := r.peers.nodes[m.Node]
	if n == nil {
		n = &peerNode{users: map[string]presence.User{}}
		r.peers.nodes[m.Node] = n
	}
	n.heard = r.srv.cfg.Now()
	switch m.Kind {
	case kindSync:
		r.publishBus(r.stateMsg())
	case kindState:
		r.peerState(m.Node, n, m.Users, m.Rev)
		if r.peers.sync != nil {
			r.peers.sync.answer(m.Node, m.Nodes)
		}
	case kindUser:
		if m.User != nil {
			u := *m.User
			old, had := n.users[u.ID]
			u.Ranges = old.Ranges
			if !had {
				u.Ranges = []presence.Range{}
			}
			n.users[u.ID] = u
			if _, local := r.users.Get(u.ID); !local && (!had || !presence.SameProfile(old, u)) {
				r.broadcast(mustJSON(map[string]any{"type": "user", "user": u}), nil)
			}
		}
	case kindLeave:
		if _, had := n.users[m.ID]; had {
			delete(n.users, m.ID)
			delete(r.peers.ahead, peerUser{m.Node, m.ID})
			r.leaveUnlessPresent(m.ID)
		}
	case kindCursor:
		if _, ok := n.users[m.ID]; ok {
			r.peerRanges(m.Node, m.ID, m.Ranges, m.Rev)
		}
	case kindChat:
		if m.Chat != nil {
			r.broadcast(mustJSON(map[string]any{"type": "chat", "message": m.Chat}), nil)
		}
	}
}

// stateMsg is the room's state message: its users, ranges at pubRev.
// Called with mu held.
func (r *room) stateMsg() busMsg {
	nodes := make([]string, 0, len(r.peers.nodes)+1)
	nodes = append(nodes, r.srv.node)
	for n := range r.peers.nodes {
		nodes = append(nodes, n)
	}
	return busMsg{Kind: kindState, Rev: r.pubRev, Users: r.users.List(), Nodes: nodes}
}

// peerState replaces what the room knows of node's users with users
// (ranges at rev), telling the sessions what changed. Called with mu
// held.
func (r *room) peerState(node string, n *peerNode, users []presence.User, rev uint64) {
	old := n.users
	n.users = make(map[string]presence.User, len(users))
	for _, u := range users {
		prev, had := old[u.ID]
		ranges := u.Ranges
		u.Ranges = prev.Ranges
		if !had {
			u.Ranges = []presence.Range{}
		}
		n.users[u.ID] = u
		if _, local := r.users.Get(u.ID); !local && (!had || !presence.SameProfile(prev, u)) {
			r.broadcast(mustJSON(map[string]any{"type": "user", "user": u}), nil)
		}
		r.peerRanges(node, u.ID, ranges, rev)
	}
	for id := range old {
		if _, ok := n.users[id]; !ok {
			delete(r.peers.ahead, peerUser{node, id})
			r.leaveUnlessPresent(id)
		}
	}
}

// peerRanges sets the ranges of node's user id, given at revision rev,
// and tells the sessions when they moved. Ranges at a revision the room
// has not published yet wait in ahead until it has. Called with mu held.
func (r *room) peerRanges(node, id string, ranges []presence.Range, rev uint64) {
	key := peerUser{node, id}
	if rev > r.pubRev {
		r.peers.ahead[key] = aheadRanges{rev: rev, ranges: ranges}
		return
	}
	delete(r.peers.ahead, key)
	n := r.peers.nodes[node]
	u, ok := n.users[id]
	if !ok {
		return
	}
	at, err := r.rangesAt(ranges, rev)
	if err != nil {
		// Too old to move to pubRev, or not of this text: the next
		// cursor or state brings the user's current ones.
		return
	}
	if slices.Equal(at, u.Ranges) {
		return
	}
	u.Ranges = at
	n.users[id] = u
	r.broadcast(mustJSON(map[string]any{"type": "cursor", "rev": r.pubRev, "user": id, "ranges": at}), nil)
}

// catchUp sets the remote ranges that waited for revisions the room has
// now published. Called with mu held.
func (r *room) catchUp() {
	for key, a := range r.peers.ahead {
		if a.rev <= r.pubRev {
			r.peerRanges(key.node, key.user, a.ranges, a.rev)
		}
	}
}

// leaveUnlessPresent tells the sessions that user id left, unless it is still
// here or on another node. Called with mu held.
func (r *room) leaveUnlessPresent(id string) {
	if _, local := r.users.Get(id); local || r.peers.has(id) {
		return
	}
	r.broadcast(mustJSON(map[string]string{"type": "leave", "user": id}), nil)
}

// refresh re-announces the room's users to the other nodes, and lets the
// users of nodes not heard from for three refreshes leave. It runs every
// PeerRefresh on the server's clock.
func (r *room) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.peers == nil {
		return
	}
	cfg := r.srv.cfg
	r.publishBus(r.stateMsg())
	now := cfg.Now()
	for node, n := range r.peers.nodes {
		if now.Sub(n.heard) <= 3*cfg.PeerRefresh {
			continue
		}
		delete(r.peers.nodes, node)
		for key := range r.peers.ahead {
			if key.node == node {
				delete(r.peers.ahead, key)
			}
		}
		for id := range n.users {
			r.leaveUnlessPresent(id)
		}
	}
	r.peers.tick = cfg.AfterFunc(cfg.PeerRefresh, r.refresh)
}

// userList is everyone in the document, by id: this node's users, and
// the other nodes'. Called with mu held.
func (r *room) userList() []presence.User {
	list := r.users.List()
	if r.peers == nil || len(r.peers.nodes) == 0 {
		return list
	}
	seen := make(map[string]bool, len(list))
	for _, u := range list {
		seen[u.ID] = true
	}
	for _, n := range r.peers.nodes {
		for id, u := range n.users {
			if !seen[id] {
				seen[id] = true
				list = append(list, u)
			}
		}
	}
	slices.SortFunc(list, func(a, b presence.User) int { return strings.Compare(a.ID, b.ID) })
	return list
}

// fromBusAll handles a message for every node: the administrator's
// events, link rotations.
func (s *Server) fromBusAll(data []byte) {
	var m busMsg
	if err := json.Unmarshal(data, &m); err != nil {
		s.log.Warn("a message from the cluster that is not one", "err", err)
		return
	}
	switch m.Kind {
	case kindEvent:
		if m.Event != nil {
			e := m.Event.event()
			for _, r := range s.liveRooms() {
				r.emitHere(e, nil)
			}
		}
	case kindRotate:
		if m.Doc != "" {
			s.closeLinks(m.Doc, m.Links...)
		}
		s.endStreams(m.Links...)
	}
}

// liveRooms lists the server's rooms.
func (s *Server) liveRooms() []*room {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// tellRotated tells the other nodes that links of doc (or, with doc "",
// of a workspace) were replaced: they close the sessions and end the
// event streams opened with them, as this node did.
func (s *Server) tellRotated(doc string, links ...string) {
	if s.cfg.Bus != nil {
		s.publishBus(busAll, busMsg{Kind: kindRotate, Doc: doc, Links: links})
	}
}

// tellDeleted tells the other nodes that doc was deleted: they close its
// sessions (4002), as this node's documents layer did.
func (s *Server) tellDeleted(doc string) {
	if s.cfg.Bus != nil {
		s.publishBus(doc, busMsg{Kind: kindDeleted})
	}
}

// emitElsewhere publishes an event sent over REST to a document that has
// no room on this node, for its rooms on the others, under a limit per
// document as a room's own (apiEvents). It reports a refusal by the
// limit.
func (s *Server) emitElsewhere(doc string, e appEvent, limited bool) (refused bool) {
	if limited {
		s.mu.Lock()
		lim := s.apiRates[doc]
		if lim == nil {
			if len(s.apiRates) >= 4096 {
				for d, l := range s.apiRates {
					if l.TokensAt(s.cfg.Now()) >= float64(l.Burst()) {
						delete(s.apiRates, d)
					}
				}
			}
			lim = rate.NewLimiter(rate.Limit(s.cfg.EventsPerSecond), int(2*s.cfg.EventsPerSecond))
			s.apiRates[doc] = lim
		}
		ok := lim.AllowN(s.cfg.Now(), 1)
		s.mu.Unlock()
		if !ok {
			return true
		}
	}
	s.publishBus(doc, busMsg{Kind: kindEvent, Event: e.wire()})
	s.metrics.events.Inc()
	return false
}
