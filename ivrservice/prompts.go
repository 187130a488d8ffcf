package ivrservice

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/tts"
)

// promptSource picks how prompts reach Asterisk: Google TTS (cached, served
// under /tts/) when credentials or an endpoint are set, with the
// pre-rendered prompts as fallback; otherwise the pre-rendered prompts from
// TFPS_IVR_MEDIA_BASE (a folder on the Asterisk box, or this server's
// /sounds/).
func promptSource(ctx context.Context, cfg *config.Config, httpAddr, ttsDir string, log *slog.Logger) (prompts.Source, func(), error) {
	base := cfg.IVR.MediaBase
	if base == "" {
		if httpAddr == "" {
			return nil, nil, errors.New("TFPS_IVR_MEDIA_BASE is empty and TFPS_IVR_LISTEN too: Asterisk has no way to reach the prompts")
		}
		base = "http://" + httpAddr + "/sounds"
	}
	if stale := prompts.Stale(cfg.IVR.SoundsDir); len(stale) > 0 {
		log.Warn("pre-rendered prompts missing or stale: run `ivr render`", "dir", cfg.IVR.SoundsDir, "count", len(stale), "first", stale[0])
	}
	rendered := prompts.Rendered{Base: base}
	if cfg.IVR.TTSCredentials == "" && cfg.IVR.TTSEndpoint == "" {
		log.Info("prompts: pre-rendered", "base", base)
		return rendered, func() {}, nil
	}
	if httpAddr == "" {
		return nil, nil, errors.New("text-to-speech audio is served over HTTP: set TFPS_IVR_LISTEN")
	}
	g, err := tts.NewGoogle(ctx, tts.GoogleOptions{CredentialsFile: cfg.IVR.TTSCredentials, Endpoint: cfg.IVR.TTSEndpoint, Voices: cfg.IVR.TTSVoices})
	if err != nil {
		return nil, nil, err
	}
	cache, err := tts.NewCache(ttsDir, g)
	if err != nil {
		g.Close()
		return nil, nil, err
	}
	ttsBase := "http://" + httpAddr + "/tts"
	if strings.HasPrefix(cfg.IVR.MediaBase, "http") {
		ttsBase = strings.TrimSuffix(strings.TrimSuffix(cfg.IVR.MediaBase, "/"), "/sounds") + "/tts"
	}
	log.Info("prompts: Google Text-to-Speech, cached", "cache", ttsDir, "base", ttsBase, "fallback", base)
	return prompts.Spoken{Cache: cache, Voices: cfg.IVR.TTSVoices, Base: ttsBase, Fallback: rendered, Log: log}, func() { g.Close() }, nil
}
