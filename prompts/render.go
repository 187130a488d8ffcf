package prompts

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/voipshield/tfps/tts"
)

// ManifestFile lists, in a rendered folder, the text hash of every file, so
// a changed catalogue shows which prompts need rendering again.
const ManifestFile = "manifest.txt"

func textHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:8])
}

// Render writes every prompt of langs (all languages when empty) as
// <dir>/<lang>/<id>.wav with synth, skipping files whose text has not
// changed unless force is set, and writes the manifest. It returns how many
// files it rendered.
func Render(ctx context.Context, synth tts.Synthesizer, dir string, langs []string, force bool) (int, error) {
	if len(langs) == 0 {
		langs = Languages()
	}
	old, _ := readManifest(dir)
	manifest := map[string]string{}
	for k, v := range old {
		manifest[k] = v
	}
	n := 0
	for _, lang := range langs {
		if !HasLanguage(lang) {
			return n, fmt.Errorf("render: no catalogue for language %q (have %s)", lang, strings.Join(Languages(), ", "))
		}
		if err := os.MkdirAll(filepath.Join(dir, lang), 0o755); err != nil {
			return n, fmt.Errorf("render: %w", err)
		}
		for _, id := range IDs() {
			text, _ := Text(lang, id)
			key := lang + "/" + string(id)
			path := filepath.Join(dir, lang, string(id)+".wav")
			if _, err := os.Stat(path); err == nil && !force && old[key] == textHash(text) {
				continue
			}
			audio, err := synth.Synthesize(ctx, tts.Request{Text: text, Language: lang})
			if err != nil {
				return n, fmt.Errorf("render %s: %w", key, err)
			}
			if err := os.WriteFile(path, audio, 0o644); err != nil {
				return n, fmt.Errorf("render %s: %w", key, err)
			}
			manifest[key] = textHash(text)
			n++
		}
	}
	return n, writeManifest(dir, manifest)
}

// Stale lists the prompts of every language whose rendered file in dir is
// missing or was rendered from another text.
func Stale(dir string) []string {
	m, _ := readManifest(dir)
	var out []string
	for _, lang := range Languages() {
		for _, id := range IDs() {
			text, _ := Text(lang, id)
			key := lang + "/" + string(id)
			if _, err := os.Stat(filepath.Join(dir, lang, string(id)+".wav")); err != nil || m[key] != textHash(text) {
				out = append(out, key)
			}
		}
	}
	return out
}

func readManifest(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, " "); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

func writeManifest(dir string, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# prompt text hash (sha256, first 8 bytes); written by `ivr render`\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, m[k])
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}
