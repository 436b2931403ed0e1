// Package service runs `scope serve` as a system service: the hardened systemd unit,
// install/uninstall/start/stop/status through github.com/kardianos/service, readiness
// and the watchdog over sd_notify, and log lines with journal priorities.
package service

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// Unit describes the service to install.
type Unit struct {
	// Binary is the absolute path of scope; Config the configuration file ("" for none).
	Binary, Config string
	// User runs the daemon (a dedicated system account, default "scope"), with the
	// supplementary group "video" for the cameras.
	User string
	// Watchdog is WatchdogSec in seconds (default 30): the daemon pings at half of it
	// while its loops turn; systemd restarts it when the pings stop.
	Watchdog int
}

// unitTemplate is the systemd unit. Hardening, and why each line is there:
//   - a dedicated user, no new privileges, no capabilities, native syscalls of the
//     @system-service set only;
//   - the whole file system read-only (ProtectSystem=strict) but the state directory
//     /var/lib/scope (StateDirectory, 0700), no home directories, a private /tmp;
//   - devices: none but video4linux (the cameras, /dev/video*); a Jetson or a CUDA GPU
//     adds its devices in a drop-in (`systemctl edit scope`: DeviceAllow=/dev/nvidia0 rw ...);
//   - MemoryDenyWriteExecute is left off: CUDA and TensorRT compile kernels at run time
//     into writable, executable memory;
//   - no core dumps (they would hold what was signed);
//   - left off as well: PrivateUsers (the camera's group "video" must stay effective) and
//     ProcSubset=pid (the process metrics and the CPU discovery read /proc/stat and
//     /proc/cpuinfo); @resources stays allowed (ONNX Runtime sets thread affinity).
//
// Type=notify: the daemon says READY=1 when it serves, pings WATCHDOG=1 while healthy and
// puts its state (ready, or why not) in the unit's status line.
const unitTemplate = `# SCOPE daemon ({{.Binary}} serve). Written by ` + "`scope service install`" + `;
# local changes go in a drop-in: systemctl edit scope
[Unit]
Description=SCOPE sign language interpreter (scope serve)
Documentation=file:///usr/share/doc/scope/README.md
After=network.target
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=notify
NotifyAccess=main
ExecStart={{.Binary}} serve{{if .Config}} --config {{.Config}}{{end}}
User={{.User}}
Group={{.User}}
SupplementaryGroups=video
Environment=SCOPE_DATA_DIR=/var/lib/scope
WorkingDirectory=/var/lib/scope
StateDirectory=scope
StateDirectoryMode=0700
UMask=0077
Restart=on-failure
RestartSec=2s
TimeoutStartSec=120s
TimeoutStopSec=10s
WatchdogSec={{.Watchdog}}s
LimitCORE=0

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateMounts=yes
DevicePolicy=closed
DeviceAllow=char-video4linux rw
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`

// Text renders the unit file.
func (u Unit) Text() (string, error) {
	if u.User == "" {
		u.User = "scope"
	}
	if u.Watchdog <= 0 {
		u.Watchdog = 30
	}
	for _, x := range []struct{ what, v string }{{"binary", u.Binary}, {"config", u.Config}, {"user", u.User}} {
		if strings.ContainsAny(x.v, " \t\n\"'\\%$;") {
			return "", fmt.Errorf("service %s %q: spaces, quotes and %%, $, ; are not allowed in a unit's ExecStart/User", x.what, x.v)
		}
	}
	if !strings.HasPrefix(u.Binary, "/") {
		return "", fmt.Errorf("service binary %q: want an absolute path", u.Binary)
	}
	if u.Config != "" && !strings.HasPrefix(u.Config, "/") {
		return "", fmt.Errorf("service config %q: want an absolute path", u.Config)
	}
	var b bytes.Buffer
	if err := template.Must(template.New("unit").Parse(unitTemplate)).Execute(&b, u); err != nil {
		return "", err
	}
	return b.String(), nil
}
