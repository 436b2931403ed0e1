//go:build unix

package dialogue

import (
	"os"
	"syscall"
)

// lockFile takes the same exclusive, non-blocking lock that bbolt takes on its file.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
