package asterisktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/voipshield/tfps/asterisktest"
)

// A Local channel originated into the shipped tfps-verify context reaches the
// Stasis app "tfps" with the ticket as its argument, and DTMF sent on the
// caller's leg reaches the app's leg.
func TestOriginateIntoStasis(t *testing.T) {
	a := asterisktest.Start(t)
	app := a.Client(t, "tfps", false)
	caller := a.Client(t, "caller", false)

	starts := app.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer starts.Cancel()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	leg1, err := caller.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint:       "Local/V1234567890123456@tfps-verify/n",
		App:            "caller",
		Timeout:        10,
		ChannelID:      "caller-leg-1",
		OtherChannelID: "ivr-leg-2",
	})
	if err != nil {
		t.Fatalf("originate: %v", err)
	}

	var start *ari.StasisStart
	select {
	case e := <-starts.Events():
		start = e.(*ari.StasisStart)
	case <-ctx.Done():
		t.Fatal("no StasisStart in app tfps within 10 s")
	}
	if start.Channel.ID != "ivr-leg-2" {
		t.Errorf("StasisStart channel = %q, want ivr-leg-2", start.Channel.ID)
	}
	if len(start.Args) != 1 || start.Args[0] != "1234567890123456" {
		t.Errorf("StasisStart args = %q, want [1234567890123456]", start.Args)
	}

	ivr := app.Channel().Get(start.Key(ari.ChannelKey, start.Channel.ID))
	dtmf := ivr.Subscribe(ari.Events.ChannelDtmfReceived)
	defer dtmf.Cancel()
	callerStart := caller.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer callerStart.Cancel()
	if err := ivr.Answer(); err != nil {
		t.Fatalf("answer: %v", err)
	}
	select {
	case <-callerStart.Events():
	case <-ctx.Done():
		t.Fatal("caller leg did not enter its app after answer")
	}
	if err := leg1.SendDTMF("42", &ari.DTMFOptions{Duration: 80 * time.Millisecond, Between: 80 * time.Millisecond}); err != nil {
		t.Fatalf("send dtmf: %v", err)
	}
	var got string
	for len(got) < 2 {
		select {
		case e := <-dtmf.Events():
			got += e.(*ari.ChannelDtmfReceived).Digit
		case <-ctx.Done():
			t.Fatalf("DTMF received so far %q, want 42", got)
		}
	}
	if got != "42" {
		t.Errorf("DTMF = %q, want 42", got)
	}
	if err := ivr.Hangup(); err != nil {
		t.Errorf("hangup: %v", err)
	}
}
