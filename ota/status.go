package ota

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"scope/models/bundle"
)

// Status is what `scope ota status`, GET /api/ota and /metrics show.
type Status struct {
	Repository  string     `json:"repository,omitempty"`
	Clock       string     `json:"clock"`
	Phase       string     `json:"phase"`
	Installed   *Installed `json:"installed"` // null: the built-in models
	Previous    *Installed `json:"previous,omitempty"`
	Update      *Installed `json:"update,omitempty"` // in progress
	Probation   *Probation `json:"probation,omitempty"`
	Highest     string     `json:"highest_version,omitempty"`
	LastCheck   time.Time  `json:"last_check"`
	LastResult  string     `json:"last_result,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt time.Time  `json:"last_error_at"`
	Failed      []string   `json:"failed,omitempty"`
	History     []Event    `json:"history"`
}

// ReadStatus reads the state under dataDir without changing anything (no recovery, no
// lock): safe while the daemon runs.
func ReadStatus(dataDir string) (*Status, error) {
	s := store{path: filepath.Join(dataDir, "ota", "state.db")}
	st, err := s.load()
	if err != nil {
		return nil, err
	}
	h, err := s.history(20)
	if err != nil {
		return nil, err
	}
	out := &Status{Phase: st.Phase, Installed: st.Current, Previous: st.Previous, Update: st.Target, Probation: st.Probation,
		Highest: st.Highest, LastCheck: st.LastCheck, LastResult: st.LastResult, LastError: st.LastError,
		LastErrorAt: st.LastErrorAt, Failed: st.Failed, History: h}
	if out.History == nil {
		out.History = []Event{}
	}
	return out, nil
}

// Status returns the updater's status.
func (u *Updater) Status() (*Status, error) {
	s, err := ReadStatus(u.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.Repository, s.Clock = u.cfg.Repository, u.cfg.Clock
	return s, nil
}

// ServeHTTP answers GET /api/ota with the status as JSON.
func (u *Updater) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprintf(w, `{"error":"use GET"}`+"\n")
		return
	}
	s, err := u.Status()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s)
}

// Metric is one sample for /metrics (the daemon registers these with its Prometheus
// registry: see Metrics).
type Metric struct {
	Name   string
	Help   string
	Labels map[string]string
	Value  float64
}

// Metrics returns the OTA samples: scope_bundle_info{version,hash} (1 for what runs),
// scope_ota_last_check_timestamp_seconds, scope_ota_last_check_success,
// scope_ota_last_error_timestamp_seconds and scope_ota_probation (1 while on probation).
func (s *Status) Metrics() []Metric {
	version, hash, name := "builtin", "", "builtin"
	if s.Installed != nil {
		version, hash, name = s.Installed.Version, s.Installed.Hash, s.Installed.Name
	}
	ok := 0.0
	if s.LastResult != "" && s.LastResult != "error" {
		ok = 1
	}
	prob := 0.0
	if s.Phase == PhaseProbation {
		prob = 1
	}
	return []Metric{
		{"scope_bundle_info", "The model bundle this device runs (value 1).", map[string]string{"name": name, "version": version, "hash": hash}, 1},
		{"scope_ota_last_check_timestamp_seconds", "When the updater last checked for a bundle (Unix time, 0: never).", nil, unix(s.LastCheck)},
		{"scope_ota_last_check_success", "1 when the last check succeeded.", nil, ok},
		{"scope_ota_last_error_timestamp_seconds", "When the updater last failed (Unix time, 0: never); the message is in GET /api/ota.", nil, unix(s.LastErrorAt)},
		{"scope_ota_probation", "1 while a new bundle is on probation after its switch.", nil, prob},
	}
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// WriteMetrics writes the samples in Prometheus' text format (for a daemon without a
// Prometheus registry, and for tests).
func WriteMetrics(w io.Writer, ms []Metric) {
	for _, m := range ms {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s", m.Name, m.Help, m.Name, m.Name)
		if len(m.Labels) > 0 {
			var parts []string
			for _, k := range []string{"name", "version", "hash"} {
				if v, ok := m.Labels[k]; ok {
					parts = append(parts, k+"="+strconv.Quote(v))
				}
			}
			fmt.Fprintf(w, "{%s}", strings.Join(parts, ","))
		}
		fmt.Fprintf(w, " %g\n", m.Value)
	}
}

// Describe is a one-line summary of an installed bundle for people.
func Describe(i *Installed) string {
	if i == nil {
		return "built-in models (no OTA bundle installed)"
	}
	return fmt.Sprintf("%s %s (hash %s, slot %s, since %s)", i.Name, i.Version, bundle.ShortHash(i.Hash), i.Slot, i.Since.Format(time.RFC3339))
}
