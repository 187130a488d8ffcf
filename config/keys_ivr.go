package config

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// IVRConfig holds the settings of the ivr part of the product. Its keys are
// declared in ivrKeys; add a field here and a Key there for each new
// setting.
type IVRConfig struct {
	// Listen is where cmd/ivr serves /healthz, /metrics and the prompt audio
	// (sounds/ and the TTS cache) for Asterisk's HTTP media cache.
	Listen string
	// SoundsDir is the local folder of pre-rendered prompts (<lang>/<id>.wav),
	// written by `ivr render` and served under /sounds/.
	SoundsDir string
	// MediaBase is how Asterisk reaches the prompts: an absolute folder on the
	// Asterisk box (sound:<folder>/<lang>/<id>) or an http(s) URL of this
	// service's /sounds/ (sound:<url>/<lang>/<id>.wav). Empty: the http URL of
	// Listen.
	MediaBase string

	FullOnboarding bool // onboarding asks the concurrent calls and the daily quota

	FirstDigitTimeout time.Duration // after a question (the code's last reading) ends, before the first key
	InterDigitTimeout time.Duration // between two keys
	InputTimeout      time.Duration // whole answer, from the end of the prompt
	InputTries        int           // re-prompts of a question after an invalid or missing answer
	CaptchaTries      int           // captcha/PIN tries within one call (each wrong one counts as a failure)
	DrainTimeout      time.Duration // on SIGTERM, wait this long for live sessions

	// Google Text-to-Speech; with no credentials the pre-rendered prompts play.
	TTSCredentials string            // service-account JSON file
	TTSEndpoint    string            // host:port of the TTS API (tests, private endpoints)
	TTSVoices      map[string]string // language -> voice name
	TTSCacheDir    string            // rendered audio, by hash of text, language and voice
}

func ivrKeys() []Key {
	return []Key{
		listenKey("TFPS_IVR_LISTEN", "127.0.0.1:8089", "HTTP listen address of the IVR: /healthz, /metrics and the prompt audio under /sounds/ and /tts/ for Asterisk's HTTP media cache. Empty: none.", func(c *Config) *string { return &c.IVR.Listen }),
		stringKey("TFPS_IVR_SOUNDS_DIR", "sounds", "Folder of the pre-rendered prompts (<lang>/<prompt>.wav, 8 kHz mono), written by `ivr render`.", func(c *Config) *string { return &c.IVR.SoundsDir }),
		{Name: "TFPS_IVR_MEDIA_BASE", Help: "How Asterisk reaches the prompts: an absolute folder on the Asterisk box holding a copy of TFPS_IVR_SOUNDS_DIR (e.g. /usr/share/asterisk/sounds/tfps), or the http URL of this IVR's /sounds/ (e.g. http://10.0.0.5:8089/sounds). Empty: http://TFPS_IVR_LISTEN/sounds.", Set: func(c *Config, v string) error {
			v = strings.TrimRight(strings.TrimSpace(v), "/")
			if v != "" && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("must be an absolute folder (/...) or an http(s) URL")
			}
			c.IVR.MediaBase = v
			return nil
		}},
		boolKey("TFPS_IVR_FULL_ONBOARDING", "off", "on: after verifying a new account, the IVR asks its concurrent calls in business hours (one digit) and its daily quota (up to two digits, # to finish), reads them back, and asks a PIN of its own (typed twice) for the change menu; off: new accounts get the TFPS_DEFAULT_* limits and the installation PIN.", func(c *Config) *bool { return &c.IVR.FullOnboarding }),
		durationKey("TFPS_IVR_FIRST_DIGIT_TIMEOUT", "10s", "Wait for the first key after a question ends; for the captcha, from the end of the second reading of the code (the explanation after it plays meanwhile). Callers need 1.5-3 s to react, often more to type a code they just heard.", 500*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.IVR.FirstDigitTimeout }),
		durationKey("TFPS_IVR_INTER_DIGIT_TIMEOUT", "3s", "Wait between two keys of one answer.", 200*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.IVR.InterDigitTimeout }),
		durationKey("TFPS_IVR_INPUT_TIMEOUT", "15s", "Longest time for a whole answer, from the end of its prompt.", time.Second, 5*time.Minute, func(c *Config) *time.Duration { return &c.IVR.InputTimeout }),
		intKey("TFPS_IVR_INPUT_TRIES", "3", "How often a question of the onboarding or change flow is asked before the call gives up on invalid or missing answers.", 1, 10, func(c *Config) *int { return &c.IVR.InputTries }),
		intKey("TFPS_IVR_CAPTCHA_TRIES", "2", "Captcha or PIN tries within one call; every wrong or missing entry counts as one failure towards TFPS_MAX_CAPTCHAATTEMPTS.", 1, 10, func(c *Config) *int { return &c.IVR.CaptchaTries }),
		durationKey("TFPS_IVR_DRAIN_TIMEOUT", "30s", "On SIGTERM the IVR takes no new calls and waits this long for calls in progress.", 0, 10*time.Minute, func(c *Config) *time.Duration { return &c.IVR.DrainTimeout }),
		stringKey("TFPS_TTS_CREDENTIALS", "", "Google service-account JSON file for Text-to-Speech. Empty: the pre-rendered prompts of TFPS_IVR_SOUNDS_DIR play.", func(c *Config) *string { return &c.IVR.TTSCredentials }),
		{Name: "TFPS_TTS_ENDPOINT", Help: "host:port of the Text-to-Speech API; empty: Google's. Set for a private endpoint or a test server (then plain gRPC without credentials is used when TFPS_TTS_CREDENTIALS is empty).", Set: func(c *Config, v string) error {
			if v == "" {
				c.IVR.TTSEndpoint = ""
				return nil
			}
			if err := checkHostPort(v); err != nil {
				return err
			}
			c.IVR.TTSEndpoint = v
			return nil
		}},
		{Name: "TFPS_TTS_VOICES", Default: "en=en-US-Standard-C,es=es-ES-Standard-A,fr=fr-FR-Standard-A,pt-BR=pt-BR-Standard-A", Help: "Google voice per prompt language: lang=voice pairs separated by commas.", Set: func(c *Config, v string) error {
			m := map[string]string{}
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				lang, voice, ok := strings.Cut(p, "=")
				if !ok || strings.TrimSpace(lang) == "" || strings.TrimSpace(voice) == "" {
					return fmt.Errorf("must be lang=voice pairs separated by commas, e.g. en=en-US-Standard-C,es=es-ES-Standard-A")
				}
				// The prompt languages are BCP 47 tags in their usual case
				// (pt-BR); pt-br or pt_BR name the same one.
				tag, err := language.Parse(strings.ReplaceAll(strings.TrimSpace(lang), "_", "-"))
				if err != nil {
					return fmt.Errorf("%q is not a language tag (en, pt-BR)", strings.TrimSpace(lang))
				}
				m[tag.String()] = strings.TrimSpace(voice)
			}
			c.IVR.TTSVoices = m
			return nil
		}},
		stringKey("TFPS_TTS_CACHE_DIR", "", "Folder for audio rendered by Text-to-Speech, kept by hash of text, language and voice. Empty: tts-cache in TFPS_DATA_DIR.", func(c *Config) *string { return &c.IVR.TTSCacheDir }),
	}
}
