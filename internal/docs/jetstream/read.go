package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Since implements docs.Log.
func (l *Log) Since(doc string, rev uint64) ([]docs.Run, error) {
	if err := checkDoc(doc); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(l.ctx, 4*l.cfg.Timeout)
	defer cancel()
	// A request went unanswered (sent as the stream's leader stopped, or
	// while the connection moved to another server): read again, from
	// the next leader.
	var runs []docs.Run
	err := again(ctx, l.cfg.RetryWait/5, func() (err error) {
		runs, err = l.since(ctx, doc, rev)
		return err
	})
	if err != nil {
		return nil, l.abandoned(err)
	}
	return runs, nil
}

// since is one attempt of Since, each of its requests bounded by Timeout.
func (l *Log) since(ctx context.Context, doc string, rev uint64) ([]docs.Run, error) {
	m, err := l.lastMsg(ctx, doc)
	if m == nil || err != nil {
		return nil, err
	}
	last, err := runOf(doc, m.Sequence, m.Header, m.Data)
	if err != nil {
		return nil, err
	}
	l.saw(doc, head{seq: last.Pos, rev: last.Last()})
	switch {
	case last.Last() <= rev:
		return nil, nil
	case last.First <= rev+1:
		return []docs.Run{last}, nil
	}
	from, err := l.seqOf(ctx, doc, rev+1, last.Pos)
	if err != nil {
		return nil, err
	}
	var out []docs.Run
	err = l.read(ctx, doc, from, last.Pos, func(r docs.Run) { out = append(out, r) })
	return out, err
}

// lastMsg is doc's newest message, from the stream's leader (nil if none).
// Each request waits at most Timeout, and is sent again while ctx allows:
// one sent as the leader stops is never answered, and its successor
// answers the next.
func (l *Log) lastMsg(ctx context.Context, doc string) (*jetstream.RawStreamMsg, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		m, err := l.stream.GetLastMsgForSubject(rctx, l.revSubject(doc))
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, nil
		case err == nil:
			return m, nil
		case !retryable(err):
			return nil, fmt.Errorf("jetstream: head of %s: %w", doc, err)
		}
		if perr := pause(ctx, l.cfg.RetryWait/5); perr != nil {
			return nil, fmt.Errorf("jetstream: head of %s: %w (after %w)", doc, perr, err)
		}
	}
}

// runOf decodes a revision message.
func runOf(doc string, seq uint64, h nats.Header, body []byte) (docs.Run, error) {
	first, count, err := runRevs(h)
	if err != nil {
		return docs.Run{}, fmt.Errorf("%w (message %d)", err, seq)
	}
	return docs.Run{Doc: doc, First: first, Count: count, Body: body, Pos: seq, Node: h.Get(nodeHeader)}, nil
}

// seqOf is the stream sequence of doc's message holding revision rev, at
// or before sequence hi: a bisection over the stream with "doc's first
// message at or after N" gets, about log2(stream length) round trips, with
// no index to keep.
func (l *Log) seqOf(ctx context.Context, doc string, rev, hi uint64) (uint64, error) {
	lo := uint64(1)
	if h, ok := l.known(doc); ok && h.rev < rev && h.seq < hi {
		lo = h.seq + 1
	}
	for lo <= hi {
		mid := lo + (hi-lo)/2
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		m, err := l.stream.GetMsg(rctx, mid, jetstream.WithGetMsgSubject(l.revSubject(doc)))
		cancel()
		if err != nil {
			return 0, fmt.Errorf("jetstream: find revision %d of %s: %w", rev, doc, err)
		}
		r, err := runOf(doc, m.Sequence, m.Header, nil)
		if err != nil {
			return 0, err
		}
		switch {
		case r.Last() < rev:
			lo = m.Sequence + 1
		case r.First > rev:
			hi = mid - 1
		default:
			return m.Sequence, nil
		}
	}
	return 0, fmt.Errorf("jetstream: %s has no message holding revision %d", doc, rev)
}

// read calls fn with each of doc's messages from sequence from to to, in
// order: "doc's first message at or after N" gets, answered by the
// stream's leader, one round trip a message. No consumer is made for it:
// a consumer is placed on some server of the stream, which may be the one
// that just died. Reads are short (a conflict's catch-up is a message or
// two; a node that missed more follows the stream anyway).
func (l *Log) read(ctx context.Context, doc string, from, to uint64, fn func(docs.Run)) error {
	subject := l.revSubject(doc)
	for seq := from; seq <= to; {
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		m, err := l.stream.GetMsg(rctx, seq, jetstream.WithGetMsgSubject(subject))
		cancel()
		if err != nil {
			return fmt.Errorf("jetstream: read %s at %d: %w", doc, seq, err)
		}
		if m.Sequence > to {
			return nil
		}
		r, err := runOf(doc, m.Sequence, m.Header, m.Data)
		if err != nil {
			return err
		}
		fn(r)
		seq = m.Sequence + 1
	}
	return nil
}

// Follow implements docs.Log with an ordered consumer over the whole
// stream, which the client recreates from the next expected sequence
// whenever it sees a gap or loses its server, so no entry is skipped or
// repeated.
func (l *Log) Follow(after uint64, fn func(docs.Entry)) (func(), error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}
	}
	cons, err := l.orderedConsumer(cfg)
	if err != nil {
		return nil, fmt.Errorf("jetstream: follow %s: %w", l.cfg.Stream, err)
	}
	revs := l.cfg.Prefix + ".rev."
	var (
		mu      sync.Mutex
		stopped bool
	)
	// The consumer lives on one server: when it stops, the client sees
	// two heartbeats missed and recreates the consumer elsewhere. Every
	// Timeout/2, so the follower resumes within Timeout (nats.go's
	// default, 5s, would leave the node behind for 10s); not more often:
	// a node too busy to read a heartbeat in time would recreate its
	// consumer for nothing, which costs the cluster's API more.
	hb := jetstream.PullHeartbeat(min(max(l.cfg.Timeout/2, 500*time.Millisecond), 30*time.Second))
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return // not a stream message: nothing to deliver
		}
		e := docs.Entry{Pos: meta.Sequence.Stream}
		if doc, ok := strings.CutPrefix(m.Subject(), revs); ok {
			r, err := runOf(doc, e.Pos, m.Headers(), m.Data())
			if err != nil {
				return // a message collab did not write: skip it
			}
			l.saw(doc, head{seq: r.Pos, rev: r.Last()})
			e.Run = &r
		} else {
			e.Changes = m.Data()
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fn(e)
		}
	}, hb)
	if err != nil {
		return nil, fmt.Errorf("jetstream: follow %s: %w", l.cfg.Stream, err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}, nil
}

// orderedConsumer asks for an ordered consumer of the stream, again while
// JetStream does not answer in time (a cluster still placing its assets
// as nodes start together takes seconds now and then), up to Deadline.
func (l *Log) orderedConsumer(cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Deadline)
	defer cancel()
	var cons jetstream.Consumer
	err := again(ctx, l.cfg.RetryWait, func() (err error) {
		actx, acancel := context.WithTimeout(ctx, l.cfg.Timeout)
		defer acancel()
		cons, err = l.stream.OrderedConsumer(actx, cfg)
		return err
	})
	return cons, l.abandoned(err)
}
