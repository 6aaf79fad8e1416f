package main

import (
	"os"
	"syscall"
)

// fdatasync is what collab's revision log calls on Linux.
func fdatasync(f *os.File) error {
	for {
		if err := syscall.Fdatasync(int(f.Fd())); err != syscall.EINTR {
			return err
		}
	}
}
