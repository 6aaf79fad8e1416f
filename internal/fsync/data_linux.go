// Package fsync makes a file's writes durable the way bbolt does on
// Linux: its data, and its size if that changed, but not its times.
package fsync

import (
	"os"
	"syscall"
)

// Data flushes f's data (fdatasync), retrying when interrupted.
func Data(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
