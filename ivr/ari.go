package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// digitBuffer is how many keys a call keeps before the flow reads them.
const digitBuffer = 32

// maxPlayback bounds one prompt, in case Asterisk never reports its end.
const maxPlayback = 2 * time.Minute

// ariCall is a Call on one ARI channel. It owns one subscription to the
// channel's events; pump turns them into keys and a hang-up signal and ends
// when the subscription is cancelled.
type ariCall struct {
	cl      ari.Client
	h       *ari.ChannelHandle
	digits  chan string
	seq     int
	log     *slog.Logger
	metrics *metrics
}

// newARICall subscribes to the channel's events before anything is done on
// it (so no key is lost) and calls hangup when the channel leaves Stasis:
// with ErrEndedByAsterisk when Asterisk itself asked for the hang-up first
// (a soft hang-up: shutdown, restart, an operator's command), with nil when
// the caller left. The returned stop cancels the subscription and waits for
// the pump.
func newARICall(cl ari.Client, h *ari.ChannelHandle, hangup context.CancelCauseFunc, log *slog.Logger, m *metrics) (*ariCall, func()) {
	c := &ariCall{cl: cl, h: h, digits: make(chan string, digitBuffer), log: log, metrics: m}
	sub := h.Subscribe(ari.Events.ChannelDtmfReceived, ari.Events.StasisEnd, ari.Events.ChannelDestroyed, ari.Events.ChannelHangupRequest)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.Events() {
			switch v := e.(type) {
			case *ari.ChannelDtmfReceived:
				select {
				case c.digits <- v.Digit:
				default:
					// A caller typing 32 keys ahead of the flow loses the rest.
				}
			case *ari.ChannelHangupRequest:
				if v.Soft {
					hangup(ErrEndedByAsterisk)
				} else {
					hangup(nil)
				}
			case *ari.StasisEnd, *ari.ChannelDestroyed:
				hangup(nil)
			}
		}
	}()
	return c, func() { sub.Cancel(); <-done }
}

func (c *ariCall) Play(ctx context.Context, media ...string) error {
	for _, m := range media {
		if _, err := c.play(ctx, m, nil); err != nil {
			return err
		}
	}
	return nil
}

func (c *ariCall) Ask(ctx context.Context, in Input, media ...string) (string, error) {
	c.flush()
	lead := min(max(in.Lead, 0), len(media))
	for i, m := range media[:lead] {
		if _, err := c.play(ctx, m, nil); err != nil {
			return "", err
		}
		in.played(i)
	}
	// Keys typed before the question began are never scored against it.
	c.flush()
	windowAt := len(media)
	if in.WindowAfter > 0 && in.WindowAfter < len(media) {
		windowAt = in.WindowAfter
	}
	var opened time.Time
	first := ""
	for i := lead; i < len(media); i++ {
		d, err := c.play(ctx, media[i], c.digits)
		if err != nil {
			return "", err
		}
		if d != "" {
			first = d
			break
		}
		in.played(i)
		if i+1 == windowAt {
			opened = time.Now()
		}
	}
	// The window counts from its start; media after it (an explanation)
	// never cut it short: after them the caller still has InterDigit.
	wait := in.First
	if !opened.IsZero() {
		wait = max(in.First-time.Since(opened), in.InterDigit)
	}
	return collect(ctx, c.digits, first, in, wait)
}

// flush drops keys typed before a question.
func (c *ariCall) flush() {
	for {
		select {
		case <-c.digits:
		default:
			return
		}
	}
}

// play plays one media URI, subscribed to its end before it starts. A key
// on keys stops it and is returned (barge-in).
func (c *ariCall) play(ctx context.Context, media string, keys <-chan string) (string, error) {
	if ctx.Err() != nil {
		return "", ErrHangup
	}
	c.seq++
	id := c.h.ID() + "-pb" + strconv.Itoa(c.seq)
	sub := c.cl.Bus().Subscribe(ari.NewKey(ari.PlaybackKey, id), ari.Events.PlaybackFinished)
	defer sub.Cancel()
	pb, err := c.h.Play(id, media)
	if err != nil {
		if ctx.Err() != nil || c.gone() {
			return "", ErrHangup
		}
		return "", fmt.Errorf("play %s: %w", media, err)
	}
	guard := time.NewTimer(maxPlayback)
	defer guard.Stop()
	select {
	case e := <-sub.Events():
		if f, ok := e.(*ari.PlaybackFinished); ok && f.Playback.State == "failed" {
			// A playback also ends "failed" when the caller hangs up
			// during it: that is the caller's outcome, not a bad prompt.
			// On a loaded box the hang-up may be reported a moment after
			// the playback's end, so it is given a moment to arrive.
			if c.hungUp(ctx) {
				return "", ErrHangup
			}
			c.metrics.playbackFailures.Inc()
			c.log.Warn("prompt did not play", "media", media)
		}
		return "", nil
	case d := <-keys:
		_ = pb.Stop() // the playback may have just ended; nothing to do then
		return d, nil
	case <-guard.C:
		_ = pb.Stop()
		return "", fmt.Errorf("play %s: no end reported within %s", media, maxPlayback)
	case <-ctx.Done():
		_ = pb.Stop() // gone with the channel after a hang-up; needed when the session is stopped
		return "", ErrHangup
	}
}

// hangupGrace is how long a failed playback waits for a hang-up that
// explains it before it counts as a prompt that did not play.
const hangupGrace = 500 * time.Millisecond

// hungUp reports whether the caller left, waiting up to hangupGrace for
// the hang-up (the session's ctx ends on StasisEnd).
func (c *ariCall) hungUp(ctx context.Context) bool {
	if ctx.Err() != nil || c.gone() {
		return true
	}
	t := time.NewTimer(hangupGrace)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return c.gone()
	}
}

// AsteriskLanguage is the channel language Asterisk knows for a prompt
// language: its sound folders and say.c use an underscore (pt_BR, where
// asterisk-core-sounds-pt-br installs, and the Brazilian way of reading
// numbers), the prompt languages a BCP 47 hyphen (pt-BR).
func AsteriskLanguage(lang string) string { return strings.ReplaceAll(lang, "-", "_") }

// gone reports whether the channel has left (hung up): Asterisk no longer
// knows it, or it is on its way out.
func (c *ariCall) gone() bool {
	d, err := c.h.Data()
	return err != nil || d == nil || d.State == "Down"
}

func (c *ariCall) SetLanguage(ctx context.Context, lang string) error {
	if err := c.h.SetVariable("CHANNEL(language)", AsteriskLanguage(lang)); err != nil {
		if ctx.Err() != nil {
			return ErrHangup
		}
		return fmt.Errorf("set channel language %s: %w", lang, err)
	}
	return nil
}

func (c *ariCall) Continue(ctx context.Context, result string) error {
	if err := c.h.SetVariable("TFPS_RESULT", result); err != nil {
		if ctx.Err() != nil {
			return ErrHangup
		}
		return fmt.Errorf("set TFPS_RESULT: %w", err)
	}
	if err := c.h.Continue("", "", 0); err != nil {
		return fmt.Errorf("continue in dialplan: %w", err)
	}
	return nil
}

func (c *ariCall) Hangup(ctx context.Context) error {
	if err := c.h.Hangup(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("hang up: %w", err)
	}
	return nil
}

// collect reads keys until the answer is complete (see Input). firstWait
// is what is left of the first-key window.
func collect(ctx context.Context, keys <-chan string, first string, in Input, firstWait time.Duration) (string, error) {
	got := ""
	total := time.NewTimer(in.Total)
	defer total.Stop()
	wait := time.NewTimer(max(firstWait, 0))
	defer wait.Stop()
	add := func(d string) bool {
		if in.Repeat != "" && d == in.Repeat {
			return true
		}
		if in.Terminator != "" && d == in.Terminator {
			return true
		}
		got += d
		if in.Max > 0 && len(got) >= in.Max {
			return true
		}
		wait.Reset(in.InterDigit)
		return false
	}
	repeat := func(d string) (string, error) {
		if in.Repeat != "" && d == in.Repeat {
			return "", ErrRepeat
		}
		return got, nil
	}
	if first != "" && add(first) {
		return repeat(first)
	}
	for {
		select {
		case d := <-keys:
			if add(d) {
				return repeat(d)
			}
		case <-wait.C:
			if got == "" {
				return "", ErrNoInput
			}
			return got, nil
		case <-total.C:
			if got == "" {
				return "", ErrNoInput
			}
			return got, nil
		case <-ctx.Done():
			return got, ErrHangup
		}
	}
}

// isHangup reports whether err means the call is gone.
func isHangup(err error) bool { return errors.Is(err, ErrHangup) }
