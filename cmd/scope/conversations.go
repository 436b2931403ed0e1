package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"scope/config"
	"scope/dialogue"
	"scope/models/bundle"
)

func cmdConversations(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"list", "list the stored conversations, oldest first", cmdConversationsList},
		{"show", "print one conversation's turns: `scope conversations show ID`", cmdConversationsShow},
		{"export", "write one conversation as JSON: `scope conversations export ID [-o FILE]`", cmdConversationsExport},
		{"delete", "delete one conversation with its turns: `scope conversations delete ID`", cmdConversationsDelete},
		{"check", "verify the store file after a crash or a copy", cmdConversationsCheck},
	}
	return dispatch(ctx, a, "conversations", "Inspect and delete the conversations kept on this device (the dialogue store, a bbolt file: dialogue.path in the configuration, or --db). Stop the scope daemon first: only one process may open the store.", subs, args)
}

// dbFlags adds --db and --config to fs.
func dbFlags(fs *flag.FlagSet) (db, cfg *string) {
	db = fs.String("db", "", "dialogue store file (default: dialogue.path from the configuration, else $SCOPE_DATA_DIR/dialogue.db, else ~/.local/share/scope/dialogue.db)")
	cfg = configFlag(fs)
	return db, cfg
}

// dialoguePath resolves --db, falling back to the configuration's dialogue.path.
func dialoguePath(db, cfgPath string) (string, error) {
	if db != "" {
		return db, nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", fmt.Errorf("finding the dialogue store (or pass --db): %w", err)
	}
	return cfg.DialoguePath(), nil
}

// openDialogue opens an existing store for a command-line tool. Retention is left to
// the daemon, so that looking at a store never deletes from it; commands that only look
// open it read-only, so that they work on a read-only file and never write into one
// (a damaged one included).
func openDialogue(a *app, db, cfgPath string, readOnly bool) (*dialogue.Store, error) {
	path, err := dialoguePath(db, cfgPath)
	if err != nil {
		return nil, err
	}
	return dialogue.Open(path, dialogue.Options{MustExist: true, ReadOnly: readOnly, Logger: a.log})
}

// parseWithID parses flags that may stand before or after one conversation ID.
func parseWithID(a *app, fs *flag.FlagSet, args []string) (dialogue.ConversationID, error) {
	if err := parseFlags(a, fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, fmt.Errorf("%s needs a conversation ID (see `scope conversations list`): %w", fs.Name(), errUsage)
	}
	arg := fs.Arg(0)
	if err := parseFlags(a, fs, fs.Args()[1:]); err != nil {
		return 0, err
	}
	if fs.NArg() != 0 {
		return 0, fmt.Errorf("%s takes one conversation ID, got also %q: %w", fs.Name(), fs.Args(), errUsage)
	}
	id, err := dialogue.ParseConversationID(arg)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, errUsage)
	}
	return id, nil
}

func cmdConversationsList(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "conversations list", "[--db FILE] [--json]", "List the stored conversations, oldest first: ID, start, last activity, turns, device and domain.")
	db, cfg := dbFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("scope conversations list takes no arguments, got %q: %w", fs.Args(), errUsage)
	}
	s, err := openDialogue(a, *db, *cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	cs, err := s.Conversations(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if cs == nil {
			cs = []dialogue.Conversation{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cs)
	}
	if len(cs) == 0 {
		fmt.Fprintf(a.stdout, "no conversations in %s\n", s.Path())
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTARTED\tLAST ACTIVITY\tTURNS\tDEVICE\tDOMAIN")
	for _, c := range cs {
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", c.ID, stamp(c.Started), stamp(c.LastActivity), c.Turns, orDash(c.Device), orDash(c.Domain))
	}
	return w.Flush()
}

func cmdConversationsShow(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "conversations show", "ID [--db FILE]", "Print one conversation: who said what and when, and for signed turns the recogniser's gloss hypotheses with their scores.")
	db, cfg := dbFlags(fs)
	id, err := parseWithID(a, fs, args)
	if err != nil {
		return err
	}
	s, err := openDialogue(a, *db, *cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return err
	}
	turns, err := s.Turns(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "conversation %d  device %s  domain %s  started %s  turns %d\n", c.ID, orDash(c.Device), orDash(c.Domain), stamp(c.Started), c.Turns)
	for _, t := range turns {
		model := ""
		switch {
		case t.Bundle != nil:
			model = "  [bundle " + t.Bundle.Version + " " + bundle.ShortHash(t.Bundle.Hash) + "]"
		case t.ModelVersion != "":
			model = "  [model " + t.ModelVersion + "]"
		}
		switch {
		case t.InterpreterRequest:
			model += "  [interpreter requested]"
		case t.Unsure && t.Confirmed:
			model += "  [confirmed by the signer]"
		case t.Unsure && t.Rejected:
			model += "  [rejected: signed again]"
		case t.Unsure:
			model += "  [unsure, not confirmed]"
		}
		fmt.Fprintf(a.stdout, "#%-3d %s  %-7s  %s%s\n", t.Seq, t.End.Local().Format("15:04:05"), t.Speaker, t.Text, model)
		if len(t.Hypotheses) > 0 {
			hs := make([]string, len(t.Hypotheses))
			for i, h := range t.Hypotheses {
				hs[i] = fmt.Sprintf("%s (%.2f)", strings.Join(h.Glosses, " "), h.Score)
			}
			fmt.Fprintf(a.stdout, "      glosses: %s\n", strings.Join(hs, " | "))
		}
	}
	return nil
}

func cmdConversationsExport(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "conversations export", "ID [-o FILE] [--db FILE]", "Write one conversation and all its turns as a JSON document (format "+dialogue.ExportFormat+") to stdout or FILE. FILE is created readable by you only, like the store.")
	db, cfg := dbFlags(fs)
	out := fs.String("o", "", "write to this file instead of stdout")
	id, err := parseWithID(a, fs, args)
	if err != nil {
		return err
	}
	s, err := openDialogue(a, *db, *cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if *out == "" {
		return s.Export(ctx, id, a.stdout)
	}
	// Write beside the target and rename, so a failed export leaves no half file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".scope-export-*")
	if err != nil {
		return fmt.Errorf("exporting conversation %d to %s: %w", id, *out, err)
	}
	defer os.Remove(tmp.Name())
	if err := s.Export(ctx, id, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("exporting conversation %d to %s: %w", id, *out, err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("exporting conversation %d to %s: %w", id, *out, err)
	}
	fmt.Fprintf(a.stderr, "wrote conversation %d to %s\n", id, *out)
	return nil
}

func cmdConversationsDelete(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "conversations delete", "ID [--db FILE]", "Delete one conversation with its turns and the cached embeddings of their text. (`scope wipe` deletes everything.)")
	db, cfg := dbFlags(fs)
	id, err := parseWithID(a, fs, args)
	if err != nil {
		return err
	}
	s, err := openDialogue(a, *db, *cfg, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.DeleteConversation(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "deleted conversation %d from %s\n", id, s.Path())
	return nil
}

func cmdConversationsCheck(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "conversations check", "[--db FILE]", "Read the whole store and verify bbolt's pages and that conversations, turns and the retention index agree.")
	db, cfg := dbFlags(fs)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	s, err := openDialogue(a, *db, *cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Check(ctx); err != nil {
		return fmt.Errorf("%s: %w\n(export what you need with `scope conversations export`, then `scope wipe` starts an empty store)", s.Path(), err)
	}
	cs, err := s.Conversations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: ok (%d conversations)\n", s.Path(), len(cs))
	return nil
}

func stamp(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
