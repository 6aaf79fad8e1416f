package jetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/ot"
	"github.com/nats-io/nats.go"
)

// A Forwarder hands edits between a cluster's nodes (docs.Config.Forward)
// by request and reply on core NATS: node N answers on the subject
// <prefix>.node.<N>.submit (Serve). Nothing of it is persisted: a request
// that gets no answer is an edit the sending node goes on trying itself,
// and the edit's op id keeps it from being applied twice.
type Forwarder struct {
	nc      *nats.Conn
	prefix  string
	timeout time.Duration
}

// NewForwarder makes a Forwarder on nc, with cfg's Prefix and Timeout.
func NewForwarder(nc *nats.Conn, cfg Config) *Forwarder {
	cfg = cfg.withDefaults()
	return &Forwarder{nc: nc, prefix: cfg.Prefix, timeout: cfg.Timeout}
}

func (f *Forwarder) subject(node string) string { return f.prefix + ".node." + node + ".submit" }

type forwardRequest struct {
	Doc    string       `json:"doc"`
	Base   uint64       `json:"base"`
	Op     ot.Operation `json:"op"`
	Author string       `json:"author"`
	OpID   string       `json:"opId"`
}

type forwardReply struct {
	Rev       uint64       `json:"rev"`
	Op        ot.Operation `json:"op"`
	Duplicate bool         `json:"duplicate,omitempty"`
	Depth     int          `json:"depth,omitempty"`
	// Code is set when the edit failed: one of forwardCodes' keys, or
	// "unavailable" for anything else.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// The errors an answer names, each as the same docs error on the asking
// node. Others (the answering node behind, losing races itself, closing)
// leave the edit to the asking node.
var forwardCodes = map[string]error{
	"bad_operation": docs.ErrBadOperation,
	"too_large":     docs.ErrTooLarge,
	"stale_op":      docs.ErrStaleOp,
	"not_found":     docs.ErrNotFound,
	"invalid":       docs.ErrInvalid,
}

// Forward implements docs.Config.Forward: its errors wrap
// docs.ErrNotHandedOver but for the edit's own (forwardCodes).
func (f *Forwarder) Forward(node, doc string, e docs.Edit) (docs.Result, error) {
	body, err := json.Marshal(forwardRequest{Doc: doc, Base: e.Base, Op: e.Op, Author: e.Author, OpID: e.OpID})
	if err != nil {
		return docs.Result{}, fmt.Errorf("%w: %w", docs.ErrNotHandedOver, err)
	}
	m, err := f.nc.Request(f.subject(node), body, f.timeout)
	if err != nil {
		return docs.Result{}, fmt.Errorf("%w: jetstream: to node %s: %w", docs.ErrNotHandedOver, node, err)
	}
	var r forwardReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return docs.Result{}, fmt.Errorf("%w: jetstream: node %s answered %q: %w", docs.ErrNotHandedOver, node, m.Data, err)
	}
	if r.Code != "" {
		if sentinel, ok := forwardCodes[r.Code]; ok {
			return docs.Result{}, fmt.Errorf("%w (node %s: %s)", sentinel, node, r.Message)
		}
		return docs.Result{}, fmt.Errorf("%w: jetstream: node %s: %s", docs.ErrNotHandedOver, node, r.Message)
	}
	return docs.Result{Rev: r.Rev, Op: r.Op, Duplicate: r.Duplicate, Depth: r.Depth}, nil
}

// maxForwarded bounds the handed-over edits a node works on at once;
// beyond it, it answers "unavailable" and the asking node goes on itself.
const maxForwarded = 256

// Serve answers the edits other nodes hand to node, submitting each to m
// (docs.Manager.SubmitHere), until stop is called.
func (f *Forwarder) Serve(m *docs.Manager, node string) (stop func(), err error) {
	busy := make(chan struct{}, maxForwarded)
	sub, err := f.nc.Subscribe(f.subject(node), func(msg *nats.Msg) {
		select {
		case busy <- struct{}{}:
		default:
			answer(msg, forwardReply{Code: "unavailable", Message: "too many edits handed over at once"})
			return
		}
		go func() {
			defer func() { <-busy }()
			var req forwardRequest
			if err := json.Unmarshal(msg.Data, &req); err != nil {
				answer(msg, forwardReply{Code: "invalid", Message: err.Error()})
				return
			}
			res, err := m.SubmitHere(req.Doc, docs.Edit{Base: req.Base, Op: req.Op, Author: req.Author, OpID: req.OpID})
			answer(msg, replyOf(res, err))
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: serving handed-over edits: %w", err)
	}
	return func() { sub.Unsubscribe() }, nil
}

func replyOf(res docs.Result, err error) forwardReply {
	if err == nil {
		return forwardReply{Rev: res.Rev, Op: res.Op, Duplicate: res.Duplicate, Depth: res.Depth}
	}
	for code, sentinel := range forwardCodes {
		if errors.Is(err, sentinel) {
			return forwardReply{Code: code, Message: err.Error()}
		}
	}
	return forwardReply{Code: "unavailable", Message: err.Error()}
}

func answer(msg *nats.Msg, r forwardReply) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	msg.Respond(b)
}
