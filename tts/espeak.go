package tts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Espeak renders offline with espeak-ng and converts with sox to 8 kHz mono
// 16-bit WAV (Debian: apt-get install espeak-ng sox).
type Espeak struct {
	// Voices maps a language to an espeak-ng voice; default: EspeakVoices,
	// then the language.
	Voices map[string]string
	// Speed in words per minute (espeak-ng -s); 0: 150.
	Speed int
}

// EspeakVoices are the default voices: American English, which callers in
// America and Europe follow easily (espeak-ng's "en" is British),
// Castilian Spanish, Brazilian Portuguese and the French of France.
var EspeakVoices = map[string]string{"en": "en-us", "es": "es", "pt-BR": "pt-br", "fr": "fr-fr"}

// Synthesize runs espeak-ng, then sox.
func (e Espeak) Synthesize(ctx context.Context, r Request) ([]byte, error) {
	if r.Text == "" {
		return nil, ErrEmptyText
	}
	voice := r.Voice
	if voice == "" {
		voice = e.Voices[r.Language]
	}
	if voice == "" {
		voice = EspeakVoices[r.Language]
	}
	if voice == "" {
		voice = strings.ToLower(r.Language)
	}
	speed := e.Speed
	if speed == 0 {
		speed = 150
	}
	dir, err := os.MkdirTemp("", "tfps-espeak-")
	if err != nil {
		return nil, fmt.Errorf("espeak: temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	raw, out := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "out.wav")
	if err := run(ctx, "espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "-w", raw, "--", r.Text); err != nil {
		return nil, err
	}
	// 8 kHz, mono, signed 16-bit. The silence espeak-ng puts before and
	// after the words is cut (it would delay the code and slow the digits
	// down) and 100 ms of pause put back at the end; norm brings every file,
	// sentences and digits alike, to the same peak level.
	if err := run(ctx, "sox", raw, "-r", fmt.Sprint(SampleRate), "-c", "1", "-b", "16", "-e", "signed-integer", out,
		"silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse",
		"pad", "0", "0.1", "norm", "-3"); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read rendered audio: %w", err)
	}
	if err := CheckWAV(b); err != nil {
		return nil, fmt.Errorf("espeak-ng + sox: %w", err)
	}
	return b, nil
}

func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
