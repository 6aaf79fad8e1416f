package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// revsHeader carries a run's first revision and count ("12 3"), so that
// heads and reads need not decode bodies.
const revsHeader = "Collab-Revs"

// nodeHeader names the node that appended a run (docs.Run.Node).
const nodeHeader = "Collab-Node"

// Log is a docs.Log on a JetStream stream. It is safe for concurrent use.
type Log struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	// ctx bounds every wait for the stream; Abandon ends it.
	ctx     context.Context
	abandon context.CancelCauseFunc

	mu    sync.Mutex
	heads map[string]head // each document's newest message as last seen
}

// head is a document's newest message: its stream sequence and the
// number of the last revision it holds.
type head struct{ seq, rev uint64 }

// Open returns the Log on the stream cfg names, over nc, creating the
// stream if it does not exist (it never changes an existing one: a node
// starting while a server is down must not need the whole cluster). The
// connection stays the caller's, with its credentials, TLS and reconnect
// options.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc,
		jetstream.WithDefaultTimeout(cfg.Timeout),
		jetstream.WithPublishAsyncTimeout(cfg.Timeout),
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
	)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	l := &Log{cfg: cfg, nc: nc, js: js, heads: map[string]head{}}
	l.ctx, l.abandon = context.WithCancelCause(context.Background())
	// A cluster still electing its leaders answers "no responders" or
	// not at all for a moment: ask again, each try bounded by Timeout,
	// while ctx allows.
	err = again(ctx, cfg.RetryWait, func() (err error) {
		actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		l.stream, err = js.Stream(actx, cfg.Stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			l.stream, err = js.CreateStream(actx, jetstream.StreamConfig{
				Name:        cfg.Stream,
				Description: "collab: every document's revisions, one subject each, and the metadata change sets",
				Subjects:    []string{cfg.Prefix + ".rev.*", cfg.Prefix + ".meta"},
				Retention:   jetstream.LimitsPolicy,
				Storage:     jetstream.FileStorage,
				Replicas:    cfg.Replicas,
				Duplicates:  cfg.Duplicates,
				// Kept for ever: no age, count or size limit.
				MaxMsgs:  -1,
				MaxBytes: -1,
				Discard:  jetstream.DiscardNew,
			})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", cfg.Stream, err)
	}
	return l, nil
}

// Abandon ends every wait of the Log's for the stream, now and after:
// appends, change sets and reads in flight fail with ErrAbandoned instead
// of resending until their Deadline. A node stopping calls it once its
// time to stop is up, so that a stream out of reach (its servers' quorum
// gone) does not hold it there; what was acknowledged is in the stream
// already.
func (l *Log) Abandon() { l.abandon(ErrAbandoned) }

// abandoned is err, if a wait cut short by Abandon caused it, as an
// ErrAbandoned (the NATS client's own requests say "context canceled").
func (l *Log) abandoned(err error) error {
	if err == nil || l.ctx.Err() == nil || errors.Is(err, ErrAbandoned) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAbandoned, err)
}

func (l *Log) revSubject(doc string) string { return l.cfg.Prefix + ".rev." + doc }
func (l *Log) metaSubject() string          { return l.cfg.Prefix + ".meta" }

// known returns what the Log last saw of doc's newest message.
func (l *Log) known(doc string) (head, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.heads[doc]
	return h, ok
}

// saw records that doc's newest message is at least h.
func (l *Log) saw(doc string, h head) {
	l.mu.Lock()
	if h.seq > l.heads[doc].seq {
		l.heads[doc] = h
	}
	l.mu.Unlock()
}

// Append implements docs.Log.
func (l *Log) Append(runs []docs.Run) []error {
	errs := make([]error, len(runs))
	pubs := make([]*publish, len(runs))
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Deadline)
	defer cancel()
	most := l.MaxAppend()
	for i, r := range runs {
		if err := checkDoc(r.Doc); err != nil {
			errs[i] = err
			continue
		}
		if n := len(r.Body); n > most {
			errs[i] = tooLarge(fmt.Sprintf("revisions %d to %d of %s", r.First, r.Last(), r.Doc), n, most)
			continue
		}
		h, ok := l.known(r.Doc)
		if !ok || h.rev != r.First-1 {
			// Unknown, or not what the run follows: ask the leader.
			fresh, err := l.head(ctx, r.Doc)
			if err != nil {
				errs[i] = err
				continue
			}
			l.saw(r.Doc, fresh)
			if h = fresh; h.rev != r.First-1 {
				errs[i] = &docs.ConflictError{Doc: r.Doc, Head: h.rev}
				continue
			}
		}
		m := nats.NewMsg(l.revSubject(r.Doc))
		m.Header.Set(revsHeader, strconv.FormatUint(r.First, 10)+" "+strconv.Itoa(r.Count))
		if r.Node != "" {
			m.Header.Set(nodeHeader, r.Node)
		}
		m.Data = r.Body
		pubs[i] = l.send(m, h.seq, r.Doc)
		pubs[i].doc = r.Doc
	}
	for i, p := range pubs {
		if p == nil {
			continue
		}
		seq, err := p.wait(ctx)
		if err != nil {
			errs[i] = err
			continue
		}
		runs[i].Pos = seq
		l.saw(runs[i].Doc, head{seq: seq, rev: runs[i].Last()})
	}
	for i, err := range errs {
		errs[i] = l.abandoned(err)
	}
	return errs
}

// Commit implements docs.Log.
func (l *Log) Commit(after uint64, changes []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Deadline)
	defer cancel()
	if most := l.MaxAppend(); len(changes) > most {
		return 0, tooLarge("a change set", len(changes), most)
	}
	m := nats.NewMsg(l.metaSubject())
	m.Data = changes
	seq, err := l.send(m, after, "the metadata").wait(ctx)
	return seq, l.abandoned(err)
}

// headroom is what a message needs beside its body: its subject and
// headers (message id, expected sequence, revisions, node).
const headroom = 4 << 10

// MaxAppend implements docs.Log: the NATS servers' largest message
// (max_payload, which the connection learns from the server it is on),
// less room for the subject and headers.
func (l *Log) MaxAppend() int {
	return max(int(l.nc.MaxPayload())-headroom, 0)
}

// tooLarge refuses what, a body of n bytes, as more than the most one
// message carries.
func tooLarge(what string, n, most int) error {
	return fmt.Errorf("jetstream: %s: %d bytes, more than one message carries (%d: the NATS servers' max_payload, less room for headers): %w", what, n, most, docs.ErrTooLarge)
}

// Purge implements docs.Purger: doc's revisions are removed from the
// stream.
func (l *Log) Purge(doc string) error {
	if err := checkDoc(doc); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Timeout)
	defer cancel()
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSubject(l.revSubject(doc))); err != nil {
		return fmt.Errorf("jetstream: purge %s: %w", doc, err)
	}
	l.mu.Lock()
	delete(l.heads, doc)
	l.mu.Unlock()
	return nil
}

// head asks the stream's leader for doc's newest message.
func (l *Log) head(ctx context.Context, doc string) (head, error) {
	m, err := l.lastMsg(ctx, doc)
	if m == nil || err != nil {
		return head{}, err
	}
	first, count, err := runRevs(m.Header)
	if err != nil {
		return head{}, err
	}
	return head{seq: m.Sequence, rev: first + uint64(count) - 1}, nil
}

// runRevs reads a run message's first revision and count.
func runRevs(h nats.Header) (first uint64, count int, err error) {
	f, c, ok := strings.Cut(h.Get(revsHeader), " ")
	if ok {
		first, err = strconv.ParseUint(f, 10, 64)
		if err == nil {
			count, err = strconv.Atoi(c)
		}
	}
	if !ok || err != nil || first == 0 || count <= 0 {
		return 0, 0, fmt.Errorf("jetstream: a revision message without a valid %s header (%q)", revsHeader, h.Get(revsHeader))
	}
	return first, count, nil
}

// Last implements docs.Log: the stream's last sequence, from its leader.
func (l *Log) Last() (uint64, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Timeout)
	defer cancel()
	for {
		info, err := l.stream.Info(ctx)
		if err == nil && info.State.NumDeleted == 0 {
			return info.State.LastSeq, nil
		}
		if err == nil {
			return l.lastKept(ctx, info.State.LastSeq)
		}
		if !retryable(err) {
			return 0, fmt.Errorf("jetstream: stream %s: %w", l.cfg.Stream, err)
		}
		if perr := pause(ctx, l.cfg.RetryWait/5); perr != nil {
			return 0, fmt.Errorf("jetstream: stream %s: %w (after %w)", l.cfg.Stream, perr, err)
		}
	}
}

// lastKept is the sequence of the newest message still in the stream, at
// or before last: a purge (see Purge) may have removed the newest ones,
// which a follower never receives.
func (l *Log) lastKept(ctx context.Context, last uint64) (uint64, error) {
	for seq := last; seq > 0; seq-- {
		_, err := l.stream.GetMsg(ctx, seq)
		if err == nil {
			return seq, nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, fmt.Errorf("jetstream: stream %s: %w", l.cfg.Stream, err)
		}
	}
	return 0, nil
}

// msgID names a message for deduplication: its subject, the sequence it
// expects before it, and a digest of its body.
func msgID(subject string, expect uint64, body []byte) string {
	sum := sha256.Sum256(body)
	return subject + ":" + strconv.FormatUint(expect, 10) + ":" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// validDoc reports whether doc is usable as a subject token.
func checkDoc(doc string) error {
	if doc == "" || len(doc) > 128 {
		return fmt.Errorf("jetstream: invalid document id %q", doc)
	}
	for _, c := range doc {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("jetstream: invalid document id %q", doc)
		}
	}
	return nil
}
