package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"scope/config"
	"scope/daemon/engine"
	"scope/daemon/events"
)

func newEngine(t *testing.T, cfg engine.Config) *engine.Engine {
	t.Helper()
	c := config.Default()
	c.Dialogue.Path = filepath.Join(t.TempDir(), "dialogue.db")
	c.Edge.Threads = 2
	cfg.Settings = c
	if cfg.Demo.Seed == 0 {
		cfg.Demo = engine.Demo{Seed: 2026, Dialogues: 1}
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (c client) do(method, path, body string, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		var e Error
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			c.t.Errorf("%s %s: %d without a JSON error: %q", method, path, res.StatusCode, b)
		}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %q", method, path, err, b)
		}
	}
	return res.StatusCode
}

// The conversation API end to end: start, reply, read, list, end, erase.
func TestConversationLifecycle(t *testing.T) {
	e := newEngine(t, engine.Config{})
	s, err := New(e, Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := client{t: t, base: ts.URL}

	var conv Conversation
	if code := c.do("POST", "/api/conversations", `{"domain":"pharmacy"}`, &conv); code != 201 || conv.ID == 0 || !conv.Open || conv.Domain != "pharmacy" {
		t.Fatalf("start: %d %+v", code, conv)
	}
	id := func(p string) string { return strings.Replace(p, "ID", conv.ID.String(), 1) }
	var turn Turn
	if code := c.do("POST", id("/api/conversations/ID/replies"), `{"text":"Hello, how can I help?"}`, &turn); code != 201 || turn.Speaker != "hearing" {
		t.Fatalf("reply: %d %+v", code, turn)
	}
	var ctxw struct{ Context []string }
	if code := c.do("GET", "/api/conversations/current/context", "", &ctxw); code != 200 || len(ctxw.Context) != 1 || ctxw.Context[0] != "Hello, how can I help?" {
		t.Fatalf("context: %d %+v", code, ctxw)
	}
	var got Conversation
	if code := c.do("GET", id("/api/conversations/ID"), "", &got); code != 200 || len(got.Turns) != 1 || got.Turns[0].Text != "Hello, how can I help?" || got.Turns[0].Speaker != "hearing" {
		t.Fatalf("get: %d %+v", code, got)
	}
	var cur Conversation
	if c.do("GET", "/api/conversations/current", "", &cur); cur.ID != conv.ID {
		t.Fatalf("current is %d, want %d", cur.ID, conv.ID)
	}
	var list []Conversation
	if code := c.do("GET", "/api/conversations", "", &list); code != 200 || len(list) != 1 || list[0].ID != conv.ID || !list[0].Open {
		t.Fatalf("list: %d %+v", code, list)
	}
	if code := c.do("POST", id("/api/conversations/ID/end"), "", nil); code != 200 {
		t.Fatalf("end: %d", code)
	}
	if code := c.do("POST", id("/api/conversations/ID/replies"), `{"text":"Goodbye"}`, nil); code != 409 {
		t.Fatalf("reply to an ended conversation: %d, want 409", code)
	}
	c.do("GET", id("/api/conversations/ID"), "", &got)
	if got.Open || got.EndReason != "ended" || got.Ended.IsZero() {
		t.Fatalf("after end: %+v", got)
	}
	if code := c.do("DELETE", id("/api/conversations/ID"), "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := c.do("GET", id("/api/conversations/ID"), "", nil); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
	if code := c.do("DELETE", id("/api/conversations/ID"), "", nil); code != 404 {
		t.Fatalf("delete twice: %d", code)
	}
	// End and erase of the open conversation.
	c.do("POST", "/api/conversations", `{}`, &conv)
	c.do("POST", "/api/conversations/current/replies", `{"text":"Please take a seat."}`, nil)
	if code := c.do("DELETE", "/api/conversations/current", "", nil); code != 204 {
		t.Fatalf("erase current: %d", code)
	}
	if _, open := e.Pipeline().Current(); open {
		t.Fatal("the erased conversation is still open")
	}
	if cs, _ := e.Store().Conversations(context.Background()); len(cs) != 0 {
		t.Fatalf("store after erase: %+v", cs)
	}
}

// Malformed requests get a 4xx with a JSON error and leave the conversation as it was.
func TestMalformedRequests(t *testing.T) {
	e := newEngine(t, engine.Config{})
	s, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := client{t: t, base: ts.URL}
	var conv Conversation
	c.do("POST", "/api/conversations", `{"domain":"reception"}`, &conv)
	c.do("POST", "/api/conversations/current/replies", `{"text":"Hello"}`, nil)
	for _, r := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/conversations/current/replies", `{"text":`, 400},
		{"POST", "/api/conversations/current/replies", `{"txt":"x"}`, 400},
		{"POST", "/api/conversations/current/replies", `{"text":""}`, 400},
		{"POST", "/api/conversations/current/replies", `{"text":"a"} {"text":"b"}`, 400},
		{"POST", "/api/conversations/current/replies", `[1,2]`, 400},
		{"POST", "/api/conversations/current/replies", `{"text":"` + strings.Repeat("x", 3000) + `"}`, 400},
		{"POST", "/api/conversations/abc/replies", `{"text":"x"}`, 400},
		{"POST", "/api/conversations/0/end", ``, 400},
		{"POST", "/api/conversations/999/end", ``, 404},
		{"GET", "/api/conversations/18446744073709551616", ``, 400},
		{"POST", "/api/conversations/current/confirm", `{"sentence":1}`, 400},
		{"POST", "/api/conversations/current/confirm", `{"sentence":77,"text":"x"}`, 404},
		{"POST", "/api/conversations/current/interpreter", `{"by":"robot"}`, 400},
		{"POST", "/api/conversations", `{"domain":"a/b"}`, 400},
		{"GET", "/api/nothing", ``, 404},
		{"PUT", "/api/conversations", `{}`, 405},
	} {
		if code := c.do(r.method, r.path, r.body, nil); code != r.want {
			t.Errorf("%s %s %.40q: %d, want %d", r.method, r.path, r.body, code, r.want)
		}
	}
	// Not JSON at all.
	res, err := http.Post(ts.URL+"/api/conversations/current/replies", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 415 {
		t.Errorf("text/plain body: %d, want 415", res.StatusCode)
	}
	var got Conversation
	c.do("GET", "/api/conversations/current", "", &got)
	if got.ID != conv.ID || !got.Open || len(got.Turns) != 1 || got.Turns[0].Text != "Hello" {
		t.Fatalf("the conversation changed: %+v", got)
	}
}

// Beyond loopback, a token is required (compared in constant time) on /api and
// /metrics; health probes and the page stay open; cross-site requests are refused.
func TestTokenAndOrigin(t *testing.T) {
	e := newEngine(t, engine.Config{})
	if _, err := New(e, Options{Listen: "0.0.0.0:8580"}); err == nil || !strings.Contains(err.Error(), "daemon.token") {
		t.Fatalf("non-loopback without a token: %v", err)
	}
	s, err := New(e, Options{Listen: "0.0.0.0:0", Token: "s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, tok := range []string{"", "wrong", "s3cret-tokenX"} {
		if code := (client{t: t, base: ts.URL, token: tok}).do("GET", "/api/conversations", "", nil); code != 401 {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
		if code := (client{t: t, base: ts.URL, token: tok}).do("GET", "/metrics", "", nil); code != 401 {
			t.Errorf("metrics with token %q: %d, want 401", tok, code)
		}
	}
	ok := client{t: t, base: ts.URL, token: "s3cret-token"}
	if code := ok.do("GET", "/api/conversations", "", nil); code != 200 {
		t.Fatalf("right token: %d", code)
	}
	for _, p := range []string{"/healthz", "/", "/staff", "/static/kiosk.js"} {
		res, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s without a token: %d", p, res.StatusCode)
		}
	}
	// WebSocket: the token as a query parameter, since browsers cannot set headers.
	ctx := context.Background()
	if _, _, err := websocket.Dial(ctx, "ws"+ts.URL[4:]+"/api/events", nil); err == nil {
		t.Fatal("WebSocket without a token was accepted")
	}
	ws, _, err := websocket.Dial(ctx, "ws"+ts.URL[4:]+"/api/events?access_token=s3cret-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()

	// A page on another site cannot drive the API of a kiosk on loopback.
	s2, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts2 := httptest.NewServer(s2.Handler())
	defer ts2.Close()
	req, _ := http.NewRequest("POST", ts2.URL+"/api/conversations", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("cross-origin POST: %d, want 403", res.StatusCode)
	}
	req, _ = http.NewRequest("GET", ts2.URL+"/api/conversations", nil)
	req.Host = "rebound.example:8580"
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("foreign Host on a loopback daemon: %d, want 403", res.StatusCode)
	}
}

// The WebSocket gives a hello with the state, then live events: a signed sentence
// arrives as a caption with its hypotheses, confidence and bundle.
func TestEventsWebSocket(t *testing.T) {
	e := newEngine(t, engine.Config{})
	s, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+ts.URL[4:]+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() events.Event {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if h := read(); h.Kind != "hello" || h.Bundle == nil || h.Bundle.Hash != e.Bundle().Hash {
		t.Fatalf("hello %+v", h)
	}
	go e.Start(ctx)
	for {
		ev := read()
		if ev.Kind == events.Sentence || ev.Kind == events.Unsure {
			if len(ev.Hypotheses) == 0 || ev.Bundle == nil || ev.Conversation == 0 || ev.Sentence == 0 || ev.Timing == nil {
				t.Fatalf("sentence event %+v", ev)
			}
			return
		}
	}
}

// smallWindow dials with a tiny TCP receive window, so that a client that never reads
// makes the server's writes to it block soon.
func smallWindow() *websocket.DialOptions {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
	}}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}

// A WebSocket client that never reads holds up neither recognition nor the other
// clients: the demo plays to its end and a reading client gets every sentence.
func TestStalledWebSocketClient(t *testing.T) {
	e := newEngine(t, engine.Config{})
	s, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a liveness bound
	defer cancel()
	url := "ws" + ts.URL[4:] + "/api/events"
	stalled, _, err := websocket.Dial(ctx, url+"?buffer=1", smallWindow())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.CloseNow()
	reader, _, err := websocket.Dial(ctx, url+"?buffer=4096", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.CloseNow()
	own, _ := e.Subscribe(1 << 14)
	if err := e.Start(ctx); err != nil {
		t.Fatalf("the engine with a stalled client: %v", err)
	}
	want := 0
	for len(own) > 0 {
		if ev := <-own; ev.Kind == events.Sentence || ev.Kind == events.Unsure {
			want++
		}
	}
	if want == 0 {
		t.Fatal("the demo gave no sentence")
	}
	got := 0
	for got < want {
		_, b, err := reader.Read(ctx)
		if err != nil {
			t.Fatalf("the reading client after %d of %d sentences: %v", got, want, err)
		}
		var ev events.Event
		if json.Unmarshal(b, &ev) == nil && (ev.Kind == events.Sentence || ev.Kind == events.Unsure) {
			got++
		}
	}
	// What the stalled client's queue dropped is counted in /metrics (how many depends on
	// the kernel's socket buffers, so only that the count is passed on is checked).
	if d := e.Bus().Dropped(); d > 0 {
		var m strings.Builder
		e.Metrics().WritePrometheus(&m)
		if strings.Contains(m.String(), "\nscope_events_dropped_total 0\n") {
			t.Fatalf("the bus dropped %d events; /metrics says none", d)
		}
	}
	t.Logf("%d sentences; events the stalled client's queue dropped: %d", want, e.Bus().Dropped())
}

// Health, readiness and metrics.
func TestHealthAndMetrics(t *testing.T) {
	e := newEngine(t, engine.Config{})
	s, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := client{t: t, base: ts.URL}
	if code := c.do("GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	var ready struct {
		Ready   bool
		Reasons []string
	}
	if code := c.do("GET", "/readyz", "", &ready); code != 503 || ready.Ready || len(ready.Reasons) == 0 {
		t.Fatalf("readyz before Start: %d %+v", code, ready)
	}
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"scope_bundle_info{", "scope_frames_total", "process_resident_memory_bytes", "go_goroutines", "scope_slr_latency_seconds_bucket",
		`scope_errors_total{stage="translate"} 0`, `scope_errors_total{stage="capture"} 0`, "scope_capture_dropped_frames_total", "scope_events_dropped_total 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Without a store the open conversation is listed with id 0, and that id names it:
// replies, reading, ending and erasing work through the id the list gave.
func TestUnstoredConversationByItsListedID(t *testing.T) {
	e := newEngine(t, engine.Config{NoStore: true})
	s, _ := New(e, Options{Listen: "127.0.0.1:0"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := client{t: t, base: ts.URL}
	if code := c.do("POST", "/api/conversations/0/end", "", nil); code != 400 {
		t.Fatalf("end of id 0 with nothing open: %d, want 400", code)
	}
	var conv Conversation
	if code := c.do("POST", "/api/conversations", `{}`, &conv); code != 201 || conv.Stored {
		t.Fatalf("start: %d %+v", code, conv)
	}
	var list []Conversation
	if c.do("GET", "/api/conversations", "", &list); len(list) != 1 || !list[0].Open {
		t.Fatalf("list: %+v", list)
	}
	path := "/api/conversations/" + list[0].ID.String()
	if code := c.do("POST", path+"/replies", `{"text":"Good morning"}`, nil); code != 201 {
		t.Fatalf("reply through %s: %d", path, code)
	}
	var got Conversation
	if code := c.do("GET", path, "", &got); code != 200 || len(got.Turns) != 1 || got.Turns[0].Text != "Good morning" {
		t.Fatalf("get %s: %d %+v", path, code, got)
	}
	if code := c.do("POST", path+"/end", "", nil); code != 200 {
		t.Fatalf("end %s: %d", path, code)
	}
	if _, open := e.Pipeline().Current(); open {
		t.Fatal("still open after end")
	}
	c.do("POST", "/api/conversations", `{}`, nil)
	if code := c.do("DELETE", path, "", nil); code != 204 {
		t.Fatalf("erase %s: %d", path, code)
	}
	if _, open := e.Pipeline().Current(); open {
		t.Fatal("still open after erase")
	}
}

// With a certificate and key the API is served over TLS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := selfSigned(t, cert, key)
	e := newEngine(t, engine.Config{NoStore: true})
	s, err := New(e, Options{Listen: "127.0.0.1:0", TLSCert: cert, TLSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := hc.Get(s.URL() + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("https healthz: %d", res.StatusCode)
	}
	if res, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Fatal("plain HTTP was served beside TLS")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T, certPath, keyPath string) *x509.CertPool {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scope test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}
