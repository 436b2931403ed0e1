package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"scope/config"
	"scope/ota"
)

func cmdOTA(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"keygen", "create a key folder, or rotate one role's keys (`--out KEYDIR [--role R --keys N --threshold T]`)", cmdOTAKeygen},
		{"publish", "add a bundle to a TUF repository folder and sign it (`--repo REPO --keys KEYDIR BUNDLE_DIR`)", cmdOTAPublish},
		{"install", "install from a published repository folder, offline (`--root ROOT.json PATH`)", cmdOTAInstall},
		{"check", "poll ota.repository once and install a newer bundle", cmdOTACheck},
		{"status", "print the installed bundle, the update state and the history", cmdOTAStatus},
		{"commit", "end the new bundle's probation now (it was seen to work)", cmdOTACommit},
	}
	return dispatch(ctx, a, "ota", "Signed model updates (TUF): technicians publish bundles into a repository folder that any static web "+
		"server serves; devices verify them against a pinned root, stage them in the inactive A/B slot, run the golden check, "+
		"switch atomically and roll back by themselves when the new bundle is unhealthy.", subs, args)
}

const otaKeygenHelp = `Create a key folder for ` + "`scope ota publish`" + `: ed25519 keys (PEM, mode 0600) for the
root, targets, snapshot and timestamp roles, and policy.json with each role's threshold and
expiry period. Keep the root keys offline.

With --role, rotate that role: its keys move to <role>/retired/ and new ones are written;
the next publish writes a new root that devices accept because the old root keys sign it too.`

func cmdOTAKeygen(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota keygen", "--out KEYDIR [--role ROLE] [--keys N] [--threshold T]", otaKeygenHelp)
	out := fs.String("out", "", "key folder")
	role := fs.String("role", "", "rotate only this role: root, targets, snapshot or timestamp (default: create all)")
	n := fs.Int("keys", 1, "keys per role")
	th := fs.Int("threshold", 0, "signatures needed (default 1, at most --keys)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("scope ota keygen needs --out KEYDIR: %w", errUsage)
	}
	made, err := ota.GenerateKeys(*out, *role, *n, *th)
	if err != nil {
		return err
	}
	for _, p := range made {
		fmt.Fprintln(a.stdout, "wrote", p)
	}
	if *role != "" {
		fmt.Fprintf(a.stdout, "rotated %s; the old keys are in %s/%s/retired (run `scope ota publish` to sign the new root)\n", *role, *out, *role)
	}
	return nil
}

const otaPublishHelp = `Add BUNDLE_DIR (written by ` + "`scope bundle build`" + `) to the TUF repository folder REPO and sign
new targets, snapshot and timestamp metadata; the first run creates the repository and its
root. Serve REPO with any static web server or object store, or copy it to a USB stick for
` + "`scope ota install`" + `. Devices pin REPO/root.json.

Without BUNDLE_DIR it re-signs the metadata with fresh expiry dates (run it from cron more
often than the timestamp's expiry, 7 days by default). When KEYDIR's keys or thresholds
differ from the repository's root (after ` + "`scope ota keygen --role`" + `), it writes the next root
version first (key rotation).`

func cmdOTAPublish(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota publish", "--repo REPO --keys KEYDIR [BUNDLE_DIR]", otaPublishHelp)
	repo := fs.String("repo", "", "repository folder")
	keys := fs.String("keys", "", "key folder (scope ota keygen)")
	keep := fs.Int("keep", 3, "bundles kept in the repository")
	force := fs.Bool("force", false, "publish a version not newer than the newest (devices will not install it)")
	var exp multiFlag
	fs.Var(&exp, "expires", "override a role's expiry period, ROLE=DURATION (repeatable), e.g. timestamp=24h")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *repo == "" || *keys == "" || fs.NArg() > 1 {
		return fmt.Errorf("scope ota publish needs --repo REPO --keys KEYDIR and at most one bundle folder: %w", errUsage)
	}
	o := ota.PublishOptions{Repo: *repo, Keys: *keys, Bundle: fs.Arg(0), Keep: *keep, Force: *force, Progress: a.stdout,
		Expires: map[string]time.Duration{}}
	for _, e := range exp {
		role, d, ok := strings.Cut(e, "=")
		dur, err := time.ParseDuration(d)
		if !ok || err != nil {
			return fmt.Errorf("--expires %q: want ROLE=DURATION like timestamp=24h: %w", e, errUsage)
		}
		o.Expires[role] = dur
	}
	res, err := ota.Publish(o)
	if err != nil {
		return err
	}
	if res.Target != "" {
		fmt.Fprintf(a.stdout, "published %s %s as %s\n", res.Info.Name, res.Info.Version, res.Target)
	}
	return nil
}

func otaConfig(a *app, c config.Config, root string) ota.Config {
	return ota.Config{
		DataDir: config.DataDir(), Repository: c.OTA.Repository, Root: root, Clock: c.OTA.Clock,
		Poll: time.Duration(c.OTA.Poll), MaxBundleBytes: int64(c.OTA.MaxBundleMB) << 20,
		ProbationSentences: c.OTA.ProbationSentences, Log: a.log,
	}
}

const otaInstallHelp = `Install a bundle offline from PATH, a published repository folder as it is (a USB stick
holding REPO), with the same verification as an online update: TUF metadata against the
pinned root (--root the first time; afterwards the device's stored root), the bundle's
signed length and hash, a bundle version newer than the installed one, its golden check,
then the atomic switch. A running daemon picks the new bundle up within a minute. State
lives in $SCOPE_DATA_DIR/ota.`

func cmdOTAInstall(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota install", "--root ROOT.json PATH", otaInstallHelp)
	cfgPath := configFlag(fs)
	root := fs.String("root", "", "the repository's root.json to pin (default ota.root; not needed once the device trusts a root)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("scope ota install needs the repository folder: %w", errUsage)
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	r := *root
	if r == "" {
		r = c.OTA.Root
	}
	u, err := ota.Open(otaConfig(a, c, r))
	if err != nil {
		return err
	}
	res, err := u.Install(ctx, fs.Arg(0), r)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, res.Message)
	return nil
}

func cmdOTACheck(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota check", "[--config FILE]", "Poll ota.repository once, as the daemon does every ota.poll, and install a newer bundle.")
	cfgPath := configFlag(fs)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	u, err := ota.Open(otaConfig(a, c, c.OTA.Root))
	if err != nil {
		return err
	}
	res, err := u.Update(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, res.Message)
	return nil
}

func cmdOTAStatus(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota status", "[--json]", "Print the installed bundle's version and hash, the update in progress, the last check and error, "+
		"and the recent history, from $SCOPE_DATA_DIR/ota (read only: safe while the daemon runs).")
	asJSON := fs.Bool("json", false, "print the status as JSON (as GET /api/ota does)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	s, err := ota.ReadStatus(config.DataDir())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	w := a.stdout
	fmt.Fprintf(w, "installed: %s\n", ota.Describe(s.Installed))
	if s.Installed != nil {
		fmt.Fprintf(w, "version:   %s\n", s.Installed.Version)
	}
	if s.Previous != nil {
		fmt.Fprintf(w, "previous:  %s\n", ota.Describe(s.Previous))
	}
	fmt.Fprintf(w, "phase:     %s\n", s.Phase)
	if p := s.Probation; p != nil {
		fmt.Fprintf(w, "probation: %d sentences, %d unsure, %d errors, %d restarts\n", p.Sentences, p.Unsure, p.Errors, p.Boots)
	}
	if !s.LastCheck.IsZero() {
		fmt.Fprintf(w, "last check: %s (%s)\n", s.LastCheck.Format(time.RFC3339), s.LastResult)
	}
	if s.LastError != "" {
		fmt.Fprintf(w, "last error: %s: %s\n", s.LastErrorAt.Format(time.RFC3339), s.LastError)
	}
	for _, e := range s.History {
		fmt.Fprintf(w, "  %s %-11s %s\n", e.Time.Format(time.RFC3339), e.Kind, e.Message)
	}
	return nil
}

func cmdOTACommit(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "ota commit", "", "End the probation of the bundle installed last: it stays, and the previous slot may be reused by the next update.")
	cfgPath := configFlag(fs)
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	u, err := ota.Open(otaConfig(a, c, ""))
	if err != nil {
		return err
	}
	if err := u.Commit(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "committed")
	return nil
}
