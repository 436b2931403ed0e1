// Command scope is SCOPE's one binary: the on-device sign language interpreter and the
// tools around it (model conversion, bundles, updates, evaluation, benchmarks, synthetic
// data). Run `scope help` for the list of commands, `scope <command> --help` for each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// app carries what every command gets: its output streams and a logger.
type app struct {
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// level is log's level; commands that read the configuration set it from log.level.
	level *slog.LevelVar
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists every subcommand. Each lives in its own file of this package.
func commands() []command {
	return []command{
		{"convert", "convert TFLite models to ONNX (`scope convert in.tflite out.onnx`, `--all`)", cmdConvert},
		{"run", "interpret signing (default: the synthetic demo) and print each stage's timing", cmdRun},
		{"service", "scope serve as a system service: `scope service install|uninstall|start|stop|status|unit|kiosk`", cmdService},
		{"serve", "the daemon: interpret a camera (default: the synthetic demo) with the kiosk page, API and /metrics", cmdServe},
		{"pose", "find the 543 Holistic keypoints in an image, video or camera (`scope pose --input v.mp4 --out v.pose`)", cmdPose},
		{"version", "print scope's version and the versions the loaded libraries report", cmdVersion},
		{"config", "print or check the configuration (`scope config print`)", cmdConfig},
		{"eval", "score models: `scope eval slr`, `scope eval slt`, `scope eval interpret`", cmdEval},
		{"gate", "the confidence gate: `scope gate calibrate --data DIR`, `scope gate show`", cmdGate},
		{"bench", "measure speed: `scope bench pose|slr|slt`", cmdBench},
		{"llm", "translator model tools: `scope llm convert|quantize|convert-adapter|info`", cmdLLM},
		{"synth", "write a synthetic dialogue corpus: `scope synth --out DIR --dialogues N --seed S`", cmdSynth},
		{"dataset", "dataset tools: `scope dataset stats|check|import`", cmdDataset},
		{"wipe", "delete every stored conversation on this device (`scope wipe --yes`)", cmdWipe},
		{"bundle", "model bundles: `scope bundle build --out DIR`, `scope bundle verify DIR`", cmdBundle},
		{"ota", "signed model updates: `scope ota keygen|publish|install|check|status|commit`", cmdOTA},
		{"conversations", "list, show, export or delete stored conversations (`scope conversations list`)", cmdConversations},
	}
}

// stopGrace is how long a command may take to wind down after SIGINT or SIGTERM before
// the process exits anyway: a stage stuck in native code (a model run on an overloaded
// machine) must not keep a service manager or a user waiting for minutes.
const stopGrace = 8 * time.Second

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go stopOnSignal(sigs, cancel, stopGrace, os.Stderr, os.Exit)
	err := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	if s, ok := received.Load().(os.Signal); ok && err != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "scope: stopped")
		os.Exit(signalExitCode(s))
	}
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "scope:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "scope:", err)
		os.Exit(1)
	}
}

// stopOnSignal cancels the commands' context at the first signal. The command then has
// grace to return; a second signal, or the end of grace, exits at once with the shell's
// code for the signal (130 for SIGINT, 143 for SIGTERM). bbolt commits are atomic, so an
// exit in the middle of one loses only that transaction.
func stopOnSignal(sigs <-chan os.Signal, cancel func(), grace time.Duration, stderr io.Writer, exit func(int)) {
	s, ok := <-sigs
	if !ok {
		return
	}
	received.Store(s)
	cancel()
	fmt.Fprintf(stderr, "scope: %s: stopping (again to stop at once)\n", s)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case again, ok := <-sigs:
		if !ok {
			return
		}
		fmt.Fprintf(stderr, "scope: %s again: exiting now\n", again)
	case <-t.C:
		fmt.Fprintf(stderr, "scope: still stopping %s after %s: exiting now\n", grace, s)
	}
	exit(signalExitCode(s))
}

// received is the signal that stopped the command, if one did.
var received atomic.Value

func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

var errUsage = errors.New("run with --help for usage")

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{stdout: stdout, stderr: stderr, level: new(slog.LevelVar)}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: a.level}))
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return runMain(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, a, args[1:])
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "scope - on-device sign language interpreter (SCOPE)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: scope <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `scope <command> --help` for a command's flags.")
}

// newFlags returns a FlagSet whose --help prints the command's description, usage
// line and flags to the app's stdout.
func newFlags(a *app, name, usageLine, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("scope "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: scope %s %s\n\n", name, usageLine)
		if description != "" {
			fmt.Fprintln(w, strings.TrimSpace(description))
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; --help prints usage to stdout and returns flag.ErrHelp.
func parseFlags(a *app, fs *flag.FlagSet, args []string) error {
	for _, x := range args {
		if x == "-h" || x == "--help" || x == "-help" {
			fs.SetOutput(a.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return finiteFlags(fs)
}

// finiteFlags refuses NaN and Inf in every number flag that was set: the flag package
// parses them, and a bound written as "x < lo" lets NaN through (bench slr --fps Inf
// panicked, synth --bias NaN and bundle build --golden-margin NaN were used as given).
func finiteFlags(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		if x, ok := g.Get().(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			err = fmt.Errorf("--%s %s: want a finite number: %w", f.Name, f.Value, errUsage)
		}
	})
	return err
}
