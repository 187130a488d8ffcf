package ivr_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/pin"
)

// An account in Brazilian Portuguese or French hears every prompt of its
// verification from sounds/<lang>/, in Asterisk's channel language for it
// (pt_BR, as Asterisk's own sound folders are named), types the code read
// in its language and is approved by the gateway afterwards.
func TestAccountLanguagesOnAsterisk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ lang, channel string }{{"pt-BR", "pt_BR"}, {"fr", "fr"}} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, nil)
			r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 2, DailyQuota: 10, DestinationCountries: []string{"US"}, Language: tc.lang})
			d := r.decide(testUser, "+442079460000")
			if d.Result != engine.Verify || d.Flow != engine.FlowDestinationCountry {
				t.Fatalf("call to a new destination: %+v, want verify destination_country", d)
			}
			c := r.phone.VerifyCall(d.Ticket)
			code := c.Challenge()
			if len(code) != 4 {
				t.Fatalf("code read to the caller: %q (played %q)", code, c.Played)
			}
			cl, err := native.Connect(r.ast.Options("lang-probe", false))
			if err != nil {
				t.Fatalf("connect to ARI: %v", err)
			}
			defer cl.Close()
			got, err := cl.Channel().GetVariable(ari.NewKey(ari.ChannelKey, c.Leg2), "CHANNEL(language)")
			if err != nil || got != tc.channel {
				t.Errorf("channel language = %q (%v), want %q", got, err, tc.channel)
			}
			dir := "/" + tc.lang + "/"
			c.WaitPlay(dir+"calls-to", 20*time.Second)
			c.WaitPlay(dir+"country-gb", 20*time.Second)
			c.Press(code)
			c.WaitPlay(dir+"redial", 30*time.Second)
			c.WaitEnd(20 * time.Second)
			for _, m := range c.Played {
				if !strings.Contains(m, dir) {
					t.Errorf("prompt %s is not from sounds%s", m, dir)
				}
			}
			for _, id := range []string{"code-intro", "digit-", "calls-to", "verified", "country-added", "redial"} {
				if !c.PlayedAny(dir + id) {
					t.Errorf("%s%s not played: %q", dir, id, c.Played)
				}
			}
			c.CheckPromptsPlayed(r.ast.SoundsDir + dir)
			if a := r.account(testUser); !slices.Equal(a.DestinationCountries, []string{"US", "GB"}) {
				t.Errorf("destinations %q, want US, GB", a.DestinationCountries)
			}
			if d := r.decide(testUser, "+442079460000"); d.Result != engine.Approve {
				t.Errorf("after the verification the gateway says %s %s (%s), want approve", d.Result, d.Code, d.Reason)
			}
		})
	}
}

// In the change of parameters the caller hears every language offered in
// its own language and picks one by its key: the rest of the call speaks
// it and the account keeps it for the next verification.
func TestCallerChoosesLanguageInChangeMenu(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	h, _ := pin.Hash("1357")
	r.createAccount(&tfps.Account{User: testUser, ConcurrentCalls: 1, DailyQuota: 5, PINHash: h, Language: "es"})

	c := r.phone.Dial("tfps-change", "877", map[string]string{"TFPS_DOMAIN": testDomain}, testUser)
	c.WaitPlay("/es/pin-ask", 20*time.Second)
	c.Press("1357")
	c.WaitPlay("/es/menu-language", 20*time.Second)
	c.Press("5")
	c.WaitPlay("/es/language-ask", 20*time.Second)
	for _, lang := range []string{"en", "es", "fr", "pt-BR"} {
		c.WaitPlay("/"+lang+"/language-option", 20*time.Second)
	}
	c.Press("4") // "Para português, tecle 4."
	c.WaitPlay("/pt-BR/language-is", 20*time.Second)
	c.WaitPlay("/pt-BR/confirm", 20*time.Second)
	c.Press("1")
	c.WaitPlay("/pt-BR/menu-concurrent", 20*time.Second) // the menu again, in Portuguese
	c.Press("#")
	c.WaitPlay("/pt-BR/saved", 20*time.Second)
	c.WaitEnd(20 * time.Second)
	if !c.PlayedAny("/pt-BR/goodbye") {
		t.Errorf("after choosing Portuguese the call did not speak it: %q", c.Played)
	}
	a := r.account(testUser)
	if a.Language != "pt-BR" || a.ConcurrentCalls != 1 || a.DailyQuota != 5 {
		t.Errorf("account language %q, limits %d/%d; want pt-BR and the limits unchanged (1/5)", a.Language, a.ConcurrentCalls, a.DailyQuota)
	}

	// The next verification speaks Portuguese.
	d := r.decide(testUser, "+442079460000")
	if d.Result != engine.Verify {
		t.Fatalf("call to a new destination: %+v, want verify", d)
	}
	c = r.phone.VerifyCall(d.Ticket)
	c.WaitPlay("/pt-BR/code-intro", 20*time.Second)
	c.Hangup()
}
