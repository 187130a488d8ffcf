package ivr

import (
	"net/http"
	"strings"
)

// MediaHandler serves prompt audio to Asterisk's HTTP media cache: the
// pre-rendered prompts under /sounds/<lang>/<id>.wav and text-to-speech
// audio under /tts/<hash>.wav. Only .wav files are served, no listings.
func MediaHandler(soundsDir, ttsDir string) http.Handler {
	mux := http.NewServeMux()
	if soundsDir != "" {
		mux.Handle("GET /sounds/", http.StripPrefix("/sounds/", wavOnly(http.FileServer(http.Dir(soundsDir)), "public, max-age=3600")))
	}
	if ttsDir != "" {
		// Named by the hash of their text: never change.
		mux.Handle("GET /tts/", http.StripPrefix("/tts/", wavOnly(http.FileServer(http.Dir(ttsDir)), "public, max-age=31536000, immutable")))
	}
	return mux
}

// wavOnly serves .wav files with a Cache-Control lifetime. Without one,
// res_http_media_cache treats its copy as stale and fetches the file again
// on every playback, replacing it under concurrent readers, which then fail
// ("does not exist in any format").
func wavOnly(h http.Handler, cacheControl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".wav") || strings.Contains(r.URL.Path, "..") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Cache-Control", cacheControl)
		h.ServeHTTP(w, r)
	})
}
