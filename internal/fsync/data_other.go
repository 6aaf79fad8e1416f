//go:build !linux

// Package fsync makes a file's writes durable: on Linux its data and size
// only (fdatasync), elsewhere by File.Sync.
package fsync

import "os"

// Data flushes f's writes to stable storage.
func Data(f *os.File) error { return f.Sync() }
