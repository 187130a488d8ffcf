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
		mux.Handle("GET /sounds/", http.StripPrefix("/sounds/", wavOnly(http.FileServer(http.Dir(soundsDir)))))
	}
	if ttsDir != "" {
		mux.Handle("GET /tts/", http.StripPrefix("/tts/", wavOnly(http.FileServer(http.Dir(ttsDir)))))
	}
	return mux
}

func wavOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".wav") || strings.Contains(r.URL.Path, "..") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		h.ServeHTTP(w, r)
	})
}
