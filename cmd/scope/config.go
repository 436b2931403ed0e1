package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"scope/config"
	"scope/internal/assets"
)

// configFlag adds --config to fs; the default comes from $SCOPE_CONFIG, else the
// installed file ($SCOPE_HOME/scope.yaml or /etc/scope/scope.yaml, when present).
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("SCOPE_CONFIG")
	if def == "" {
		def = assets.ConfigFile()
	}
	return fs.String("config", def, "YAML configuration file (default $SCOPE_CONFIG, else $SCOPE_HOME/scope.yaml or /etc/scope/scope.yaml when present; none: built-in defaults)")
}

func cmdConfig(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"print", "print the effective configuration: defaults, then the file, then SCOPE_* variables", cmdConfigPrint},
		{"check", "validate a configuration file and report every problem", cmdConfigCheck},
	}
	return dispatch(ctx, a, "config", "Inspect SCOPE's configuration. Settings come from built-in defaults, a YAML file (--config or $SCOPE_CONFIG), then environment variables SCOPE_<SECTION>_<KEY> (e.g. SCOPE_CAPTURE_SOURCE).", subs, args)
}

func cmdConfigPrint(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "config print", "[--config FILE]", "Print the effective configuration as YAML. Save it as a starting point for your own file. Secrets (daemon.token) are shown as "+config.Redacted+".")
	path := configFlag(fs)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*path)
	if err != nil {
		return err
	}
	out, err := c.Redact().YAML()
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(out)
	return err
}

func cmdConfigCheck(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "config check", "FILE", "Validate FILE (with the environment applied) and report every problem: values, and the files and folders it names (models, adapters, ONNX Runtime library, TLS files).")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("scope config check needs one FILE: %w", errUsage)
	}
	// The files are checked even when a value is wrong, so that one run lists everything.
	c, err := config.Load(fs.Arg(0))
	if ferr := c.CheckFiles(); ferr != nil {
		ferr = fmt.Errorf("config %s: %w", fs.Arg(0), ferr)
		if err == nil {
			return ferr
		}
		return errors.Join(err, ferr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: ok\n", fs.Arg(0))
	return nil
}
