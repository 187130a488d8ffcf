package tts_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/texttospeech/apiv1/texttospeechpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/voipshield/tfps/tts"
)

// fakeTTS implements the TextToSpeech gRPC service like Google does for
// LINEAR16: a WAV file at the asked rate. It records the requests.
type fakeTTS struct {
	texttospeechpb.UnimplementedTextToSpeechServer
	calls atomic.Int32
	mu    sync.Mutex
	last  *texttospeechpb.SynthesizeSpeechRequest
}

func (f *fakeTTS) SynthesizeSpeech(_ context.Context, r *texttospeechpb.SynthesizeSpeechRequest) (*texttospeechpb.SynthesizeSpeechResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = r
	f.mu.Unlock()
	if r.GetInput().GetText() == "fail" {
		return nil, status.Error(codes.InvalidArgument, "cannot say that")
	}
	if r.GetAudioConfig().GetAudioEncoding() != texttospeechpb.AudioEncoding_LINEAR16 {
		return nil, status.Error(codes.InvalidArgument, "only LINEAR16 here")
	}
	rate := int(r.GetAudioConfig().GetSampleRateHertz())
	return &texttospeechpb.SynthesizeSpeechResponse{AudioContent: SineWAV(rate, rate/2)}, nil
}

// SineWAV builds a mono 16-bit WAV of n samples of a 440 Hz-ish square tone.
func SineWAV(rate, n int) []byte {
	var b bytes.Buffer
	data := n * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*2))
	binary.Write(&b, binary.LittleEndian, uint16(2))
	binary.Write(&b, binary.LittleEndian, uint16(16))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	for i := 0; i < n; i++ {
		v := int16(8000)
		if (i/9)%2 == 0 {
			v = -8000
		}
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func startFake(t *testing.T) (*fakeTTS, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &fakeTTS{}
	texttospeechpb.RegisterTextToSpeechServer(srv, f)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return f, l.Addr().String()
}

func TestGoogleAgainstLocalServer(t *testing.T) {
	f, addr := startFake(t)
	ctx := context.Background()
	g, err := tts.NewGoogle(ctx, tts.GoogleOptions{Endpoint: addr, Voices: map[string]string{"es": "es-ES-Standard-A"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	audio, err := g.Synthesize(ctx, tts.Request{Text: "Hola", Language: "es"})
	if err != nil {
		t.Fatalf("synthesize: %v", err)
	}
	if err := tts.CheckWAV(audio); err != nil {
		t.Errorf("audio not playable by Asterisk: %v", err)
	}
	f.mu.Lock()
	last := f.last
	f.mu.Unlock()
	if got := last.GetVoice().GetName(); got != "es-ES-Standard-A" {
		t.Errorf("voice = %q, want the configured es-ES-Standard-A", got)
	}
	if got := last.GetVoice().GetLanguageCode(); got != "es-ES" {
		t.Errorf("language code = %q, want es-ES (from the voice)", got)
	}
	if got := last.GetAudioConfig().GetSampleRateHertz(); got != tts.SampleRate {
		t.Errorf("sample rate asked = %d, want %d", got, tts.SampleRate)
	}

	if _, err := g.Synthesize(ctx, tts.Request{Text: "fail", Language: "en"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("server error not passed on: %v", err)
	}
}

func TestCacheRendersEachTextOnce(t *testing.T) {
	f, addr := startFake(t)
	ctx := context.Background()
	g, err := tts.NewGoogle(ctx, tts.GoogleOptions{Endpoint: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	dir := t.TempDir()
	c, err := tts.NewCache(dir, g)
	if err != nil {
		t.Fatal(err)
	}
	req := tts.Request{Text: "Please type the following digits.", Language: "en", Voice: "en-US-Standard-C"}
	var wg sync.WaitGroup
	names := make([]string, 20)
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := c.File(ctx, req)
			if err != nil {
				t.Error(err)
			}
			names[i] = n
		}()
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Errorf("20 concurrent requests for one text made %d synthesis calls, want 1", n)
	}
	for _, n := range names {
		if n != names[0] {
			t.Fatalf("different files for one text: %q vs %q", n, names[0])
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil || tts.CheckWAV(b) != nil {
		t.Fatalf("cached file unreadable or unplayable: %v", err)
	}

	// Another voice or language is another file; the same text again is not rendered.
	other := req
	other.Voice = "en-GB-Standard-A"
	n2, err := c.File(ctx, other)
	if err != nil || n2 == names[0] {
		t.Errorf("other voice: %q, %v", n2, err)
	}
	if _, err := c.File(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("synthesis calls = %d, want 2", n)
	}

	// A failure is not cached.
	if _, err := c.File(ctx, tts.Request{Text: "fail", Language: "en"}); err == nil {
		t.Error("failed synthesis gave a file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("cache holds %d files, want 2", len(entries))
	}
}

func TestEspeakRendersAsteriskFormat(t *testing.T) {
	for _, lang := range []string{"en", "es"} {
		b, err := tts.Espeak{}.Synthesize(context.Background(), tts.Request{Text: "Uno dos tres", Language: lang})
		if err != nil {
			t.Fatalf("%s: %v (needs espeak-ng and sox: apt-get install espeak-ng sox)", lang, err)
		}
		info, err := tts.ParseWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := tts.CheckWAV(b); err != nil {
			t.Errorf("%s: %v", lang, err)
		}
		if ms := info.DurationMS(); ms < 300 || ms > 5000 {
			t.Errorf("%s: %d ms of audio for three words", lang, ms)
		}
	}
}

func TestCheckWAVRejectsWrongFormat(t *testing.T) {
	if err := tts.CheckWAV(SineWAV(16000, 100)); err == nil {
		t.Error("16 kHz accepted")
	}
	if err := tts.CheckWAV([]byte("ID3 mp3")); err == nil {
		t.Error("non-WAV accepted")
	}
}
