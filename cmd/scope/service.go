package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"scope/daemon/kiosk"
	"scope/daemon/service"
	"scope/internal/assets"
)

func cmdService(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"install", "write, enable the hardened systemd unit (as root) and create the user scope", serviceAction("install")},
		{"uninstall", "stop, disable and remove the unit (conversations in /var/lib/scope stay)", serviceAction("uninstall")},
		{"start", "start the service", serviceAction("start")},
		{"stop", "stop the service (drains, closes the store)", serviceAction("stop")},
		{"status", "say whether the service is installed and running", serviceAction("status")},
		{"unit", "print the unit file that install writes", serviceAction("unit")},
		{"kiosk", "print the Chromium kiosk launcher: a systemd user unit, or --desktop an autostart entry", cmdServiceKiosk},
	}
	return dispatch(ctx, a, "service", "Run `scope serve` as a system service (systemd) through kardianos/service: a dedicated user, restart on\nfailure, hardening (read-only system, no home, private /tmp, cameras only), systemd's watchdog,\nlogs in the journal (journalctl -u scope).", subs, args)
}

func serviceAction(action string) func(ctx context.Context, a *app, args []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		fs := newFlags(a, "service "+action, "[--config FILE] [--user NAME] [--binary PATH]",
			"The unit runs BINARY serve --config FILE as USER, with its state in /var/lib/scope.")
		def := assets.ConfigFile()
		if def == "" {
			def = "/etc/scope/scope.yaml"
		}
		cfg := fs.String("config", def, "the configuration file the daemon reads")
		usr := fs.String("user", "scope", "the system user the daemon runs as (created by install)")
		exe, _ := os.Executable()
		if p, err := filepath.EvalSymlinks(exe); err == nil {
			exe = p
		}
		bin := fs.String("binary", exe, "the scope binary the unit runs")
		watchdog := fs.Int("watchdog", 30, "WatchdogSec: restart the daemon when it stops answering for this many seconds")
		if err := parseFlags(a, fs, args); err != nil {
			return err
		}
		u := service.Unit{Binary: *bin, Config: *cfg, User: *usr, Watchdog: *watchdog}
		if action == "unit" {
			text, err := u.Text()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(a.stdout, text)
			return err
		}
		if action == "install" {
			if _, err := os.Stat(*cfg); err != nil {
				return fmt.Errorf("--config %s: %w (write one: scope config print > %s, then edit it)", *cfg, err, *cfg)
			}
		}
		c, err := service.NewController(u)
		if err != nil {
			return err
		}
		switch action {
		case "install":
			err = c.Install()
			if err == nil {
				fmt.Fprintf(a.stdout, "installed scope.service (%s serve --config %s, user %s); start it with: scope service start\n", *bin, *cfg, *usr)
			}
		case "uninstall":
			err = c.Uninstall()
			if err == nil {
				fmt.Fprintln(a.stdout, "removed scope.service; the conversations in /var/lib/scope are kept (scope wipe removes them)")
			}
		case "start":
			err = c.Start()
		case "stop":
			err = c.Stop()
		case "status":
			var st string
			st, err = c.Status()
			if err == nil {
				fmt.Fprintf(a.stdout, "scope.service: %s\n", st)
			}
		}
		return err
	}
}

func cmdServiceKiosk(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "service kiosk", "[--desktop]", "Print the launcher that opens the signer's page in Chromium's kiosk mode on boot:\na systemd user unit (~/.config/systemd/user/scope-kiosk.service), or with --desktop an\nautostart entry (~/.config/autostart/scope-kiosk.desktop).")
	desktop := fs.Bool("desktop", false, "print the desktop autostart entry instead of the user unit")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	name := "scope-kiosk.service"
	if *desktop {
		name = "scope-kiosk.desktop"
	}
	b, err := kiosk.Launcher(name)
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(b)
	return err
}
