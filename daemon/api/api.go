// Package api is the daemon's HTTP and WebSocket interface: the kiosk page, the
// conversation API, live events, health and metrics.
//
//	GET    /                                   the signer's view (kiosk page)
//	GET    /staff                              the staff's view
//	GET    /healthz                            200 while the engine is live (watchdog, liveness)
//	GET    /readyz                             200 when models are loaded and frames arrive
//	GET    /metrics                            Prometheus metrics
//	GET    /api/status                         the engine's health, input, bundle, open conversation
//	GET    /api/ota                            the OTA updater's status (installed bundle, probation, last check, history)
//	POST   /api/conversations                  start a conversation {"domain": "pharmacy"}
//	GET    /api/conversations                  every stored conversation (JSON array)
//	GET    /api/conversations/{id}             one conversation with its turns
//	POST   /api/conversations/{id}/end         end it
//	POST   /api/conversations/{id}/replies     {"text": "..."}: the hearing person's words
//	POST   /api/conversations/{id}/confirm     {"sentence": 3, "text": "..."} or {"sentence": 3, "again": true}
//	POST   /api/conversations/{id}/interpreter {"by": "signer"|"hearing"}: ask for a human interpreter
//	POST   /api/conversations/{id}/resume      machine interpretation again
//	GET    /api/conversations/{id}/context     the turns the next sentence is read with
//	DELETE /api/conversations/{id}             end and erase
//	GET    /api/events                         WebSocket of live events (package events, as JSON)
//
// {id} may be "current" for the open conversation. The server listens on loopback by
// default; on any other address every /api and /metrics request needs the bearer token
// (Authorization: Bearer T; a WebSocket may pass ?access_token=T instead, as browsers
// cannot set headers on one), compared in constant time, and TLS is used when a
// certificate and key are configured. Requests with a body must be JSON; a request from
// another site's page (its Origin differs) or to another host name (DNS rebinding) is
// refused, so that a web page open on the kiosk cannot drive the API. Malformed requests
// get a 4xx with {"error": "..."} and never touch the running conversation.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"scope/daemon/engine"
	"scope/daemon/events"
	"scope/daemon/kiosk"
	"scope/daemon/pipeline"
	"scope/dialogue"
)

// knownPath matches the API's paths, to tell a wrong method (405) from a wrong path (404).
var knownPath = regexp.MustCompile(`^/api/(status|events|conversations(/[^/]+(/(end|replies|confirm|interpreter|resume|context))?)?)$`)

// Options configure a Server.
type Options struct {
	// Listen is host:port (daemon.listen).
	Listen string
	// Token is required on /api and /metrics when Listen is not a loopback address
	// (daemon.token).
	Token string
	// TLSCert and TLSKey switch TLS on (daemon.tls_cert, daemon.tls_key).
	TLSCert, TLSKey string
	// EventBuffer is each WebSocket client's queue (default 256 events).
	EventBuffer int
	Log         *slog.Logger
	// OTA, when set, answers GET /api/ota (the updater's status: ota.Updater).
	OTA http.Handler
}

// Server serves one engine.
type Server struct {
	e        *engine.Engine
	opt      Options
	log      *slog.Logger
	loopback bool
	token    [32]byte
	srv      *http.Server
	ln       net.Listener
}

// New checks the options: an address other than loopback needs a token.
func New(e *engine.Engine, opt Options) (*Server, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.EventBuffer <= 0 {
		opt.EventBuffer = 256
	}
	host, _, err := net.SplitHostPort(opt.Listen)
	if err != nil {
		return nil, fmt.Errorf("daemon.listen %q: %w (want host:port, for example 127.0.0.1:8580)", opt.Listen, err)
	}
	s := &Server{e: e, opt: opt, log: opt.Log, loopback: IsLoopback(host)}
	if !s.loopback && opt.Token == "" {
		return nil, fmt.Errorf("daemon.listen %s is not a loopback address: set daemon.token (clients send it as \"Authorization: Bearer <token>\"), or listen on 127.0.0.1", opt.Listen)
	}
	if (opt.TLSCert == "") != (opt.TLSKey == "") {
		return nil, errors.New("daemon.tls_cert and daemon.tls_key: set both or neither")
	}
	s.token = sha256.Sum256([]byte(opt.Token))
	return s, nil
}

// IsLoopback reports whether host (from host:port) is a loopback address or name.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler is the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	page := http.FileServerFS(kiosk.Files())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.page(w, r, "index.html") })
	mux.HandleFunc("GET /staff", func(w http.ResponseWriter, r *http.Request) { s.page(w, r, "staff.html") })
	mux.Handle("GET /static/", http.StripPrefix("/static/", page))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(s.e.Metrics().Handler()))
	mux.Handle("GET /api/status", s.auth(http.HandlerFunc(s.status)))
	if s.opt.OTA != nil {
		mux.Handle("GET /api/ota", s.auth(s.opt.OTA))
	}
	mux.Handle("POST /api/conversations", s.auth(http.HandlerFunc(s.startConversation)))
	mux.Handle("GET /api/conversations", s.auth(http.HandlerFunc(s.listConversations)))
	mux.Handle("GET /api/conversations/{id}", s.auth(http.HandlerFunc(s.getConversation)))
	mux.Handle("DELETE /api/conversations/{id}", s.auth(http.HandlerFunc(s.deleteConversation)))
	mux.Handle("POST /api/conversations/{id}/end", s.auth(http.HandlerFunc(s.endConversation)))
	mux.Handle("POST /api/conversations/{id}/replies", s.auth(http.HandlerFunc(s.reply)))
	mux.Handle("POST /api/conversations/{id}/confirm", s.auth(http.HandlerFunc(s.confirm)))
	mux.Handle("POST /api/conversations/{id}/interpreter", s.auth(http.HandlerFunc(s.interpreter)))
	mux.Handle("POST /api/conversations/{id}/resume", s.auth(http.HandlerFunc(s.resume)))
	mux.Handle("GET /api/conversations/{id}/context", s.auth(http.HandlerFunc(s.context)))
	mux.Handle("GET /api/events", s.auth(http.HandlerFunc(s.eventsWS)))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if knownPath.MatchString(r.URL.Path) {
			fail(w, http.StatusMethodNotAllowed, "%s is not allowed on %s (see the README's API section)", r.Method, r.URL.Path)
			return
		}
		fail(w, http.StatusNotFound, "no such API: %s %s (see the README's API section)", r.Method, r.URL.Path)
	})
	return s.guard(mux)
}

// Listen opens the socket (so that a port in use is an error before anything else).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opt.Listen)
	if err != nil {
		return fmt.Errorf("daemon.listen %s: %w", s.opt.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on (after Listen).
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.opt.Listen
	}
	return s.ln.Addr().String()
}

// URL is the page's address.
func (s *Server) URL() string {
	scheme := "http"
	if s.opt.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.Addr() + "/"
}

// Serve serves until ctx ends, then shuts down (open WebSockets are closed).
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.opt.TLSCert != "" {
			s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = s.srv.ServeTLS(s.ln, s.opt.TLSCert, s.opt.TLSKey)
		} else {
			err = s.srv.Serve(s.ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	<-errc
	return nil
}

// guard refuses cross-site requests and DNS rebinding, and requires JSON bodies.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				fail(w, http.StatusForbidden, "cross-origin request from %q refused", o)
				return
			}
		}
		if s.loopback {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			if !IsLoopback(host) {
				fail(w, http.StatusForbidden, "host %q refused: this daemon listens on loopback only", r.Host)
				return
			}
		}
		if r.Method == http.MethodPost && r.ContentLength != 0 {
			ct := r.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, "application/json") {
				fail(w, http.StatusUnsupportedMediaType, "send the body as JSON (Content-Type: application/json), got %q", ct)
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// auth checks the bearer token where one is required.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.loopback && s.opt.Token == "" {
			next.ServeHTTP(w, r)
			return
		}
		got := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = strings.TrimPrefix(h, "Bearer ")
		} else if r.URL.Path == "/api/events" {
			got = r.URL.Query().Get("access_token")
		}
		sum := sha256.Sum256([]byte(got))
		if got == "" || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scope"`)
			fail(w, http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer <daemon.token>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) page(w http.ResponseWriter, r *http.Request, name string) {
	b, err := kiosk.Page(name)
	if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'")
	w.Write(b)
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, Error{Error: fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decode reads a small JSON body into v, refusing unknown fields and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			fail(w, http.StatusBadRequest, "the request needs a JSON body")
		} else {
			fail(w, http.StatusBadRequest, "malformed JSON body: %v", err)
		}
		return false
	}
	if dec.More() {
		fail(w, http.StatusBadRequest, "malformed JSON body: data after the object")
		return false
	}
	return true
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h := s.e.Health()
	code := http.StatusOK
	if !h.Live {
		code = http.StatusServiceUnavailable
	}
	out := map[string]any{"live": h.Live, "reasons": h.Reasons}
	if !h.Live {
		out["error"] = "not live: " + strings.Join(h.Reasons, "; ")
	}
	writeJSON(w, code, out)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	h := s.e.Health()
	code := http.StatusOK
	if !h.Ready {
		code = http.StatusServiceUnavailable
	}
	out := map[string]any{"ready": h.Ready, "reasons": h.Reasons, "camera": h.Camera, "bundle": h.Bundle.Version, "frames": h.Frames}
	if h.CameraError != "" {
		out["camera_error"] = h.CameraError
	}
	if !h.LastFrame.IsZero() {
		out["last_frame"] = h.LastFrame
	}
	if !h.Ready {
		out["error"] = "not ready: " + strings.Join(h.Reasons, "; ")
	}
	writeJSON(w, code, out)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.e.Health())
}

// Conversation is a conversation in the API.
type Conversation struct {
	ID           dialogue.ConversationID `json:"id"`
	Device       string                  `json:"device,omitempty"`
	Domain       string                  `json:"domain"`
	Started      time.Time               `json:"started"`
	LastActivity time.Time               `json:"last_activity,omitzero"`
	Ended        time.Time               `json:"ended,omitzero"`
	EndReason    string                  `json:"end_reason,omitempty"`
	Open         bool                    `json:"open"`
	Paused       bool                    `json:"paused,omitempty"`
	Stored       bool                    `json:"stored"`
	TurnCount    int                     `json:"turn_count"`
	Turns        []Turn                  `json:"turns,omitempty"`
}

// Turn is a turn in the API.
type Turn struct {
	Seq                uint64                `json:"seq"`
	Sentence           int                   `json:"sentence,omitempty"` // live conversation: the number events use
	Speaker            dialogue.Speaker      `json:"speaker"`
	Text               string                `json:"text"`
	Glosses            []string              `json:"glosses,omitempty"`
	Hypotheses         []dialogue.Hypothesis `json:"hypotheses,omitempty"`
	Bundle             *dialogue.BundleRef   `json:"bundle,omitempty"`
	Confidence         float64               `json:"confidence,omitempty"`
	Unsure             bool                  `json:"unsure,omitempty"`
	Alternatives       []string              `json:"alternatives,omitempty"`
	Confirmed          bool                  `json:"confirmed,omitempty"`
	Rejected           bool                  `json:"rejected,omitempty"`
	InterpreterRequest bool                  `json:"interpreter_request,omitempty"`
	Time               time.Time             `json:"time"`
}

func apiTurn(t dialogue.Turn, sentence int) Turn {
	out := Turn{Seq: t.Seq, Sentence: sentence, Speaker: t.Speaker, Text: t.Text, Hypotheses: t.Hypotheses, Bundle: t.Bundle,
		Confidence: t.Confidence, Unsure: t.Unsure, Alternatives: t.Alternatives, Confirmed: t.Confirmed, Rejected: t.Rejected,
		InterpreterRequest: t.InterpreterRequest, Time: t.End}
	if len(t.Hypotheses) > 0 {
		out.Glosses = t.Hypotheses[0].Glosses
	}
	return out
}

func apiConversation(c dialogue.Conversation) Conversation {
	return Conversation{ID: c.ID, Device: c.Device, Domain: c.Domain, Started: c.Started, LastActivity: c.LastActivity,
		Ended: c.Ended, EndReason: c.EndReason, Open: c.Open(), Stored: true, TurnCount: c.Turns}
}

// target resolves {id}: "current" or a number. open is the open conversation when id
// names it.
func (s *Server) target(w http.ResponseWriter, r *http.Request) (id dialogue.ConversationID, open *pipeline.Conversation, ok bool) {
	raw := r.PathValue("id")
	cur, isOpen := s.e.Pipeline().Current()
	if raw == "current" {
		if !isOpen {
			fail(w, http.StatusNotFound, "no conversation is open")
			return 0, nil, false
		}
		return cur.ID, &cur, true
	}
	if raw == "0" && isOpen && !cur.Stored {
		// Without a store (--no-store, a full disk) the open conversation has id 0, as
		// the list shows it: 0 names it while it is open.
		return 0, &cur, true
	}
	id, err := dialogue.ParseConversationID(raw)
	if err != nil {
		fail(w, http.StatusBadRequest, "conversation id %q: want a positive number or \"current\"", raw)
		return 0, nil, false
	}
	if isOpen && cur.ID == id && cur.Stored {
		return id, &cur, true
	}
	return id, nil, true
}

// needOpen fails unless id is the open conversation.
func (s *Server) needOpen(w http.ResponseWriter, r *http.Request) (*pipeline.Conversation, bool) {
	id, open, ok := s.target(w, r)
	if !ok {
		return nil, false
	}
	if open == nil {
		if st := s.e.Store(); st != nil {
			if _, err := st.Conversation(r.Context(), id); errors.Is(err, dialogue.ErrNotFound) {
				fail(w, http.StatusNotFound, "conversation %d does not exist", id)
				return nil, false
			}
		}
		fail(w, http.StatusConflict, "conversation %d is not the open conversation", id)
		return nil, false
	}
	return open, true
}

func (s *Server) startConversation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Domain string `json:"domain"`
	}
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	if len(req.Domain) > 64 || strings.ContainsAny(req.Domain, "\n\r\t/") {
		fail(w, http.StatusBadRequest, "domain %q: want a short name such as reception, pharmacy or counter", req.Domain)
		return
	}
	c, err := s.e.Pipeline().StartConversation(r.Context(), req.Domain)
	if err != nil {
		fail(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, Conversation{ID: c.ID, Domain: c.Domain, Started: c.Started, Open: true, Stored: c.Stored})
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	out := []Conversation{}
	cur, isOpen := s.e.Pipeline().Current()
	if st := s.e.Store(); st != nil {
		cs, err := st.Conversations(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, "reading the dialogue store: %v", err)
			return
		}
		for _, c := range cs {
			a := apiConversation(c)
			a.Open = isOpen && cur.Stored && cur.ID == c.ID
			a.Paused = a.Open && cur.Paused
			out = append(out, a)
		}
	}
	if isOpen && !cur.Stored {
		ts, _ := s.e.Pipeline().Turns()
		out = append(out, Conversation{ID: cur.ID, Domain: cur.Domain, Started: cur.Started, Open: true, Paused: cur.Paused, TurnCount: len(ts)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	id, open, ok := s.target(w, r)
	if !ok {
		return
	}
	cur, isOpen := s.e.Pipeline().Current()
	var out Conversation
	stored := false
	if st := s.e.Store(); st != nil && (!isOpen || cur.Stored || cur.ID != id) {
		c, err := st.Conversation(r.Context(), id)
		switch {
		case errors.Is(err, dialogue.ErrNotFound):
		case err != nil:
			fail(w, http.StatusInternalServerError, "reading the dialogue store: %v", err)
			return
		default:
			ts, err := st.Turns(r.Context(), id)
			if err != nil {
				fail(w, http.StatusInternalServerError, "reading the dialogue store: %v", err)
				return
			}
			out = apiConversation(c)
			out.Turns = make([]Turn, 0, len(ts))
			for _, t := range ts {
				out.Turns = append(out.Turns, apiTurn(t, 0))
			}
			stored = true
		}
	}
	if isOpen && cur.ID == id && (open != nil || !cur.Stored) {
		// The live conversation: its memory has every turn (also those a full disk
		// refused) and the sentence numbers the confirm step uses.
		ts, ns := s.e.Pipeline().Turns()
		if !stored {
			out = Conversation{ID: cur.ID, Domain: cur.Domain, Started: cur.Started}
		}
		out.Open, out.Paused, out.TurnCount = true, cur.Paused, len(ts)
		out.Turns = make([]Turn, 0, len(ts))
		for i, t := range ts {
			out.Turns = append(out.Turns, apiTurn(t, ns[i]))
		}
		stored = true
	}
	if !stored {
		fail(w, http.StatusNotFound, "conversation %d does not exist", id)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) endConversation(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	c, err := s.e.Pipeline().EndConversation(r.Context(), "ended")
	if err != nil {
		fail(w, http.StatusConflict, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, Conversation{ID: c.ID, Domain: c.Domain, Started: c.Started, Stored: c.Stored, EndReason: "ended", Ended: time.Now().UTC()})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if !decode(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" || len(req.Text) > 2000 {
		fail(w, http.StatusBadRequest, "text: want 1 to 2000 characters")
		return
	}
	t, err := s.e.Pipeline().AddReply(r.Context(), req.Text)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, apiTurn(t, 0))
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	var req struct {
		Sentence int    `json:"sentence"`
		Text     string `json:"text"`
		Again    bool   `json:"again"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Sentence <= 0 || (req.Text == "") != req.Again {
		fail(w, http.StatusBadRequest, `want {"sentence": N, "text": "the sentence or one of its alternatives"} or {"sentence": N, "again": true}`)
		return
	}
	t, err := s.e.Pipeline().Confirm(r.Context(), req.Sentence, req.Text)
	switch {
	case errors.Is(err, pipeline.ErrNoSentence):
		fail(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, dialogue.ErrInvalid):
		fail(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		fail(w, http.StatusConflict, "%v", err)
	default:
		writeJSON(w, http.StatusOK, apiTurn(t, req.Sentence))
	}
}

func (s *Server) interpreter(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	var req struct {
		By dialogue.Speaker `json:"by"`
	}
	if !decode(w, r, &req) {
		return
	}
	t, err := s.e.Pipeline().RequestInterpreter(r.Context(), req.By)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, apiTurn(t, 0))
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	if err := s.e.Pipeline().Resume(); err != nil {
		fail(w, http.StatusConflict, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"paused": false})
}

// context is the open conversation's context window: the texts the next sentence's
// recogniser and translator see, oldest first (unconfirmed sentences and interpreter
// requests are not context).
func (s *Server) context(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.needOpen(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"context": s.e.Pipeline().ContextTexts()})
}

// deleteConversation is "end and erase": the open conversation is dropped from memory,
// and its record (or an old one's) is deleted from the store and the file scrubbed.
func (s *Server) deleteConversation(w http.ResponseWriter, r *http.Request) {
	id, open, ok := s.target(w, r)
	if !ok {
		return
	}
	p := s.e.Pipeline()
	dropped := false
	if cur, isOpen := p.Current(); isOpen && cur.ID == id {
		dropped = p.Drop(id)
		if !cur.Stored {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	_ = open
	if st := s.e.Store(); st != nil {
		err := st.DeleteConversation(r.Context(), id)
		switch {
		case errors.Is(err, dialogue.ErrNotFound) && !dropped:
			fail(w, http.StatusNotFound, "conversation %d does not exist", id)
			return
		case err != nil && !errors.Is(err, dialogue.ErrNotFound):
			fail(w, http.StatusInternalServerError, "deleting conversation %d: %v", id, err)
			return
		}
	} else if !dropped {
		fail(w, http.StatusNotFound, "conversation %d does not exist", id)
		return
	}
	s.e.Bus().Publish(events.Event{Kind: events.ConversationDeleted, Conversation: uint64(id)})
	w.WriteHeader(http.StatusNoContent)
}

// eventsWS streams events to a WebSocket client: first a "hello" with the state, then
// every event. A client that does not read has its queue trimmed (oldest first) and is
// disconnected when a write times out; recognition never waits for it.
func (s *Server) eventsWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept wrote the error
	}
	defer c.CloseNow()
	buf := s.opt.EventBuffer
	if v := r.URL.Query().Get("buffer"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 4096 {
			buf = n
		}
	}
	ch, cancel := s.e.Subscribe(buf)
	defer cancel()
	ctx := c.CloseRead(r.Context())
	h := s.e.Health()
	hello := events.Event{Kind: "hello", Time: time.Now(), Status: h.Camera, Error: h.CameraError, Text: h.Input,
		Bundle: &events.BundleRef{Version: h.Bundle.Version, Hash: h.Bundle.Hash}, Gate: h.Bundle.Gate, Reason: h.Store}
	if h.Open != nil {
		hello.Conversation, hello.Domain, hello.Paused, hello.Stored = uint64(h.Open.ID), h.Open.Domain, h.Open.Paused, h.Open.Stored
	}
	if err := s.write(ctx, c, hello); err != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				c.Close(websocket.StatusGoingAway, "scope is stopping")
				return
			}
			if err := s.write(ctx, c, ev); err != nil {
				return
			}
		}
	}
}

func (s *Server) write(ctx context.Context, c *websocket.Conn, ev events.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}
