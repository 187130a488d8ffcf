package ivr

import (
	"context"
	"errors"
	"time"
)

// Call is what a voice flow needs from a phone call. The ARI adapter
// (ariCall) implements it; flows never see an ARI handle.
type Call interface {
	// Play plays media URIs in order and returns when the last one ends.
	Play(ctx context.Context, media ...string) error
	// Ask plays media URIs (a key press stops them: barge-in, except during
	// Input.Lead) and collects the answer. Keys typed before the question
	// started are discarded.
	Ask(ctx context.Context, in Input, media ...string) (string, error)
	// SetLanguage sets the channel language, which `digits:` and `number:`
	// media speak in.
	SetLanguage(ctx context.Context, lang string) error
	// Continue hands the call back to the dialplan after the Stasis()
	// application, with the channel variable TFPS_RESULT set to result.
	Continue(ctx context.Context, result string) error
	// Hangup ends the call.
	Hangup(ctx context.Context) error
}

// Input says how an answer is collected. The answer is complete when Max
// keys are typed, the Terminator is typed (not included), or, after at
// least one key, InterDigit passes without another.
//
// Ask plays its media in order. Keys typed during the first Lead items are
// discarded (they were typed before the question, e.g. the code, began); a
// key during a later item stops the reading (barge-in) and counts. The
// first-key window starts when item WindowAfter-1 ends (0: the last item),
// so items after it (an explanation) play while the caller may type; they
// never cut the window short (after them at least InterDigit is left).
type Input struct {
	Max         int           // 0: no limit (needs a Terminator)
	Terminator  string        // e.g. "#"; empty: none
	Repeat      string        // a key that asks to hear the question again (ErrRepeat); empty: none
	Lead        int           // leading media items whose keys are discarded
	WindowAfter int           // the first-key window starts after this many items; 0: after all
	First       time.Duration // from the start of the window, before the first key
	InterDigit  time.Duration // between keys
	Total       time.Duration // whole answer, from the end of the media
	// Played, when set, is called with the index of each media item that
	// played to its end (a measure of what the caller heard).
	Played func(i int)
}

func (in *Input) played(i int) {
	if in.Played != nil {
		in.Played(i)
	}
}

// Errors of Ask and Play.
var (
	// ErrNoInput: no key before the first-key or total timeout.
	ErrNoInput = errors.New("no input")
	// ErrHangup: the caller hung up (or the session was stopped).
	ErrHangup = errors.New("caller hung up")
	// ErrRepeat: the caller pressed Input.Repeat.
	ErrRepeat = errors.New("caller asked to hear it again")
)
