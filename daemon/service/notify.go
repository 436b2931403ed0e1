package service

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state to systemd's notification socket ($NOTIFY_SOCKET), as sd_notify(3)
// does: "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...". It does nothing (and returns
// nil) when the process does not run under systemd with notifications.
func Notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	return nil
}

// WatchdogInterval is systemd's WatchdogSec for this process ($WATCHDOG_USEC, when
// $WATCHDOG_PID is unset or this process), or 0 when the watchdog is off.
func WatchdogInterval() time.Duration {
	us := os.Getenv("WATCHDOG_USEC")
	if us == "" {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}

// Watchdog pings systemd's watchdog at half its interval while healthy() says the
// process works, and puts healthy's reason in the unit's status line. When healthy()
// fails the pings stop, so systemd restarts the service after WatchdogSec. It returns
// when stop is closed; without a watchdog it only updates the status.
func Watchdog(stop <-chan struct{}, healthy func() (bool, string)) {
	every := WatchdogInterval() / 2
	watch := every > 0
	if !watch {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	for {
		ok, status := healthy()
		if status != last {
			_ = Notify("STATUS=" + status)
			last = status
		}
		if ok && watch {
			_ = Notify("WATCHDOG=1")
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// ErrNoSystemd is returned by commands that need systemd when it is not running.
var ErrNoSystemd = errors.New("systemd is not running on this machine (no /run/systemd/system)")

// UnderSystemd reports whether systemd is the init system here.
func UnderSystemd() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}
