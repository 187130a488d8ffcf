package tracegen

import (
	"time"
)

// attacks adds the attack scenarios. Each uses what such an attacker
// really has: stolen credentials of a customer (or the customer's PBX
// itself), its own addresses and tools, and numbers that earn it money.
func (g *gen) attacks() {
	g.nightBurst()
	g.pbxPump()
	g.scanners()
	g.abHammer()
	g.takeover()
	g.slowDrip()
	g.unknownAccountDialer()
}

func (g *gen) attack(scenario string, at time.Time, user, domain, ip, ua, caller, number, ivr string, dur time.Duration) {
	g.add(Record{Time: at, User: user, Domain: domain, SourceIP: ip, UserAgent: ua, Caller: caller, Number: number,
		IVR: ivr, Label: Attack, Scenario: scenario}, dur)
}

// nightBurst: a hijacked account (the Berlin agency's SIP credentials)
// dials premium numbers abroad from a German server at 02:00 on a weekday,
// many at once.
func (g *gen) nightBurst() {
	loc := mustLoc("Europe/Berlin")
	at := g.day(11, loc).Add(2*time.Hour + 10*time.Minute)
	premium := []string{"+252 61 XXXXXXX", "+371 90XXXXXX", "+223 7XXXXXXX", "+882 16 XXXXXXXX", "+53 5XXXXXXX"}
	for i := range 60 {
		g.attack("night-burst", at.Add(time.Duration(i*20+g.rnd.IntN(15))*time.Second), "de-berlin-agentur", "agentur-berlin.example",
			"185.220.101.1"+itoa(g.rnd.IntN(10)), "Z 5.4.12 v2.10.13.2", "+49 30 90000100", g.number(g.pick(premium)), IVRFail, 40*time.Minute)
	}
}

// pbxPump: the Chicago customer's own PBX is compromised and pumps calls
// to premium-looking UK numbers (a country the customer calls) in the
// middle of a working morning, from the PBX's own address.
func (g *gen) pbxPump() {
	loc := mustLoc("America/Chicago")
	at := g.day(17, loc).Add(10*time.Hour + 5*time.Minute)
	for i := range 120 {
		g.attack("pbx-pump", at.Add(time.Duration(i*15+g.rnd.IntN(10))*time.Second), "us-chicago-logistics", "chicago-logistics.example",
			"151.101.1.30", "Polycom VVX 450 6.4.3", "+1 312 600 0100", g.number("011 44 70 XXXX XXXX"), IVRFail, 30*time.Minute)
	}
}

// scanners: SIP scanners probing all month from many addresses, with their
// own tool names, guessed users and test numbers.
func (g *gen) scanners() {
	uas := []string{"friendly-scanner", "sipvicious", "sipcli/v1.8", "VaxSIPUserAgent/3.1", "pplsip"}
	ips := []string{"45.155.205.", "95.161.0.", "5.188.0.", "41.58.0."}
	users := []string{"100", "1000", "101", "admin", "test", "200", "9999"}
	for d := range g.o.Days {
		for range 6 {
			at := g.day(d, time.UTC).Add(time.Duration(g.rnd.IntN(24*3600)) * time.Second)
			ip := g.pick(ips) + itoa(1+g.rnd.IntN(250))
			g.attack("scanner", at, g.pick(users), ip, ip, g.pick(uas), g.pick(users), g.number("00972 59XXXXXXX"), IVRSilent, 5*time.Second)
		}
	}
}

// abHammer: the same caller to the same number again and again within
// seconds (a callback scam tests a number), through the Mexico City
// account, to a national number: every other check passes.
func (g *gen) abHammer() {
	loc := mustLoc("America/Mexico_City")
	at := g.day(19, loc).Add(13*time.Hour + 7*time.Minute)
	num := g.number("55 NXXX XXXX")
	for i := range 25 {
		g.attack("ab-hammer", at.Add(time.Duration(i*5+g.rnd.IntN(3))*time.Second), "mx-cdmx-consultores", "consultores-cdmx.example",
			"132.248.1.10", "Yealink SIP-T31G 124.86.0.40", "+52 55 5000 0100", num, IVRHangup, 4*time.Second)
	}
}

// takeover: the Valencia exporter's credentials used from Nigeria, calling
// the usual premium destinations and the customer's own countries.
func (g *gen) takeover() {
	loc := mustLoc("Europe/Madrid")
	at := g.day(21, loc).Add(11*time.Hour + 20*time.Minute)
	nums := []string{"+234 1 XXX XXXX", "0033 4XXXXXXXX", "+216 7X XXX XXX", "0039 02XXXXXXX"}
	for i := range 40 {
		g.attack("takeover", at.Add(time.Duration(i*40+g.rnd.IntN(20))*time.Second), "es-valencia-export", "export-valencia.example",
			"41.58.0."+itoa(10+g.rnd.IntN(5)), "Zoiper rv2.10.20.4", "201", g.number(g.pick(nums)), IVRFail, 10*time.Minute)
	}
}

// slowDrip: one long call at a time to a premium-rate range of the
// account's own country (German 0900 numbers from the Munich account),
// day and night, from a German address, for the last three weeks.
func (g *gen) slowDrip() {
	loc := mustLoc("Europe/Berlin")
	at := g.day(8, loc).Add(20 * time.Hour)
	end := g.day(g.o.Days, loc)
	for at.Before(end) {
		g.attack("slow-drip", at, "de-muenchen-ingenieure", "ingenieure-muenchen.example", "185.220.101.30", "Cisco/SPA504G-7.6.2",
			"+49 89 20000100", g.number("0900 1 XXXXXX"), IVRFail, 35*time.Minute)
		at = at.Add(time.Duration(40+g.rnd.IntN(40)) * time.Minute)
	}
}

// unknownAccountDialer: a dialer with a plausible phone name and made-up
// accounts on a real-looking domain, which lands in onboarding and cannot
// pass it.
func (g *gen) unknownAccountDialer() {
	at := g.day(5, time.UTC).Add(3 * time.Hour)
	for i := range 30 {
		g.attack("unknown-account", at.Add(time.Duration(i*90)*time.Second), "sales"+itoa(i%6), "pbx-"+itoa(i%3)+".example",
			"95.161.0."+itoa(20+i%5), "Yealink SIP-T46U 66.86.0.15", "1"+itoa(i%6), g.number("00 44 70 XXXX XXXX"), IVRSilent, 20*time.Minute)
	}
}
