package service

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
)

// InJournal reports whether stderr goes to systemd's journal ($JOURNAL_STREAM names it).
func InJournal() bool { return os.Getenv("JOURNAL_STREAM") != "" }

// JournalHandler writes records as text lines prefixed with their syslog priority
// ("<3>" error, "<4>" warning, "<6>" info, "<7>" debug), which journald reads from a
// service's stderr (SyslogLevelPrefix=yes, systemd's default), so `journalctl -p warning`
// filters them. The time is left out: the journal stamps every line.
func JournalHandler(w io.Writer, level slog.Leveler) slog.Handler {
	lw := &prefixWriter{w: w}
	inner := slog.NewTextHandler(lw, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return &journalHandler{inner: inner, w: lw}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		out.WriteString(p.prefix)
		out.Write(line)
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

type journalHandler struct {
	inner slog.Handler
	w     *prefixWriter
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	switch {
	case r.Level >= slog.LevelError:
		h.w.prefix = "<3>"
	case r.Level >= slog.LevelWarn:
		h.w.prefix = "<4>"
	case r.Level >= slog.LevelInfo:
		h.w.prefix = "<6>"
	default:
		h.w.prefix = "<7>"
	}
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), w: h.w}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), w: h.w}
}
