package dialogue

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultPath is where the store lives unless configured: $SCOPE_DATA_DIR/dialogue.db,
// else $XDG_DATA_HOME/scope/dialogue.db, else ~/.local/share/scope/dialogue.db.
func DefaultPath() (string, error) {
	if d := os.Getenv("SCOPE_DATA_DIR"); d != "" {
		return filepath.Join(d, "dialogue.db"), nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "scope", "dialogue.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the dialogue store: %w; set SCOPE_DATA_DIR or pass --db", err)
	}
	return filepath.Join(home, ".local", "share", "scope", "dialogue.db"), nil
}
