package main

import (
	"context"
	"fmt"
	"io"
)

// subcommand is one verb of a command that has several (`scope eval slr`,
// `scope bench pose`, ...).
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// dispatch runs the subcommand named by args[0].
func dispatch(ctx context.Context, a *app, cmd, what string, subs []subcommand, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := a.stdout
		if len(args) == 0 {
			w = a.stderr
		}
		subUsage(w, cmd, what, subs)
		if len(args) == 0 {
			return fmt.Errorf("scope %s needs a subcommand: %w", cmd, errUsage)
		}
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, a, args[1:])
		}
	}
	subUsage(a.stderr, cmd, what, subs)
	return fmt.Errorf("unknown subcommand %q of scope %s: %w", args[0], cmd, errUsage)
}

func subUsage(w io.Writer, cmd, what string, subs []subcommand) {
	fmt.Fprintf(w, "Usage: scope %s <subcommand> [flags]\n\n%s\n\nSubcommands:\n", cmd, what)
	for _, s := range subs {
		fmt.Fprintf(w, "  %-16s %s\n", s.name, s.summary)
	}
}
