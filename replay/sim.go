package replay

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/store"
)

// clock is the simulated time: the time of the line being replayed, moved
// on by the simulated IVR as its prompts play.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time                  { return c.t }
func (c *clock) set(t time.Time)                 { c.t = t }
func (c *clock) advance(d time.Duration)         { c.t = c.t.Add(d) }
func (c *clock) after(d time.Duration) time.Time { return c.t.Add(d) }

// How long simulated things take. A verify answer reaches the IVR about a
// second later; a prompt plays a few seconds; a caller answers a captcha in
// a few seconds; a verified caller redials a few seconds after hanging up.
const (
	toIVR       = 1 * time.Second
	perPrompt   = 2 * time.Second
	answerDelay = 3 * time.Second
	redialDelay = 5 * time.Second
)

// simCall is a caller on the phone for ivr.Flows: it hears the prompts
// (each moves the clock on) and answers as its ivr value says. It reads the
// captcha digits from the digit prompts the flow plays, as a person hears
// them.
type simCall struct {
	clk     *clock
	do      string // IVRPass ...
	pin     string // typed at a PIN prompt when passing
	silence time.Duration
	hungUp  bool
}

var _ ivr.Call = (*simCall)(nil)

func (c *simCall) Play(_ context.Context, media ...string) error {
	if c.do == IVRHangup {
		c.hungUp = true
		return ivr.ErrHangup
	}
	c.clk.advance(time.Duration(len(media)) * perPrompt)
	return nil
}

func (c *simCall) Ask(ctx context.Context, in ivr.Input, media ...string) (string, error) {
	if err := c.Play(ctx, media...); err != nil {
		return "", err
	}
	// The code is read as digit prompts, twice: the caller types what it
	// heard the first time.
	var digits string
	pinAsk := false
	for _, m := range media {
		if d, ok := strings.CutPrefix(m, digitMedia); ok && len(d) == 1 && len(digits) < in.Max {
			digits += d
		}
		if m == promptMedia(prompts.PINAsk) {
			pinAsk = true
		}
	}
	challenge := digits != "" || pinAsk
	if !challenge || c.do == IVRSilent {
		// Questions other than the check (full onboarding's limits) go
		// unanswered: the account keeps the defaults.
		c.clk.advance(c.silence)
		return "", ivr.ErrNoInput
	}
	c.clk.advance(answerDelay)
	want := digits
	if pinAsk {
		want = c.pin
	}
	if c.do == IVRPass {
		return want, nil
	}
	// fail: every digit off by one, never the right answer.
	b := []byte(want)
	if len(b) == 0 {
		b = []byte("0000")
	}
	for i := range b {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = '0' + (b[i]-'0'+1)%10
		}
	}
	return string(b), nil
}

func (c *simCall) SetLanguage(context.Context, string) error { return nil }
func (c *simCall) Continue(context.Context, string) error    { return nil }
func (c *simCall) Hangup(context.Context) error              { return nil }

// promptNames gives each prompt a media name that says which prompt it is;
// nothing is played.
type promptNames struct{}

func (promptNames) Media(_ context.Context, _ string, id prompts.ID) (string, error) {
	return promptMedia(id), nil
}

func promptMedia(id prompts.ID) string { return "prompt:" + string(id) }

// digitMedia starts the media name of every digit prompt ("prompt:digit-7").
var digitMedia = strings.TrimSuffix(promptMedia(prompts.Digit('0')), "0")

// counter counts the notifications a replay would have queued for mail, by
// kind, instead of writing outbox rows: voice-flow outcomes
// (countingRecorder) and the engine's threshold alerts (engine.Alerts).
type counter struct {
	mu     sync.Mutex
	byKind map[tfps.NotificationKind]int64
}

func newCounter() *counter { return &counter{byKind: map[tfps.NotificationKind]int64{}} }

func (c *counter) add(k tfps.NotificationKind) {
	c.mu.Lock()
	c.byKind[k]++
	c.mu.Unlock()
}

// countingRecorder stores the simulated IVR's outcomes (ivr.Recorder) in
// the replay's database, counting their notifications instead of queueing
// them in the outbox.
type countingRecorder struct {
	db    *store.Store
	notes *counter
}

// RecordVerification implements ivr.Recorder.
func (r countingRecorder) RecordVerification(ctx context.Context, v *tfps.VerificationRecord) error {
	rec := *v
	if notify := v.Notify; notify != nil {
		rec.Notify = func(a *tfps.Account) []tfps.Notification {
			for _, n := range notify(a) {
				r.notes.add(n.Kind)
			}
			return nil
		}
	}
	return r.db.RecordVerification(ctx, &rec)
}

// Enqueue implements engine.Alerts.
func (c *counter) Enqueue(_ context.Context, n *tfps.Notification) error {
	c.add(n.Kind)
	return nil
}

func (c *counter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.byKind))
	for k, v := range c.byKind {
		out[string(k)] = v
	}
	return out
}

// seeded is the replay's source of randomness: ticket ids and captcha
// digits repeat from run to run.
type seeded struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newSeeded(seed uint64) *seeded {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "tfps what-if replay")
	return &seeded{r: rand.NewChaCha8(s)}
}

// Read implements io.Reader (ivr.Flows.Rand: captcha digits).
func (s *seeded) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Read(p)
}

// ticketID draws a ticket id of engine.TicketIDDigits digits.
func (s *seeded) ticketID() (string, error) {
	s.mu.Lock()
	v := s.r.Uint64()
	s.mu.Unlock()
	return fmt.Sprintf("%0*d", engine.TicketIDDigits, v%10_000_000_000_000_000), nil
}
