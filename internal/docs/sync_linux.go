package docs

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data, and its size if that changed, but not its
// times: what bbolt does on Linux.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
