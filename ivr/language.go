package ivr

import (
	"context"
	"errors"

	"github.com/voipshield/tfps/prompts"
)

// askLanguage offers the caller of the change of parameters every prompt
// language, each announced in its own language with its key, and switches
// the call to the chosen one at once (the read-back and the goodbye already
// speak it). It returns the language chosen; "" when the caller typed
// nothing (the usual answer: the language stays), # (keep it) or a key that
// chooses none. Keys during the first sentence are discarded: they are the
// # a caller adds after the two digits of the quota question.
func (s *session) askLanguage(ctx context.Context) (string, error) {
	media := []string{s.mediaOrEmpty(ctx, prompts.LanguageAsk)}
	for _, l := range prompts.Languages() {
		m, err := s.f.Prompts.Media(ctx, l, prompts.LanguageOption)
		if err != nil {
			s.log.Warn("prompt unavailable", "prompt", prompts.LanguageOption, "lang", l, "err", err)
			continue
		}
		media = append(media, m)
	}
	lead := 0
	if media[0] != "" {
		lead = 1
	}
	typed, err := s.call.Ask(ctx, s.input(Input{Max: 1, Lead: lead}), compact(media)...)
	if errors.Is(err, ErrNoInput) || (err == nil && typed == "#") {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	lang, ok := prompts.LanguageOfKey(typed)
	if !ok {
		s.log.Info("invalid answer", "question", prompts.LanguageAsk)
		return "", s.say(ctx, prompts.InvalidAnswer)
	}
	s.log.Info("language chosen", "lang", lang)
	if lang != s.lang {
		s.lang = lang
		if err := s.call.SetLanguage(ctx, lang); err != nil {
			return lang, err
		}
	}
	return lang, nil
}
