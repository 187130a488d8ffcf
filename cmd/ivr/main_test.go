package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/texttospeech/apiv1/texttospeechpb"
	"google.golang.org/grpc"

	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/tts"
)

// The real binary, built once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func ivrBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tfps-ivr-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ivr")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func soundsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "sounds")
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// service is one running ivr binary against a private Asterisk, the test
// Redis (private prefix) and a private PostgreSQL schema.
type service struct {
	t      *testing.T
	ast    *asterisktest.Asterisk
	st     *state.State
	db     *store.Store
	cmd    *exec.Cmd
	http   string
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder
}

func startService(t *testing.T, ast *asterisktest.Asterisk, extraEnv ...string) *service {
	t.Helper()
	s := &service{t: t, ast: ast, st: state.MustOpen(t), http: freeAddr(t), exited: make(chan struct{})}
	dbURL := store.TestSchemaURL(t)
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.db = db
	cmd := exec.Command(ivrBinary(t))
	cmd.Env = append(os.Environ(),
		"TFPS_CONFIG=",
		"TFPS_ARI_URL="+ast.URL,
		"TFPS_ARI_USER="+asterisktest.User,
		"TFPS_ARI_PASSWORD="+asterisktest.Password,
		"TFPS_ARI_APP=tfps",
		"TFPS_DATABASE_URL="+dbURL,
		"TFPS_REDIS_URL="+state.TestRedisURL(),
		"TFPS_REDIS_CLUSTER="+map[bool]string{true: "on", false: "off"}[state.TestRedisCluster()],
		"TFPS_REDIS_PREFIX="+s.st.Keys().Prefix(),
		"TFPS_IVR_LISTEN="+s.http,
		"TFPS_IVR_SOUNDS_DIR="+soundsDir(),
		"TFPS_DATA_DIR="+t.TempDir(),
		"TFPS_IVR_FIRST_DIGIT_TIMEOUT=3s",
		"TFPS_IVR_INTER_DIGIT_TIMEOUT=2s",
		"TFPS_IVR_DRAIN_TIMEOUT=30s",
		"TFPS_DEFAULT_DESTINATION_COUNTRIES=US",
		"TFPS_LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("ivr output:\n%s", s.output())
		}
	})
	s.waitHealthy(30 * time.Second)
	return s
}

func (s *service) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *service) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// waitHealthy polls /healthz until Redis, SQL and ARI are ok.
func (s *service) waitHealthy(within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("ivr exited during start-up:\n%s", s.output())
		default:
		}
		resp, err := http.Get("http://" + s.http + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("ivr not healthy within %s: %s\n%s", within, last, s.output())
}

// metric returns the value of a sample line of /metrics, e.g.
// `tfps_ivr_sessions_total{outcome="verified"}`.
func (s *service) metric(sample string) string {
	s.t.Helper()
	resp, err := http.Get("http://" + s.http + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return v
		}
	}
	return ""
}

// ticket stores a ticket as a verify decision does (the engine's
// Counters), valid for five minutes, and returns its id.
func (s *service) ticket(flow engine.Flow, user, country string) string {
	s.t.Helper()
	now := time.Now()
	tk := &engine.Ticket{Flow: flow, User: user, Domain: "pbx.example.com", Country: country, Created: now, Expires: now.Add(5 * time.Minute)}
	if _, err := state.NewDecideCounters(s.st).Count(context.Background(), &engine.CountRequest{Now: now, User: user, Domain: tk.Domain, Ticket: tk}); err != nil {
		s.t.Fatalf("issue ticket: %v", err)
	}
	return tk.ID
}

// verify runs one captcha call to its end; false when anything went wrong.
func verify(t *testing.T, phone *asterisktest.Phone, ticket string, prompt string) bool {
	c, err := phone.TryDial("tfps-verify", "V"+ticket, nil, "")
	if err != nil {
		t.Error(err)
		return false
	}
	digits := c.Challenge()
	if digits == "" {
		return false
	}
	c.Press(digits)
	ok := c.WaitPlay(prompt, 60*time.Second) != ""
	c.WaitEnd(60 * time.Second)
	if len(c.Failed) > 0 {
		t.Errorf("Asterisk could not play %q", c.Failed)
		ok = false
	}
	return ok
}

// Fifty callers verify at the same time through the real binary; prompts
// reach Asterisk over HTTP (its media cache). Every session succeeds; the
// log shows the CPU the IVR and Asterisk used.
func TestFiftyConcurrentVerifications(t *testing.T) {
	ast := asterisktest.Start(t)
	svc := startService(t, ast)
	phone := asterisktest.NewPhone(t, ast)

	const n = 50
	tickets := make([]string, n)
	for i := range tickets {
		tickets[i] = svc.ticket(engine.FlowOnboarding, fmt.Sprintf("u%03d", i), "")
	}
	ivrCPU0, err := asterisktest.CPU(svc.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	astCPU0, err := asterisktest.CPU(ast.PID())
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []int
	var durations []time.Duration
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			ok := verify(t, phone, tickets[i], "/en/redial.wav")
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				failed = append(failed, i)
			}
			durations = append(durations, time.Since(start))
		}()
	}
	wg.Wait()
	wall := time.Since(began)
	ivrCPU1, _ := asterisktest.CPU(svc.cmd.Process.Pid)
	astCPU1, _ := asterisktest.CPU(ast.PID())
	if len(failed) > 0 {
		t.Fatalf("%d of %d verifications failed: %v", len(failed), n, failed)
	}
	var sum, longest time.Duration
	for _, d := range durations {
		sum += d
		longest = max(longest, d)
	}
	ivrCPU, astCPU := ivrCPU1-ivrCPU0, astCPU1-astCPU0
	t.Logf("%d concurrent captcha verifications in %s (mean call %s, longest %s); CPU (utime+stime) ivr %s (%s per call), asterisk %s (%s per call)",
		n, wall.Round(time.Millisecond), (sum / n).Round(time.Millisecond), longest.Round(time.Millisecond),
		ivrCPU, ivrCPU/n, astCPU, astCPU/n)

	for i := 0; i < n; i++ {
		a, err := svc.db.GetAccount(context.Background(), fmt.Sprintf("u%03d", i), "pbx.example.com")
		if err != nil {
			t.Errorf("account %d: %v", i, err)
			continue
		}
		if !a.AllowsDestination("US") {
			t.Errorf("account %s: destinations %q", a.User, a.DestinationCountries)
		}
	}
	if v := svc.metric(`tfps_ivr_sessions_total{outcome="verified"}`); v != "50" {
		t.Errorf("sessions verified = %q, want 50", v)
	}
	for _, o := range []string{"error", "hangup", "failed", "blocked", "ticket_invalid"} {
		if v := svc.metric(`tfps_ivr_sessions_total{outcome="` + o + `"}`); v != "0" {
			t.Errorf("sessions %s = %q, want 0", o, v)
		}
	}
	if v := svc.metric("tfps_ivr_playback_failures_total"); v != "0" {
		t.Errorf("playback failures = %q", v)
	}
}

// Asterisk crashes and restarts in the middle of a call: the IVR ends that session
// without counting a failure, reconnects, and takes calls again.
func TestSurvivesAsteriskRestart(t *testing.T) {
	t.Parallel()
	ast := asterisktest.Start(t)
	svc := startService(t, ast)
	phone := asterisktest.NewPhone(t, ast)
	c := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "cut-off", ""))
	c.Challenge()
	ast.Crash(t) // SIGKILL: no StasisEnd, the websocket just breaks
	deadline := time.Now().Add(30 * time.Second)
	for svc.metric("tfps_ivr_ari_reconnects_total") != "1" || svc.metric(`tfps_ivr_sessions_total{outcome="hangup"}`) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("within 30 s: reconnects=%s, sessions ended as hangup=%s, failed=%s",
				svc.metric("tfps_ivr_ari_reconnects_total"), svc.metric(`tfps_ivr_sessions_total{outcome="hangup"}`), svc.metric(`tfps_ivr_sessions_total{outcome="failed"}`))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, n, err := svc.st.VerifyBlock(context.Background(), "cut-off", "pbx.example.com", time.Now(), time.Hour, 3); err != nil || n != 0 {
		t.Errorf("the call cut by the restart counted %d failures (%v)", n, err)
	}
	svc.waitHealthy(30 * time.Second)
	phone.WaitRegistered(30 * time.Second)
	if !verify(t, phone, svc.ticket(engine.FlowOnboarding, "after-restart", ""), "/en/redial.wav") {
		t.Fatal("call after the restart failed")
	}
	if _, err := svc.db.GetAccount(context.Background(), "after-restart", "pbx.example.com"); err != nil {
		t.Errorf("account after restart: %v", err)
	}
	if !strings.Contains(svc.output(), "Asterisk ARI is back") {
		t.Error("the reconnect was not logged")
	}
}

// SIGTERM during a call: the call finishes, a new call is refused, the
// process exits 0.
func TestSIGTERMDrainsLiveCalls(t *testing.T) {
	t.Parallel()
	ast := asterisktest.Start(t)
	svc := startService(t, ast)
	phone := asterisktest.NewPhone(t, ast)
	c := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "draining", ""))
	digits := c.Challenge()
	svc.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond) // let the app see the signal
	late := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "late", ""))
	c.Press(digits)
	c.WaitPlay("/en/redial.wav", 60*time.Second)
	c.WaitEnd(60 * time.Second)
	late.WaitEnd(30 * time.Second)
	if late.PlayedAny("/digit-") {
		t.Error("a call arriving during shutdown was served")
	}
	select {
	case <-svc.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("ivr did not exit after the drain")
	}
	if code := svc.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if _, err := svc.db.GetAccount(context.Background(), "draining", "pbx.example.com"); err != nil {
		t.Errorf("the call in progress at SIGTERM was not completed: %v", err)
	}
}

// fakeTTS implements Google's TextToSpeech gRPC service with the offline
// renderer, so the audio is real speech Asterisk must play.
type fakeTTS struct {
	texttospeechpb.UnimplementedTextToSpeechServer
	mu    sync.Mutex
	texts []string
}

func (f *fakeTTS) SynthesizeSpeech(ctx context.Context, r *texttospeechpb.SynthesizeSpeechRequest) (*texttospeechpb.SynthesizeSpeechResponse, error) {
	f.mu.Lock()
	f.texts = append(f.texts, r.GetInput().GetText())
	f.mu.Unlock()
	lang, _, _ := strings.Cut(r.GetVoice().GetLanguageCode(), "-")
	audio, err := tts.Espeak{}.Synthesize(ctx, tts.Request{Text: r.GetInput().GetText(), Language: lang})
	if err != nil {
		return nil, err
	}
	return &texttospeechpb.SynthesizeSpeechResponse{AudioContent: audio}, nil
}

func (f *fakeTTS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.texts)
}

// With a Text-to-Speech endpoint the prompts are synthesised once, cached
// on disk, served under /tts/ and played by Asterisk; the second call
// synthesises nothing.
func TestTextToSpeechPromptsPlay(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	fake := &fakeTTS{}
	texttospeechpb.RegisterTextToSpeechServer(gs, fake)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)

	ast := asterisktest.Start(t)
	cache := t.TempDir()
	svc := startService(t, ast, "TFPS_TTS_ENDPOINT="+l.Addr().String(), "TFPS_TTS_CACHE_DIR="+cache, "TFPS_DEFAULT_LANGUAGE=es")
	phone := asterisktest.NewPhone(t, ast)
	// The phone learns the code from what plays: name each synthesised
	// file after the prompt it was made from (the default voices).
	names := map[string]string{}
	for lang, voice := range map[string]string{"en": "en-US-Standard-C", "es": "es-ES-Standard-A"} {
		for _, id := range prompts.IDs() {
			text, _ := prompts.Text(lang, id)
			names[tts.Key(tts.Request{Text: text, Language: lang, Voice: voice})+".wav"] = "/" + lang + "/" + string(id)
		}
	}
	phone.Name = func(uri string) string {
		if n, ok := names[uri[strings.LastIndex(uri, "/")+1:]]; ok {
			return uri + "#" + n
		}
		return uri
	}

	c := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "tts1", ""))
	c.Press(c.Challenge())
	c.WaitPlay("/tts/", 60*time.Second)
	c.WaitEnd(60 * time.Second)
	if len(c.Failed) > 0 {
		t.Errorf("Asterisk could not play %q", c.Failed)
	}
	var tts int
	for _, m := range c.Done {
		if strings.Contains(m, "/tts/") && strings.Contains(m, ".wav") {
			tts++
		}
	}
	if tts < 3 {
		t.Errorf("%d text-to-speech prompts played to the end, want the whole call's (%q)", tts, c.Done)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*.wav"))
	first := fake.calls()
	if first == 0 || len(files) != first {
		t.Errorf("%d synthesis calls, %d cached files: want one file per text", first, len(files))
	}
	fake.mu.Lock()
	spanish := strings.Contains(strings.Join(fake.texts, " "), "Hola")
	fake.mu.Unlock()
	if !spanish {
		t.Errorf("TFPS_DEFAULT_LANGUAGE=es, yet no Spanish text was synthesised: %q", fake.texts)
	}

	c = phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "tts2", ""))
	c.Press(c.Challenge())
	c.WaitEnd(60 * time.Second)
	// Only digits the first code did not have may be new.
	digits := map[string]bool{}
	for d := byte('0'); d <= '9'; d++ {
		text, _ := prompts.Text("es", prompts.Digit(d))
		digits[text] = true
	}
	fake.mu.Lock()
	for _, text := range fake.texts[first:] {
		if !digits[text] {
			t.Errorf("second call synthesised %q again; the cache should serve it", text)
		}
	}
	fake.mu.Unlock()
	if _, err := svc.db.GetAccount(context.Background(), "tts2", "pbx.example.com"); err != nil {
		t.Errorf("second TTS call did not verify: %v", err)
	}
}
