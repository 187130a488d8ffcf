package prompts_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/tts"
)

// Every prompt, country names and digits included, has a text in every
// language: a prompt added in English only, or a misspelt ID in a
// translation, fails here.
func TestCatalogueComplete(t *testing.T) {
	want := []string{"en", "es", "fr", "pt-BR"}
	if got := prompts.Languages(); !slices.Equal(got, want) {
		t.Errorf("languages = %v, want %v", got, want)
	}
	for _, lang := range want {
		if !prompts.HasLanguage(lang) {
			t.Fatalf("no %s catalogue", lang)
		}
		for _, id := range prompts.IDs() {
			if text, ok := prompts.Text(lang, id); !ok || strings.TrimSpace(text) == "" {
				t.Errorf("%s/%s has no text", lang, id)
			}
		}
	}
	for _, lang := range prompts.Languages() {
		for _, id := range prompts.IDs() {
			if _, ok := prompts.Text(lang, id); !ok {
				t.Errorf("%s misses %s", lang, id)
			}
		}
	}
	// A translation is not the English text copied over (country names and
	// digits may coincide: "Kosovo", "zero").
	for _, lang := range prompts.Languages() {
		if lang == "en" {
			continue
		}
		for _, id := range prompts.IDs() {
			if strings.HasPrefix(string(id), "country-") || strings.HasPrefix(string(id), "digit-") {
				continue
			}
			en, _ := prompts.Text("en", id)
			if text, _ := prompts.Text(lang, id); text == en {
				t.Errorf("%s/%s is the English text %q", lang, id, en)
			}
		}
	}
}

// Accounts and configuration may spell a language as Asterisk does (pt_BR)
// or in any case; it is kept as the catalogue spells it.
func TestLanguageSpellings(t *testing.T) {
	for in, want := range map[string]string{"pt-BR": "pt-BR", "pt_BR": "pt-BR", "PT-br": "pt-BR", "fr": "fr", "FR": "fr", "en": "en"} {
		if got, ok := prompts.Language(in); !ok || got != want {
			t.Errorf("Language(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "pt", "pt-PT", "fr-CA", "de"} {
		if got, ok := prompts.Language(in); ok {
			t.Errorf("Language(%q) = %q, want none", in, got)
		}
	}
}

// The shipped sounds/ folder must match the catalogue: after editing a text,
// run `go run ./cmd/ivr render` and commit sounds/.
func TestShippedSoundsMatchCatalogue(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "sounds")
	if stale := prompts.Stale(dir); len(stale) > 0 {
		t.Errorf("sounds/ is stale for %d prompts (%s ...): run `go run ./cmd/ivr render` and commit sounds/", len(stale), stale[0])
	}
	for _, lang := range prompts.Languages() {
		for _, id := range prompts.IDs() {
			b, err := os.ReadFile(filepath.Join(dir, lang, string(id)+".wav"))
			if err != nil {
				continue // reported above
			}
			if err := tts.CheckWAV(b); err != nil {
				t.Errorf("sounds/%s/%s.wav: %v", lang, id, err)
			}
		}
	}
}

type countingSynth struct{ n int }

func (c *countingSynth) Synthesize(ctx context.Context, r tts.Request) ([]byte, error) {
	c.n++
	return tts.Espeak{}.Synthesize(ctx, tts.Request{Text: "x", Language: "en"})
}

func TestRenderSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	s := &countingSynth{}
	n, err := prompts.Render(context.Background(), s, dir, []string{"es"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(prompts.IDs()) || s.n != n {
		t.Fatalf("rendered %d (synth %d), want %d", n, s.n, len(prompts.IDs()))
	}
	n, err = prompts.Render(context.Background(), s, dir, []string{"es"}, false)
	if err != nil || n != 0 {
		t.Errorf("second render did %d files (%v), want 0", n, err)
	}
	stale := prompts.Stale(dir)
	for _, k := range stale {
		if strings.HasPrefix(k, "es/") {
			t.Errorf("%s stale after render", k)
		}
	}
	if want := (len(prompts.Languages()) - 1) * len(prompts.IDs()); len(stale) != want {
		t.Errorf("only es rendered, so %d prompts should be stale, got %d", want, len(stale))
	}
	if _, err := prompts.Render(context.Background(), s, dir, []string{"xx"}, false); err == nil {
		t.Error("unknown language rendered")
	}
}

func TestRenderedMediaURIs(t *testing.T) {
	ctx := context.Background()
	got, err := prompts.Rendered{Base: "/usr/share/asterisk/sounds/tfps"}.Media(ctx, "en", prompts.Redial)
	if err != nil || got != "sound:/usr/share/asterisk/sounds/tfps/en/redial" {
		t.Errorf("file media = %q, %v", got, err)
	}
	got, err = prompts.Rendered{Base: "http://10.0.0.5:8089/sounds/"}.Media(ctx, "es", prompts.Redial)
	if err != nil || got != "sound:http://10.0.0.5:8089/sounds/es/redial.wav" {
		t.Errorf("http media = %q, %v", got, err)
	}
	if _, err := (prompts.Rendered{Base: "/x"}).Media(ctx, "xx", prompts.Redial); err == nil {
		t.Error("unknown language gave media")
	}
}

// The language menu announces each language, in that language, with the key
// that chooses it, and that key chooses it.
func TestLanguageMenuKeys(t *testing.T) {
	for _, lang := range prompts.Languages() {
		key := prompts.LanguageKey(lang)
		text, _ := prompts.Text(lang, prompts.LanguageOption)
		if key < 1 || key > 9 || !strings.Contains(text, strconv.Itoa(key)+".") {
			t.Errorf("%s: option %q does not name its key %d", lang, text, key)
		}
		if got, ok := prompts.LanguageOfKey(strconv.Itoa(key)); !ok || got != lang {
			t.Errorf("key %d chooses %q, %v; want %s", key, got, ok, lang)
		}
	}
	for _, typed := range []string{"", "0", "5", "#", "12"} {
		if got, ok := prompts.LanguageOfKey(typed); ok {
			t.Errorf("key %q chooses %s", typed, got)
		}
	}
}
