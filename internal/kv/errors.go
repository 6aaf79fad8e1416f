package kv

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

var (
	// ErrBucketNotFound is bbolt's error for a bucket that does not exist:
	// DeleteBucket returns it, and Apply wraps it for a change in a bucket
	// the transaction lacks.
	ErrBucketNotFound = bolt.ErrBucketNotFound

	// ErrMalformed is wrapped by every error of Changes.UnmarshalBinary.
	ErrMalformed = errors.New("kv: malformed changes")
)
