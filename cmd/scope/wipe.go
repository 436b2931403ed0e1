package main

import (
	"context"
	"errors"
	"fmt"

	"scope/dialogue"
)

func cmdWipe(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "wipe", "[--yes] [--db FILE]", `Delete every conversation, turn and cached embedding on this device: the dialogue
store file is overwritten with zeros and removed (the next start creates an empty one).
This cannot be undone. Without --yes it only says what would be deleted. It also works
on a damaged store that scope can no longer open. Stop the scope daemon first.`)
	db, cfg := dbFlags(fs)
	yes := fs.Bool("yes", false, "really delete everything")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("scope wipe takes no arguments, got %q: %w", fs.Args(), errUsage)
	}
	path, err := dialoguePath(*db, *cfg)
	if err != nil {
		return err
	}
	what := describeStore(path)
	if !*yes {
		if what == "" {
			fmt.Fprintf(a.stdout, "nothing to wipe: no dialogue store at %s\n", path)
			return nil
		}
		fmt.Fprintf(a.stdout, "would delete %s\n", what)
		return fmt.Errorf("not wiped: run `scope wipe --yes` to delete it: %w", errUsage)
	}
	existed, err := dialogue.WipeFile(path)
	if err != nil {
		return err
	}
	if !existed {
		fmt.Fprintf(a.stdout, "nothing to wipe: no dialogue store at %s\n", path)
		return nil
	}
	fmt.Fprintf(a.stdout, "wiped %s\n", what)
	return nil
}

// describeStore says what a wipe would delete, or "" when there is no store. A store
// that cannot be opened is still named, since wiping it is how the user recovers.
func describeStore(path string) string {
	s, err := dialogue.Open(path, dialogue.Options{MustExist: true})
	switch {
	case errors.Is(err, dialogue.ErrNoStore):
		return ""
	case err != nil:
		return fmt.Sprintf("the dialogue store %s (it cannot be read: %v)", path, err)
	}
	defer s.Close()
	cs, err := s.Conversations(context.Background())
	if err != nil {
		return fmt.Sprintf("the dialogue store %s (it cannot be read: %v)", path, err)
	}
	turns := 0
	for _, c := range cs {
		turns += c.Turns
	}
	return fmt.Sprintf("%d conversations (%d turns) in %s", len(cs), turns, path)
}
