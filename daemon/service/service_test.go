package service

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// directives parses a unit file into section -> key -> values.
func directives(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	sec := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = strings.Trim(line, "[]")
			out[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("unit line %d %q is not key=value in a section", i+1, line)
			}
			out[sec][k] = append(out[sec][k], v)
		}
	}
	return out
}

// The unit text: a dedicated user, restart on failure, the watchdog with notify, the
// hardening the issue asks for, the state in /var/lib/scope and only the cameras as devices.
func TestUnitText(t *testing.T) {
	text, err := Unit{Binary: "/usr/bin/scope", Config: "/etc/scope/scope.yaml"}.Text()
	if err != nil {
		t.Fatal(err)
	}
	d := directives(t, text)
	want := map[string]string{
		"Type": "notify", "NotifyAccess": "main", "ExecStart": "/usr/bin/scope serve --config /etc/scope/scope.yaml",
		"User": "scope", "Group": "scope", "SupplementaryGroups": "video", "Restart": "on-failure", "WatchdogSec": "30s",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"DevicePolicy": "closed", "DeviceAllow": "char-video4linux rw", "StateDirectory": "scope", "StateDirectoryMode": "0700",
		"Environment": "SCOPE_DATA_DIR=/var/lib/scope", "WorkingDirectory": "/var/lib/scope", "CapabilityBoundingSet": "",
		"UMask": "0077", "LimitCORE": "0", "TimeoutStopSec": "10s",
	}
	for k, v := range want {
		got := d["Service"][k]
		if len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if d["Install"]["WantedBy"][0] != "multi-user.target" {
		t.Errorf("[Install] %v", d["Install"])
	}
	for _, k := range []string{"ReadWritePaths", "PrivateDevices", "MemoryDenyWriteExecute", "DynamicUser"} {
		if _, ok := d["Service"][k]; ok {
			t.Errorf("[Service] %s is set; the unit keeps the cameras and GPU runtimes working without it", k)
		}
	}
	// Other choices are rendered as given; unsafe ones are refused.
	text, _ = Unit{Binary: "/opt/scope/bin/scope", User: "kiosk", Watchdog: 60}.Text()
	d = directives(t, text)
	if d["Service"]["ExecStart"][0] != "/opt/scope/bin/scope serve" || d["Service"]["User"][0] != "kiosk" || d["Service"]["WatchdogSec"][0] != "60s" {
		t.Fatalf("custom unit: %v", d["Service"])
	}
	for _, bad := range []Unit{{Binary: "scope"}, {Binary: "/usr/bin/scope; rm -rf /"}, {Binary: "/usr/bin/scope", Config: "rel.yaml"},
		{Binary: "/usr/bin/scope", User: "a b"}, {Binary: "/x y/scope"}} {
		if _, err := bad.Text(); err == nil {
			t.Errorf("unit %+v was accepted", bad)
		}
	}
}

// sd_notify reaches the socket systemd names, and the watchdog pings only while healthy.
func TestNotifyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "40000") // 40 ms: pings every 20 ms
	t.Setenv("WATCHDOG_PID", "")
	if WatchdogInterval() != 40*time.Millisecond {
		t.Fatalf("interval %v", WatchdogInterval())
	}
	if err := Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		b := make([]byte, 256)
		n, err := conn.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	if got := read(); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
	var healthy atomic.Bool
	healthy.Store(true)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		Watchdog(stop, func() (bool, string) {
			if healthy.Load() {
				return true, "interpreting"
			}
			return false, "stuck"
		})
		close(done)
	}()
	if got := read(); got != "STATUS=interpreting" {
		t.Fatalf("got %q", got)
	}
	if got := read(); got != "WATCHDOG=1" {
		t.Fatalf("got %q", got)
	}
	healthy.Store(false)
	for got := read(); got != "STATUS=stuck"; got = read() {
	}
	// While unhealthy no ping arrives (systemd then restarts the service).
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 64)
	if n, err := conn.Read(b); err == nil {
		t.Fatalf("a ping while unhealthy: %q", b[:n])
	}
	close(stop)
	<-done
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Notify("READY=1"); err != nil {
		t.Fatalf("without systemd Notify must do nothing: %v", err)
	}
}

func TestJournalPriorities(t *testing.T) {
	var b bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug)
	log := slog.New(JournalHandler(&b, lv)).With("stage", "translate")
	log.Error("store refused a write", "err", "disk full")
	log.Warn("camera lost")
	log.Info("ready")
	log.Debug("frame")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%q", lines)
	}
	for i, p := range []string{"<3>", "<4>", "<6>", "<7>"} {
		if !strings.HasPrefix(lines[i], p+"level=") || strings.Contains(lines[i], "time=") || !strings.Contains(lines[i], "stage=translate") {
			t.Errorf("line %d %q: want priority %s, no time, the attributes", i, lines[i], p)
		}
	}
}
