// Package roombus carries collab's rooms between the nodes of a cluster
// over core NATS: it is the server's Bus (see internal/server, bus.go).
// Each document's rooms share their ephemeral messages (presence,
// cursors, app events, chat) on the subject collab.room.<document id>;
// nothing is persisted, and a node that is not subscribed when a message
// goes out never sees it (presence is re-announced for that).
//
// New takes a connection and the node's name. The name travels in a
// header of every message (Collab-Node), so that a node drops its own
// messages, which NATS echoes back to it.
//
// # Never blocking
//
// Publish queues the message for a goroutine of the Bus that hands it to
// NATS, whose client may write to its socket when its buffer fills: a
// room publishes with its lock held, and must not wait on the network.
// A full queue drops the message. A subscriber that falls behind has
// messages dropped by NATS once more than its pending limits wait. Every
// drop is counted (Dropped) and logged, at most once every ten seconds.
//
// Ordering: a subscriber gets each node's messages in the order that
// node published them (one queue, one goroutine and one connection per
// Bus; NATS keeps a publisher's order), one at a time.
package roombus

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Errors of Publish and Subscribe.
var (
	ErrBadDoc = errors.New("roombus: a document id must be one NATS subject token (printable ASCII, no '.', '*' or '>')")
	ErrFull   = errors.New("roombus: the publish queue is full: message dropped")
	ErrClosed = errors.New("roombus: closed")
)

const (
	subjectPrefix = "collab.room."
	headerNode    = "Collab-Node"

	queueLen = 8192             // messages waiting for the publishing goroutine
	logEvery = 10 * time.Second // at most one log line about drops this often
)

// Bus is the server's Bus over one NATS connection. Its methods are safe
// for concurrent use.
type Bus struct {
	nc   *nats.Conn
	node string
	hdr  nats.Header // {Collab-Node: node}, shared by every message and never changed
	log  *slog.Logger

	// The pending limits of each subscription: beyond them NATS drops
	// the messages for it (a slow consumer).
	pendingMsgs, pendingBytes int

	out       chan outMsg
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the publishing goroutine

	dropped atomic.Int64 // messages lost: the queue full, a publish failed, a subscriber behind
	logged  atomic.Int64 // when a drop was last logged, in Unix nanoseconds
}

type outMsg struct {
	subject string
	data    []byte
}

// New returns a Bus over nc for the node named node (unique in the
// cluster), logging to slog.Default. Close it before closing nc.
func New(nc *nats.Conn, node string) *Bus {
	b := &Bus{
		nc: nc, node: node, hdr: nats.Header{headerNode: []string{node}}, log: slog.Default(),
		pendingMsgs: 65536, pendingBytes: 64 << 20,
		out: make(chan outMsg, queueLen), done: make(chan struct{}),
	}
	b.wg.Add(1)
	go b.run()
	return b
}

// Publish queues msg for the rooms of doc on the other nodes. It does not
// wait: a message the queue has no room for is dropped (ErrFull).
func (b *Bus) Publish(doc string, msg []byte) error {
	if !validDoc(doc) {
		return ErrBadDoc
	}
	select {
	case <-b.done:
		return ErrClosed
	default:
	}
	select {
	case b.out <- outMsg{subject: subjectPrefix + doc, data: msg}:
		return nil
	default:
		b.lost(1, "the publish queue is full")
		return ErrFull
	}
}

// Subscribe calls fn with the messages the other nodes publish to doc,
// one at a time, until stop is called. stop does not wait for a call of
// fn under way (fn may call it).
func (b *Bus) Subscribe(doc string, fn func(msg []byte)) (stop func(), err error) {
	if !validDoc(doc) {
		return nil, ErrBadDoc
	}
	var sub atomic.Pointer[nats.Subscription]
	seen := 0 // drops of sub already counted; read by the handler only
	s, err := b.nc.Subscribe(subjectPrefix+doc, func(m *nats.Msg) {
		if m.Header.Get(headerNode) != b.node {
			fn(m.Data)
		}
		if s := sub.Load(); s != nil {
			if n, err := s.Dropped(); err == nil && n > seen {
				b.lost(n-seen, "a subscriber fell behind (slow consumer)")
				seen = n
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if err := s.SetPendingLimits(b.pendingMsgs, b.pendingBytes); err != nil {
		s.Unsubscribe()
		return nil, err
	}
	sub.Store(s)
	return func() { _ = s.Unsubscribe() }, nil
}

// Dropped is the number of messages lost so far: to a full queue, to a
// failed publish, to a subscriber that fell behind.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Close publishes what is queued and stops. Later Publish calls return
// ErrClosed; subscriptions last until stopped or nc is closed.
func (b *Bus) Close() {
	b.closeOnce.Do(func() { close(b.done) })
	b.wg.Wait()
}

// run hands the queued messages to NATS, in order, until Close; then
// what is left in the queue.
func (b *Bus) run() {
	defer b.wg.Done()
	for {
		select {
		case m := <-b.out:
			b.send(m)
		case <-b.done:
			for {
				select {
				case m := <-b.out:
					b.send(m)
				default:
					return
				}
			}
		}
	}
}

func (b *Bus) send(m outMsg) {
	if err := b.nc.PublishMsg(&nats.Msg{Subject: m.subject, Header: b.hdr, Data: m.data}); err != nil {
		b.lost(1, "publishing: "+err.Error())
	}
}

// lost counts n messages dropped, and logs it unless it logged within
// logEvery.
func (b *Bus) lost(n int, why string) {
	total := b.dropped.Add(int64(n))
	now := time.Now().UnixNano()
	last := b.logged.Load()
	if now-last < int64(logEvery) || !b.logged.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn("room messages between cluster nodes dropped", "node", b.node, "why", why, "droppedSoFar", total)
}

// validDoc reports whether doc is one NATS subject token: printable
// ASCII without the separator and the wildcards. (Document ids are UUIDs.)
func validDoc(doc string) bool {
	if doc == "" {
		return false
	}
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}
