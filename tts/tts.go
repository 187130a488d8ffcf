// Package tts turns prompt text into audio Asterisk plays natively: 8 kHz,
// 16-bit, mono WAV. Two engines: Google Cloud Text-to-Speech (when the
// operator has credentials) and an offline renderer built from espeak-ng and
// sox (Debian packages), used to pre-render the shipped prompts. Cache keeps
// rendered audio on disk by hash of (text, language, voice), so each text is
// synthesised once, not on every call as TFPS did.
package tts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/singleflight"
)

// SampleRate is the rate of every rendered file (telephony narrowband).
const SampleRate = 8000

// Request is one text to speak.
type Request struct {
	Text     string
	Language string // BCP 47, e.g. "en", "es" or "en-US"
	Voice    string // engine voice name; empty: the engine's default for Language
}

// Synthesizer renders a Request into a complete 8 kHz mono 16-bit WAV file.
type Synthesizer interface {
	Synthesize(ctx context.Context, r Request) ([]byte, error)
}

// ErrEmptyText is returned for a request without text.
var ErrEmptyText = errors.New("empty text")

// Key is the cache key of r: hex SHA-256 of text, language and voice.
func Key(r Request) string {
	h := sha256.New()
	for _, s := range []string{r.Text, r.Language, r.Voice} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Cache renders each Request once and keeps the audio in Dir as <Key>.wav.
// Concurrent requests for the same audio share one synthesis.
type Cache struct {
	Dir   string
	Synth Synthesizer

	group singleflight.Group
}

// NewCache returns a cache in dir (created if missing).
func NewCache(dir string, s Synthesizer) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create tts cache %s: %w", dir, err)
	}
	return &Cache{Dir: dir, Synth: s}, nil
}

// File returns the name (<key>.wav, relative to Dir) of the audio for r,
// synthesising it on first use.
func (c *Cache) File(ctx context.Context, r Request) (string, error) {
	if r.Text == "" {
		return "", ErrEmptyText
	}
	name := Key(r) + ".wav"
	path := filepath.Join(c.Dir, name)
	if _, err := os.Stat(path); err == nil {
		return name, nil
	}
	_, err, _ := c.group.Do(name, func() (any, error) {
		if _, err := os.Stat(path); err == nil {
			return nil, nil
		}
		audio, err := c.Synth.Synthesize(ctx, r)
		if err != nil {
			return nil, err
		}
		return nil, writeAtomic(path, audio)
	})
	if err != nil {
		return "", fmt.Errorf("render %q (%s): %w", r.Text, r.Language, err)
	}
	return name, nil
}

// writeAtomic writes b to path through a temporary file and a rename, so a
// reader (Asterisk, the HTTP server) never sees half a file.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary audio file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write audio: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write audio: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod audio: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store audio %s: %w", path, err)
	}
	return nil
}
