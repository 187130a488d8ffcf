package prompts

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/voipshield/tfps/tts"
)

// Source gives the ARI media URI that plays prompt id in lang.
type Source interface {
	Media(ctx context.Context, lang string, id ID) (string, error)
}

// Rendered plays the pre-rendered files of `ivr render` (<lang>/<id>.wav).
// Base is either an absolute folder on the Asterisk box holding a copy of
// them (sound:/folder/en/redial, Asterisk picks the .wav) or the http(s) URL
// where this service serves them (sound:http://host:8089/sounds/en/redial.wav,
// fetched once by Asterisk's res_http_media_cache).
type Rendered struct{ Base string }

// Media implements Source.
func (r Rendered) Media(_ context.Context, lang string, id ID) (string, error) {
	if _, ok := Text(lang, id); !ok {
		return "", fmt.Errorf("prompt %s/%s: not in the catalogue", lang, id)
	}
	return uri(r.Base, lang+"/"+string(id)), nil
}

// uri joins base and a name without extension into a sound: media URI.
func uri(base, name string) string {
	base = strings.TrimRight(base, "/")
	if strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://") {
		return "sound:" + base + "/" + name + ".wav"
	}
	return "sound:" + base + "/" + name
}

// Spoken renders prompts with a text-to-speech engine on first use, keeps
// the audio in Cache and plays it from Base (the cache folder as Asterisk
// sees it, or the URL this service serves it under). When synthesis fails,
// Fallback (the pre-rendered prompts) plays instead, so a TTS outage never
// silences a call.
type Spoken struct {
	Cache    *tts.Cache
	Voices   map[string]string // language -> voice
	Base     string
	Fallback Source
	Log      *slog.Logger
}

// Media implements Source.
func (s Spoken) Media(ctx context.Context, lang string, id ID) (string, error) {
	text, ok := Text(lang, id)
	if !ok {
		return "", fmt.Errorf("prompt %s/%s: not in the catalogue", lang, id)
	}
	name, err := s.Cache.File(ctx, tts.Request{Text: text, Language: lang, Voice: s.Voices[lang]})
	if err != nil {
		if s.Fallback == nil {
			return "", fmt.Errorf("prompt %s/%s: %w", lang, id, err)
		}
		if s.Log != nil {
			s.Log.Warn("text-to-speech failed, playing the pre-rendered prompt", "lang", lang, "prompt", id, "err", err)
		}
		return s.Fallback.Media(ctx, lang, id)
	}
	return uri(s.Base, strings.TrimSuffix(name, ".wav")), nil
}
