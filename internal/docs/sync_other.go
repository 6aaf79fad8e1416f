//go:build !linux

package docs

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
