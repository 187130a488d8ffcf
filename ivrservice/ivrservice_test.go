package ivrservice_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/texttospeech/apiv1/texttospeechpb"
	"google.golang.org/grpc"

	"github.com/voipshield/tfps/asterisktest"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivrservice"
	"github.com/voipshield/tfps/ivrservice/ivrservicetest"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/tts"
)

// service is one IVR running in-process against a private Asterisk, the
// test Redis (private prefix) and a private PostgreSQL schema.
type service struct {
	t *testing.T
	*ivrservice.Main
	vars map[string]string
	log  *commandtest.Buffer
}

func startService(t *testing.T, ast *asterisktest.Asterisk, extra map[string]string) *service {
	t.Helper()
	s := &service{t: t, vars: ivrservicetest.Vars(t, ast, extra), log: &commandtest.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ivr log:\n%s", s.log)
		}
	})
	s.Main = ivrservicetest.MustStart(t, s.vars, ivrservicetest.LogTo(s.log))
	return s
}

// metric returns the value of a sample line of /metrics, e.g.
// `tfps_ivr_sessions_total{outcome="verified"}`.
func (s *service) metric(sample string) string {
	s.t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
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
	if _, err := state.NewDecideCounters(s.State).Count(context.Background(), &engine.CountRequest{Now: now, User: user, Domain: tk.Domain, Ticket: tk}); err != nil {
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

// Fifty callers verify at the same time; prompts reach Asterisk over HTTP
// (its media cache). Every session succeeds; the log shows the CPU Asterisk
// and the test process (the IVR and the test phone) used.
func TestFiftyConcurrentVerifications(t *testing.T) {
	ast := asterisktest.Start(t)
	svc := startService(t, ast, nil)
	phone := asterisktest.NewPhone(t, ast)

	const n = 50
	tickets := make([]string, n)
	for i := range tickets {
		tickets[i] = svc.ticket(engine.FlowOnboarding, fmt.Sprintf("u%03d", i), "")
	}
	ivrCPU0, err := asterisktest.CPU(os.Getpid())
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
	ivrCPU1, _ := asterisktest.CPU(os.Getpid())
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
	t.Logf("%d concurrent captcha verifications in %s (mean call %s, longest %s); CPU (utime+stime) ivr with the test phone %s (%s per call), asterisk %s (%s per call)",
		n, wall.Round(time.Millisecond), (sum / n).Round(time.Millisecond), longest.Round(time.Millisecond),
		ivrCPU, ivrCPU/n, astCPU, astCPU/n)

	for i := 0; i < n; i++ {
		a, err := svc.Store.GetAccount(context.Background(), fmt.Sprintf("u%03d", i), "pbx.example.com")
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

// Asterisk crashes and restarts in the middle of a call: the IVR ends that
// session without counting a failure, reconnects, and takes calls again;
// the caller cut off calls again with the same ticket and is verified.
func TestSurvivesAsteriskRestart(t *testing.T) {
	t.Parallel()
	ast := asterisktest.Start(t)
	svc := startService(t, ast, nil)
	phone := asterisktest.NewPhone(t, ast)
	cutOff := svc.ticket(engine.FlowOnboarding, "cut-off", "")
	c := phone.VerifyCall(cutOff)
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
	if _, _, n, err := svc.State.VerifyBlock(context.Background(), "cut-off", "pbx.example.com", time.Now(), time.Hour, 3); err != nil || n != 0 {
		t.Errorf("the call cut by the restart counted %d failures (%v)", n, err)
	}
	ivrservicetest.WaitHealthy(t, svc.Main, 30*time.Second)
	phone.WaitRegistered(30 * time.Second)
	if !verify(t, phone, svc.ticket(engine.FlowOnboarding, "after-restart", ""), "/en/redial.wav") {
		t.Fatal("call after the restart failed")
	}
	if _, err := svc.Store.GetAccount(context.Background(), "after-restart", "pbx.example.com"); err != nil {
		t.Errorf("account after restart: %v", err)
	}
	if !strings.Contains(svc.log.String(), "Asterisk ARI is back") {
		t.Error("the reconnect was not logged")
	}
	if !verify(t, phone, cutOff, "/en/redial.wav") {
		t.Fatal("the caller cut off by the restart could not use the ticket again")
	}
	if _, err := svc.Store.GetAccount(context.Background(), "cut-off", "pbx.example.com"); err != nil {
		t.Errorf("account of the caller cut off: %v", err)
	}
}

// Shut down during a call (SIGTERM in cmd/ivr): the call finishes, a new
// call is refused, Close returns no error.
func TestShutdownDrainsLiveCalls(t *testing.T) {
	t.Parallel()
	ast := asterisktest.Start(t)
	svc := startService(t, ast, nil)
	db, err := store.Open(context.Background(), svc.vars["TFPS_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	phone := asterisktest.NewPhone(t, ast)
	c := phone.VerifyCall(svc.ticket(engine.FlowOnboarding, "draining", ""))
	digits := c.Challenge()
	lateTicket := svc.ticket(engine.FlowOnboarding, "late", "")
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		closed <- svc.Close(ctx)
	}()
	time.Sleep(200 * time.Millisecond) // let the app see the shutdown
	late := phone.VerifyCall(lateTicket)
	c.Press(digits)
	c.WaitPlay("/en/redial.wav", 60*time.Second)
	c.WaitEnd(60 * time.Second)
	late.WaitEnd(30 * time.Second)
	if late.PlayedAny("/digit-") {
		t.Error("a call arriving during shutdown was served")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ivr did not stop after the drain")
	}
	if _, err := db.GetAccount(context.Background(), "draining", "pbx.example.com"); err != nil {
		t.Errorf("the call in progress at shutdown was not completed: %v", err)
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
	svc := startService(t, ast, map[string]string{"TFPS_TTS_ENDPOINT": l.Addr().String(), "TFPS_TTS_CACHE_DIR": cache, "TFPS_DEFAULT_LANGUAGE": "es"})
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
	if _, err := svc.Store.GetAccount(context.Background(), "tts2", "pbx.example.com"); err != nil {
		t.Errorf("second TTS call did not verify: %v", err)
	}
}
