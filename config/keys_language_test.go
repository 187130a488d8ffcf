package config

import (
	"strings"
	"testing"
)

// The prompt languages are spelt as the catalogue spells them (pt-BR), so
// a voice or default given as pt-br or pt_BR reaches the prompts in that
// language, and a language without prompts is refused.
func TestLanguageKeys(t *testing.T) {
	cfg, _, err := Load(Options{Lookup: env(map[string]string{
		"TFPS_DEFAULT_LANGUAGE": "PT-br",
		"TFPS_TTS_VOICES":       "pt_br=pt-BR-Wavenet-B, FR=fr-FR-Wavenet-A",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultLanguage != "pt-BR" {
		t.Errorf("default language = %q, want pt-BR", cfg.DefaultLanguage)
	}
	if v := cfg.IVR.TTSVoices; v["pt-BR"] != "pt-BR-Wavenet-B" || v["fr"] != "fr-FR-Wavenet-A" || len(v) != 2 {
		t.Errorf("voices = %v", v)
	}
	d, _, err := Load(Options{Lookup: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "es", "fr", "pt-BR"} {
		if d.IVR.TTSVoices[lang] == "" {
			t.Errorf("no default Google voice for %s: %v", lang, d.IVR.TTSVoices)
		}
	}
	_, _, err = Load(Options{Lookup: env(map[string]string{"TFPS_DEFAULT_LANGUAGE": "pt"})})
	if err == nil || !strings.Contains(err.Error(), "TFPS_DEFAULT_LANGUAGE") || !strings.Contains(err.Error(), "pt-BR") {
		t.Errorf("default language pt: %v", err)
	}
}
