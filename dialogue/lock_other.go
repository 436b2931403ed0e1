//go:build !unix

package dialogue

import (
	"errors"
	"os"
)

// lockFile is not implemented off unix: refuse rather than wipe a file in use.
func lockFile(*os.File) error {
	return errors.New("wiping a file in place is only supported on unix; remove it by hand with scope stopped")
}
