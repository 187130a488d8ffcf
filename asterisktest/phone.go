package asterisktest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// Phone is a test caller: an ARI app ("caller") that sees every event of
// the box, originates Local channels into the dialplan and types keys on
// its leg. One dispatcher routes events to the call they concern.
type Phone struct {
	t     testing.TB
	cl    ari.Client
	mu    sync.Mutex
	calls map[string]chan ari.Event // by IVR-side channel ID
	seq   int
	// Name, when set before dialling, turns a media URI into the one the
	// phone records and matches (e.g. appends the prompt a text-to-speech
	// file was made from, "…/tts/<hash>.wav#/es/digit-4").
	Name func(uri string) string
}

func NewPhone(t testing.TB, a *Asterisk) *Phone {
	p := &Phone{t: t, cl: a.Client(t, "caller", true), calls: map[string]chan ari.Event{}}
	sub := p.cl.Bus().Subscribe(nil, ari.Events.PlaybackStarted, ari.Events.PlaybackFinished, ari.Events.ChannelDestroyed, ari.Events.StasisEnd, ari.Events.StasisStart, ari.Events.ChannelDtmfReceived)
	t.Cleanup(sub.Cancel)
	go func() {
		for e := range sub.Events() {
			var id string
			switch v := e.(type) {
			case *ari.PlaybackStarted:
				id = strings.TrimPrefix(v.Playback.TargetURI, "channel:")
				v.Playback.MediaURI = p.name(v.Playback.MediaURI)
			case *ari.PlaybackFinished:
				id = strings.TrimPrefix(v.Playback.TargetURI, "channel:")
				v.Playback.MediaURI = p.name(v.Playback.MediaURI)
			case *ari.ChannelDestroyed:
				id = v.Channel.ID
			case *ari.StasisEnd:
				id = v.Channel.ID
			case *ari.ChannelDtmfReceived:
				id = v.Channel.ID
			case *ari.StasisStart:
				if v.GetApplication() != "caller" {
					continue
				}
				id = v.Channel.ID
			}
			p.mu.Lock()
			ch := p.calls[id]
			p.mu.Unlock()
			if ch != nil {
				select {
				case ch <- e:
				default:
					t.Errorf("test phone: event buffer of %s full", id)
				}
			}
		}
	}()
	return p
}

func (p *Phone) name(uri string) string {
	if p.Name == nil {
		return uri
	}
	return p.Name(uri)
}

// Call is one call of the test phone. Its methods are used by one
// goroutine.
type Call struct {
	p          *Phone
	Leg1, Leg2 string // the phone's leg, the IVR's leg
	events     chan ari.Event
	Played     []string // media URIs whose playback started
	Failed     []string // media URIs Asterisk could not play
	Done       []string // media URIs played to the end (state done)
	Ended      bool
	Keys       string // keys the IVR's leg received
}

// WaitRegistered waits until the phone's app is registered on Asterisk
// again (after a restart its client reconnects by itself).
func (p *Phone) WaitRegistered(within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := p.cl.Application().Get(ari.NewKey(ari.ApplicationKey, "caller")).Data(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("test phone app not registered again within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Dial calls exten in context (tfps-verify: "V<ticket>").
func (p *Phone) Dial(dialContext, exten string, vars map[string]string, callerID string) *Call {
	p.t.Helper()
	c, err := p.TryDial(dialContext, exten, vars, callerID)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// TryDial is Dial for goroutines other than the test's: it returns the error.
func (p *Phone) TryDial(dialContext, exten string, vars map[string]string, callerID string) (*Call, error) {
	p.mu.Lock()
	p.seq++
	c := &Call{p: p, Leg1: fmt.Sprintf("phone-%d-%d", time.Now().UnixNano(), p.seq), events: make(chan ari.Event, 512)}
	c.Leg2 = c.Leg1 + "-ivr"
	p.calls[c.Leg2] = c.events
	p.mu.Unlock()
	_, err := p.cl.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint: "Local/" + exten + "@" + dialContext + "/n", App: "caller", Timeout: 10,
		ChannelID: c.Leg1, OtherChannelID: c.Leg2, Variables: vars, CallerID: callerID,
		// A SIP caller brings one narrowband codec; without this Local
		// channels pick slin192 and every prompt is resampled 24-fold.
		Formats: "ulaw",
	})
	if err != nil {
		return nil, fmt.Errorf("originate %s@%s: %w", exten, dialContext, err)
	}
	return c, nil
}

// VerifyCall dials a ticket in the verification context.
func (p *Phone) VerifyCall(ticket string) *Call {
	return p.Dial("tfps-verify", "V"+ticket, nil, "")
}

func (c *Call) note(e ari.Event) {
	switch v := e.(type) {
	case *ari.PlaybackStarted:
		c.Played = append(c.Played, v.Playback.MediaURI)
	case *ari.PlaybackFinished:
		if v.Playback.State == "failed" {
			c.Failed = append(c.Failed, v.Playback.MediaURI)
		} else {
			c.Done = append(c.Done, v.Playback.MediaURI)
		}
	case *ari.ChannelDestroyed:
		c.Ended = true
	case *ari.ChannelDtmfReceived:
		c.Keys += v.Digit
	}
}

// WaitPlay waits until a playback whose media URI contains want starts and
// returns its URI; "" (and a test error) when the call ends first.
func (c *Call) WaitPlay(want string, within time.Duration) string {
	c.p.t.Helper()
	return c.waitPlay(want, func(uri string) bool { return strings.Contains(uri, want) }, within)
}

// WaitFinished waits until a playback whose media URI contains want ends
// (played out or stopped).
func (c *Call) WaitFinished(want string, within time.Duration) {
	c.p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-c.events:
			c.note(e)
			if f, ok := e.(*ari.PlaybackFinished); ok && strings.Contains(f.Playback.MediaURI, want) {
				return
			}
			if c.Ended {
				c.p.t.Errorf("call ended before %q finished; played: %q", want, c.Played)
				return
			}
		case <-timeout:
			c.p.t.Errorf("%q did not finish within %s; played: %q", want, within, c.Played)
			return
		}
	}
}

// WaitPlayAny waits until a playback whose media URI contains one of
// wants starts and returns its URI; "" (and a test error) when the call
// ends first.
func (c *Call) WaitPlayAny(within time.Duration, wants ...string) string {
	c.p.t.Helper()
	return c.waitPlay(strings.Join(wants, " or "), func(uri string) bool {
		for _, w := range wants {
			if strings.Contains(uri, w) {
				return true
			}
		}
		return false
	}, within)
}

// WaitKeys waits until the IVR's leg has received n keys in all.
func (c *Call) WaitKeys(n int, within time.Duration) {
	c.p.t.Helper()
	timeout := time.After(within)
	for len(c.Keys) < n {
		select {
		case e := <-c.events:
			c.note(e)
			if c.Ended && len(c.Keys) < n {
				c.p.t.Errorf("call ended after %d of %d keys (%q)", len(c.Keys), n, c.Keys)
				return
			}
		case <-timeout:
			c.p.t.Errorf("the IVR leg received %q, not %d keys, within %s", c.Keys, n, within)
			return
		}
	}
}

func (c *Call) waitPlay(what string, match func(uri string) bool, within time.Duration) string {
	c.p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-c.events:
			c.note(e)
			if s, ok := e.(*ari.PlaybackStarted); ok && match(s.Playback.MediaURI) {
				return s.Playback.MediaURI
			}
			if c.Ended {
				c.p.t.Errorf("call ended before %q played; played: %q; keys received by the IVR leg: %q", what, c.Played, c.Keys)
				return ""
			}
		case <-timeout:
			c.p.t.Errorf("%q did not play within %s; played: %q", what, within, c.Played)
			return ""
		}
	}
}

// WaitStasis waits until the IVR's leg enters the phone's app (the
// dialplan went on after the IVR) and returns the app arguments.
func (c *Call) WaitStasis(within time.Duration) []string {
	c.p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-c.events:
			c.note(e)
			if s, ok := e.(*ari.StasisStart); ok {
				return s.Args
			}
			if c.Ended {
				c.p.t.Errorf("call ended before the dialplan went on; played: %q", c.Played)
				return nil
			}
		case <-timeout:
			c.p.t.Errorf("dialplan did not go on within %s; played: %q", within, c.Played)
			return nil
		}
	}
}

// Challenge waits for a new captcha code (its intro prompt, code-intro or
// code-new) and returns the digits of its first reading, learnt from the
// digit prompts (.../digit-N) as they start.
func (c *Call) Challenge() string {
	c.p.t.Helper()
	if c.waitPlay("code intro", func(uri string) bool {
		return strings.Contains(uri, "/code-intro") || strings.Contains(uri, "/code-new")
	}, 30*time.Second) == "" {
		return ""
	}
	return c.Code(4)
}

// Code returns the next n digits read to the caller.
func (c *Call) Code(n int) string {
	c.p.t.Helper()
	var code []byte
	for len(code) < n {
		uri := c.waitPlay("a digit", func(uri string) bool { _, ok := DigitOf(uri); return ok }, 30*time.Second)
		if uri == "" {
			return string(code)
		}
		d, _ := DigitOf(uri)
		code = append(code, d)
	}
	return string(code)
}

// DigitOf reads the digit of a digit prompt's media URI (".../digit-4").
func DigitOf(uri string) (byte, bool) {
	uri = strings.TrimSuffix(uri, ".wav")
	i := strings.LastIndex(uri, "/digit-")
	if i < 0 || len(uri) != i+len("/digit-")+1 {
		return 0, false
	}
	d := uri[len(uri)-1]
	return d, d >= '0' && d <= '9'
}

// Digits counts the digit prompts that started so far.
func (c *Call) Digits() int {
	n := 0
	for _, m := range c.Played {
		if _, ok := DigitOf(m); ok {
			n++
		}
	}
	return n
}

// Press types keys on our leg; they reach the IVR leg as DTMF.
func (c *Call) Press(keys string) {
	c.p.t.Helper()
	err := c.p.cl.Channel().SendDTMF(ari.NewKey(ari.ChannelKey, c.Leg1), keys, &ari.DTMFOptions{Duration: 100 * time.Millisecond, Between: 100 * time.Millisecond})
	if err != nil {
		c.p.t.Errorf("send DTMF %q: %v", keys, err)
	}
}

// Hangup hangs up our leg.
func (c *Call) Hangup() {
	_ = c.p.cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, c.Leg1), "normal")
}

// WaitEnd waits until the IVR leg is destroyed.
func (c *Call) WaitEnd(within time.Duration) {
	c.p.t.Helper()
	timeout := time.After(within)
	for !c.Ended {
		select {
		case e := <-c.events:
			c.note(e)
		case <-timeout:
			c.p.t.Errorf("call still up after %s; played: %q", within, c.Played)
			return
		}
	}
	// Events of the last moments (PlaybackFinished after destroy) are not
	// needed; the call is over.
	c.p.mu.Lock()
	delete(c.p.calls, c.Leg2)
	c.p.mu.Unlock()
}

// PlayedAny reports whether a media URI containing s started.
func (c *Call) PlayedAny(s string) bool {
	for _, m := range c.Played {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// CheckPromptsPlayed fails when Asterisk could not play a prompt, and when
// none of our rendered prompts played to the end.
func (c *Call) CheckPromptsPlayed(base string) {
	c.p.t.Helper()
	if len(c.Failed) > 0 {
		c.p.t.Errorf("Asterisk could not play %q", c.Failed)
	}
	for _, m := range c.Done {
		if strings.HasPrefix(m, "sound:"+base) {
			return
		}
	}
	c.p.t.Errorf("no prompt under %s played to its end; done: %q, played: %q", base, c.Done, c.Played)
}
