package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"

	kservice "github.com/kardianos/service"
)

// Name is the systemd unit's name (scope.service).
const Name = "scope"

// program satisfies kardianos/service's Interface. systemd starts `scope serve` itself
// (Type=notify), so the library is used for installing and controlling the unit only.
type program struct{}

func (program) Start(kservice.Service) error { return nil }
func (program) Stop(kservice.Service) error  { return nil }

// Controller installs and controls the unit through kardianos/service.
type Controller struct {
	unit Unit
	svc  kservice.Service
}

// NewController prepares control of the unit u (rendered and checked first).
func NewController(u Unit) (*Controller, error) {
	text, err := u.Text()
	if err != nil {
		return nil, err
	}
	cfg := &kservice.Config{
		Name:        Name,
		DisplayName: "SCOPE sign language interpreter",
		Description: "SCOPE sign language interpreter (scope serve)",
		Executable:  u.Binary,
		Arguments:   []string{"serve"},
		UserName:    u.User,
		// The unit is ours, rendered and tested in full (Unit.Text); the library writes
		// it as it is (it has no template directives left) and runs systemctl.
		Option: kservice.KeyValue{"SystemdScript": text},
	}
	s, err := kservice.New(program{}, cfg)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return &Controller{unit: u, svc: s}, nil
}

// Platform names the service manager found ("linux-systemd", ...).
func (c *Controller) Platform() string { return c.svc.Platform() }

// Install creates the user if needed and the state directory's parent, writes and
// enables the unit. It needs root and systemd.
func (c *Controller) Install() error {
	if err := needSystemd(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("scope service install needs root (sudo scope service install)")
	}
	if err := ensureUser(c.unit.User); err != nil {
		return err
	}
	if err := c.svc.Install(); err != nil {
		return fmt.Errorf("installing %s.service: %w (scope service uninstall removes an old one)", Name, err)
	}
	return nil
}

// Uninstall stops, disables and removes the unit. /var/lib/scope (the conversations) and
// the user stay; `scope wipe` and userdel remove them.
func (c *Controller) Uninstall() error {
	if err := needSystemd(); err != nil {
		return err
	}
	_ = c.svc.Stop()
	return c.svc.Uninstall()
}

// Start and Stop the service.
func (c *Controller) Start() error {
	if err := needSystemd(); err != nil {
		return err
	}
	return c.svc.Start()
}

func (c *Controller) Stop() error {
	if err := needSystemd(); err != nil {
		return err
	}
	return c.svc.Stop()
}

// Status is the service's state in words.
func (c *Controller) Status() (string, error) {
	if err := needSystemd(); err != nil {
		return "", err
	}
	st, err := c.svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return "not installed", nil
	case err != nil:
		return "", err
	case st == kservice.StatusRunning:
		return "running", nil
	case st == kservice.StatusStopped:
		return "stopped", nil
	}
	return "unknown", nil
}

func needSystemd() error {
	if !UnderSystemd() {
		return ErrNoSystemd
	}
	return nil
}

// ensureUser creates the dedicated system account (no login, no home of its own: its
// home is the state directory) unless it exists.
func ensureUser(name string) error {
	if _, err := user.Lookup(name); err == nil {
		return nil
	}
	out, err := exec.Command("useradd", "--system", "--user-group", "--home-dir", "/var/lib/scope", "--no-create-home",
		"--shell", "/usr/sbin/nologin", "--comment", "SCOPE interpreter daemon", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("creating the system user %s: %v: %s", name, err, out)
	}
	return nil
}
