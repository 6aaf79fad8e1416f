// Package jetstream is the cluster's Log (see docs.Log) on NATS
// JetStream: one replicated stream holds every document's revisions, on
// a subject per document (<prefix>.rev.<doc>), and the metadata change
// sets, on one subject (<prefix>.meta). The stream's order is the order
// every node applies them in.
//
// Two nodes can never both write revision N+1 of a document: a run is
// published with Nats-Expected-Last-Subject-Sequence, the stream sequence
// of the document's newest message as this node knows it, and JetStream
// refuses it if another message of the document came in between
// (docs.ErrConflict: the node reads what it missed, transforms and tries
// again). A change set is published the same way on the metadata subject,
// so metadata changes are serialised across the cluster. Each message
// carries Nats-Msg-Id, made of its subject, first revision and a digest of
// its body, so a publish sent again after a lost acknowledgement is
// stored once, and a rival's different run under the same revision is not
// mistaken for it.
//
// Publishes are asynchronous: the runs of one group commit, one per
// document, are all sent before any acknowledgement is awaited. An
// acknowledgement means the message is stored by a majority of the
// stream's replicas; each server fsyncs on its own schedule (see
// internal/natsembed and docs/CLUSTER.md).
//
// A Forwarder carries docs.Config.Forward between nodes: an edit that
// keeps losing races for its document is handed, by request and reply on
// core NATS (<prefix>.node.<node>.submit), to the node that keeps
// winning, which submits it as its own (docs.Manager.SubmitHere).
package jetstream
