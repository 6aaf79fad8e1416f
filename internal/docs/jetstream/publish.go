package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publish is one message on its way, with its resends: what expects a
// subject's newest message to be at sequence expect.
type publish struct {
	l      *Log
	m      *nats.Msg
	expect uint64
	id     string
	what   string
	doc    string // for a run: its document
	paf    jetstream.PubAckFuture
	err    error // of the first send, when paf is nil
}

// send publishes m asynchronously: wait gets the result.
func (l *Log) send(m *nats.Msg, expect uint64, what string) *publish {
	p := &publish{l: l, m: m, expect: expect, id: msgID(m.Subject, expect, m.Data), what: what}
	p.paf, p.err = p.try()
	return p
}

func (p *publish) try() (jetstream.PubAckFuture, error) {
	return p.l.js.PublishMsgAsync(p.m,
		jetstream.WithMsgID(p.id),
		jetstream.WithExpectLastSequencePerSubject(p.expect),
		jetstream.WithExpectStream(p.l.cfg.Stream))
}

// wait returns the message's stream sequence once a majority of the
// stream's replicas stored it, sending it again (same id: stored once)
// while the failure is one a resend may cure: an acknowledgement that did
// not come, a stream between leaders, a connection moving to another
// server. A refusal because the subject moved is an error wrapping
// docs.ErrConflict.
func (p *publish) wait(ctx context.Context) (uint64, error) {
	err := p.err
	inProcess := false   // the last refusal was against an append still being stored
	maybeStored := false // an earlier attempt's fate is unknown
	for attempt := 0; ; attempt++ {
		if p.paf != nil {
			select {
			case ack := <-p.paf.Ok():
				return ack.Sequence, nil
			case err = <-p.paf.Err():
			case <-ctx.Done():
				return 0, fmt.Errorf("jetstream: append to %s: %w", p.what, context.Cause(ctx))
			}
		}
		wait := p.l.cfg.RetryWait
		inProcess = false
		if last, ok := movedTo(err); ok && !maybeStored && last > p.expect && p.doc != "" {
			// Another node's run came first (no copy of this one was
			// stored): the refusal names the subject's newest message,
			// which the node's follower brings.
			return 0, &docs.ConflictError{Doc: p.doc, Pos: last}
		}
		if apiCode(err) == codeWrongLastInProcess {
			// A replicated stream refuses while an earlier publish to the
			// subject (another node's, usually) is still being stored.
			// Soon again: it lands within a round trip, and the next
			// refusal, if any, names it.
			wait = min(wait, time.Millisecond<<min(attempt, 2))
			inProcess = true
		} else if apiCode(err) == codeWrongLast {
			stored, moved, cerr := p.conflict(ctx, maybeStored)
			switch {
			case cerr != nil:
				// Unknown: ask again.
			case stored != 0:
				// A resend whose first copy was stored after all.
				return stored, nil
			case moved != nil:
				return 0, moved
			}
		} else if retryable(err) {
			maybeStored = true
		} else {
			return 0, fmt.Errorf("jetstream: append to %s: %w", p.what, err)
		}
		if attempt >= p.l.cfg.Retries && inProcess {
			// Other nodes keep appending: the caller catches up with them.
			return 0, fmt.Errorf("%w: %s: appends of other nodes kept arriving first", docs.ErrConflict, p.what)
		}
		if attempt >= p.l.cfg.Retries {
			return 0, fmt.Errorf("jetstream: append to %s: %w (after %d attempts)", p.what, err, attempt+1)
		}
		if perr := pause(ctx, wait); perr != nil {
			return 0, fmt.Errorf("jetstream: append to %s: %w (after %w)", p.what, perr, err)
		}
		p.paf, err = p.try()
		if err != nil {
			p.paf = nil
		}
	}
}

// conflict looks, at the stream's leader, at the subject after a refusal:
// moved is the error to return if another message follows the expected
// one (for a run, a docs.ConflictError naming the document's newest
// revision, which the node's follower is about to bring); stored, if the
// message was sent before (resent), is its sequence when that first copy
// is there after all.
func (p *publish) conflict(ctx context.Context, resent bool) (stored uint64, moved error, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.l.cfg.Timeout)
	defer cancel()
	last, err := p.l.stream.GetLastMsgForSubject(ctx, p.m.Subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		if p.expect == 0 {
			return 0, nil, nil
		}
		return 0, p.moved(0), nil
	case err != nil:
		return 0, nil, err
	case last.Sequence == p.expect:
		return 0, nil, nil
	}
	if resent {
		next := last
		if last.Header.Get(jetstream.MsgIDHeader) != p.id {
			if next, err = p.l.stream.GetMsg(ctx, p.expect+1, jetstream.WithGetMsgSubject(p.m.Subject)); err != nil {
				return 0, nil, err
			}
		}
		if next.Header.Get(jetstream.MsgIDHeader) == p.id {
			return next.Sequence, nil, nil
		}
	}
	var head uint64
	if first, count, err := runRevs(last.Header); err == nil {
		head = first + uint64(count) - 1
	}
	return 0, p.moved(head), nil
}

// moved is the refusal of p because its subject moved on, to head if
// known.
func (p *publish) moved(head uint64) error {
	if p.doc != "" {
		return &docs.ConflictError{Doc: p.doc, Head: head}
	}
	return fmt.Errorf("%w: %s moved past sequence %d", docs.ErrConflict, p.what, p.expect)
}

// JetStream's error codes for a refused expected last subject sequence,
// and for a duplicate id whose first copy is still being stored.
const (
	codeWrongLast          = 10071
	codeWrongLastInProcess = 10164
	codeDuplicateInProcess = 10158
)

// apiError is JetStream's answer in err, if err is one.
func apiError(err error) *jetstream.APIError {
	var je jetstream.JetStreamError
	if errors.As(err, &je) {
		return je.APIError()
	}
	return nil
}

func apiCode(err error) jetstream.ErrorCode {
	if ae := apiError(err); ae != nil {
		return ae.ErrorCode
	}
	return 0
}

// movedTo reads, from a refusal because the subject's newest message is
// not the one expected ("wrong last sequence: N"), the sequence N of the
// one it is.
func movedTo(err error) (uint64, bool) {
	ae := apiError(err)
	if ae == nil || ae.ErrorCode != codeWrongLast {
		return 0, false
	}
	_, n, ok := strings.Cut(ae.Description, ": ")
	if !ok {
		return 0, false
	}
	seq, perr := strconv.ParseUint(n, 10, 64)
	return seq, perr == nil
}

// retryable reports whether sending the same message again may succeed.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if apiCode(err) == codeDuplicateInProcess {
		return true
	}
	return errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrTooManyStalledMsgs) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded)
}

// again runs try until it succeeds, fails in a way that asking again
// would not mend (see retryable), or ctx ends, pausing wait between
// tries, and returns try's last error.
func again(ctx context.Context, wait time.Duration, try func() error) error {
	for {
		err := try()
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		if pause(ctx, wait) != nil {
			return err
		}
	}
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
