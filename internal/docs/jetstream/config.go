package jetstream

import "time"

// Config names the stream and says how the Log waits. Zero fields take
// the defaults written beside them. Every node of a cluster must use the
// same Stream and Prefix.
type Config struct {
	// Stream holds every document's revisions and the metadata change
	// sets. Default "COLLAB".
	Stream string
	// Prefix starts every subject. Default "collab".
	Prefix string
	// Replicas is how many servers keep each message; a publish is
	// acknowledged once a majority has it. Default 3 (survives the loss
	// of one server); 1 for a single server. Only used when the stream is
	// created.
	Replicas int
	// Timeout bounds each request and each wait for an acknowledgement.
	// Default 5s.
	Timeout time.Duration
	// Retries is how many times a publish is sent again, with the same
	// message id, after its acknowledgement timed out or no server
	// answered (a stream between leaders). Default 20.
	Retries int
	// RetryWait is the pause before such a resend. Default 250ms.
	RetryWait time.Duration
	// Deadline bounds an append or a change set, resends included: past
	// it the write fails (an edit is refused as storage unavailable, and
	// its client sends it again). It outlasts a stream leader's election
	// (a few seconds). Default 20s.
	Deadline time.Duration
	// Duplicates is the stream's deduplication window; it must outlast
	// Deadline. Default 5 minutes. Only used when the
	// stream is created.
	Duplicates time.Duration
	// MaxPending caps publishes awaiting their acknowledgement. Default
	// 4000.
	MaxPending int
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "COLLAB"
	}
	if c.Prefix == "" {
		c.Prefix = "collab"
	}
	if c.Replicas <= 0 {
		c.Replicas = 3
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 20
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 250 * time.Millisecond
	}
	if c.Deadline <= 0 {
		c.Deadline = 20 * time.Second
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 5 * time.Minute
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4000
	}
	return c
}
