package jetstream

import "errors"

// ErrAbandoned is what a wait for the stream ends with after Log.Abandon.
var ErrAbandoned = errors.New("jetstream: no longer waiting for the stream (the node is stopping)")
