// Package kiosk is the daemon's page, embedded in the binary: no CDN, no web fonts,
// nothing fetched from anywhere but the daemon, so it works offline.
//
// Two views of one conversation: the signer's (/: the large caption of what will be
// shown, the confirm step for unsure sentences, the interpreter and end-and-erase
// buttons, the notice at the start of each encounter) and the staff's (/staff: the
// confirmed sentences, unsure ones clearly marked, and the reply box). A kiosk with two
// screens opens one on each; a tablet turned round shows either. Both follow the live
// events over a WebSocket (package api) and reconnect by themselves.
//
// launcher/ holds a desktop entry and a systemd user unit that open the page in
// Chromium's kiosk mode on boot.
package kiosk

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed static launcher
var files embed.FS

// Files is the page's static files (kiosk.css, kiosk.js, ...), served under /static/.
func Files() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Page returns one of the HTML pages: index.html (signer) or staff.html.
func Page(name string) ([]byte, error) {
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		return nil, fmt.Errorf("kiosk page %s: %w", name, err)
	}
	return b, nil
}

// Launcher returns one of the launcher files: scope-kiosk.desktop or scope-kiosk.service.
func Launcher(name string) ([]byte, error) {
	return files.ReadFile("launcher/" + name)
}
