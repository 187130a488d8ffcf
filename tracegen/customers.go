package tracegen

import (
	"time"
)

// customer is one honest business: where it is, how its PBX reports calls,
// and how much and where it calls.
type customer struct {
	name     string // scenario name and account user
	domain   string
	zone     string
	callers  []string // calling numbers (E.164 DIDs or extensions)
	ips      []string // source addresses (its PBX or office routers)
	ua       string
	perDay   float64 // calls on a working day at the start of the month
	growth   float64 // relative growth of the volume by the month's end
	evening  float64 // chance of evening calls on a working day
	saturday float64 // chance of calls on a Saturday morning
	national []string
	intl     []string // templates with the customer's international prefix
	intlPart float64  // share of international calls
	// late are destinations the customer starts calling in the third week
	// (a new client abroad): an honest verification after the first week.
	late    []string
	meanDur time.Duration
	// travel: days (from, to) the account's softphone calls from abroad.
	travel []trip
}

type trip struct {
	from, to int
	ip       string
}

// customers are twelve ordinary businesses in Spain, Germany, the United
// States (three zones), Brazil (two zones) and Mexico (two zones).
func customers() []customer {
	return []customer{
		{name: "es-madrid-abogados", domain: "abogados-madrid.example", zone: "Europe/Madrid",
			callers: []string{"+34 910 000 101", "+34 910 000 102"}, ips: []string{"80.58.61.250"}, ua: "Yealink SIP-T46U 66.86.0.15",
			perDay: 12, growth: 0.4, evening: 0.3, saturday: 0.1,
			national: []string{"91XXXXXXX", "93XXXXXXX", "6NXXXXXXX", "96XXXXXXX"},
			intl:     []string{"0033 1XXXXXXXX", "0044 20 7946 0XXX", "00351 21XXXXXXX"}, intlPart: 0.15, meanDur: 4 * time.Minute},
		{name: "es-valencia-export", domain: "export-valencia.example", zone: "Europe/Madrid",
			callers: []string{"201", "202", "203"}, ips: []string{"84.124.0.10"}, ua: "Grandstream GXP2170 1.0.11.23",
			perDay: 28, growth: 0.5, evening: 0.5, saturday: 0.2,
			national: []string{"96XXXXXXX", "6NXXXXXXX"},
			intl:     []string{"0033 4XXXXXXXX", "0039 02XXXXXXX", "0049 89XXXXXXX", "00212 522XXXXXX"}, intlPart: 0.4,
			late: []string{"0086 10 XXXX XXXX"}, meanDur: 5 * time.Minute},
		{name: "de-berlin-agentur", domain: "agentur-berlin.example", zone: "Europe/Berlin",
			callers: []string{"+49 30 90000100"}, ips: []string{"46.4.0.20"}, ua: "snom D785 10.1.73.16",
			perDay: 18, growth: 0.3, evening: 0.4, saturday: 0.05,
			national: []string{"030 NXXXXXXX", "0176 XXXXXXXX", "040 NXXXXXX", "089 NXXXXXX"},
			intl:     []string{"0044 20 7946 0XXX", "0033 1XXXXXXXX", "001 212 NXX XXXX"}, intlPart: 0.2, meanDur: 6 * time.Minute},
		{name: "de-muenchen-ingenieure", domain: "ingenieure-muenchen.example", zone: "Europe/Berlin",
			callers: []string{"+49 89 20000100", "+49 89 20000101"}, ips: []string{"46.4.0.40"}, ua: "Cisco/SPA504G-7.6.2",
			perDay: 22, growth: 0.6, evening: 0.3, saturday: 0.1,
			national: []string{"089 NXXXXXX", "0711 NXXXXXX", "0151 XXXXXXXX"},
			intl:     []string{"0041 44 NXX XX XX", "0043 1 NXXXXXX", "0039 02XXXXXXX"}, intlPart: 0.25, meanDur: 5 * time.Minute},
		{name: "us-nyc-import", domain: "nyc-import.example", zone: "America/New_York",
			callers: []string{"+1 212 600 0100"}, ips: []string{"151.101.1.10"}, ua: "Yealink SIP-T54W 96.86.0.70",
			perDay: 25, growth: 0.5, evening: 0.5, saturday: 0.1,
			national: []string{"(212) NXX-XXXX", "(718) NXX-XXXX", "1 305 NXX XXXX", "(646) NXX-XXXX"},
			intl:     []string{"011 44 20 7946 0XXX", "011 52 55 NXXX XXXX", "011 86 21 NXXX XXXX"}, intlPart: 0.2, meanDur: 5 * time.Minute},
		{name: "us-la-studio", domain: "la-studio.example", zone: "America/Los_Angeles",
			callers: []string{"+1 310 600 0100"}, ips: []string{"151.101.1.20"}, ua: "Zoiper rv2.10.20.4",
			perDay: 10, growth: 0.3, evening: 0.6, saturday: 0.3,
			national: []string{"(310) NXX-XXXX", "(323) NXX-XXXX", "1 415 NXX XXXX", "(212) NXX-XXXX"},
			intl:     []string{"011 81 3 NXXX XXXX", "011 52 664 NXX XXXX", "011 44 20 7946 0XXX"}, intlPart: 0.15, meanDur: 7 * time.Minute},
		{name: "us-chicago-logistics", domain: "chicago-logistics.example", zone: "America/Chicago",
			callers: []string{"+1 312 600 0100", "+1 312 600 0101"}, ips: []string{"151.101.1.30"}, ua: "Polycom VVX 450 6.4.3",
			perDay: 35, growth: 0.7, evening: 0.5, saturday: 0.3,
			national: []string{"(312) NXX-XXXX", "(773) NXX-XXXX", "1 214 NXX XXXX", "(414) NXX-XXXX"},
			intl:     []string{"011 52 81 NXXX XXXX", "011 1 416 NXX XXXX", "011 44 20 7946 0XXX"}, intlPart: 0.15, meanDur: 4 * time.Minute},
		{name: "br-saopaulo-software", domain: "software-sp.example", zone: "America/Sao_Paulo",
			callers: []string{"+55 11 3000 0100"}, ips: []string{"200.160.2.30"}, ua: "Grandstream GXP1628 1.0.7.13",
			perDay: 20, growth: 0.5, evening: 0.3, saturday: 0.1,
			national: []string{"(11) 9NXXX-XXXX", "(11) 3NXX-XXXX", "(21) 9NXXX-XXXX", "(31) 3NXX-XXXX"},
			intl:     []string{"+1 650 NXX XXXX", "+351 21XXXXXXX", "+54 11 NXXX XXXX"}, intlPart: 0.15, meanDur: 6 * time.Minute},
		{name: "br-manaus-turismo", domain: "turismo-manaus.example", zone: "America/Manaus",
			callers: []string{"+55 92 3000 0100"}, ips: []string{"177.0.0.50"}, ua: "MicroSIP/3.21.3",
			perDay: 9, growth: 0.4, evening: 0.5, saturday: 0.5,
			national: []string{"(92) 9NXXX-XXXX", "(92) 3NXX-XXXX", "(11) 9NXXX-XXXX"},
			intl:     []string{"+1 305 NXX XXXX", "+49 30 NXXXXXXX", "+57 1 NXX XXXX"}, intlPart: 0.2, meanDur: 5 * time.Minute},
		{name: "mx-cdmx-consultores", domain: "consultores-cdmx.example", zone: "America/Mexico_City",
			callers: []string{"+52 55 5000 0100"}, ips: []string{"132.248.1.10"}, ua: "Yealink SIP-T31G 124.86.0.40",
			perDay: 16, growth: 0.4, evening: 0.4, saturday: 0.2,
			national: []string{"55 NXXX XXXX", "33 NXXX XXXX", "81 NXXX XXXX"},
			intl:     []string{"00 1 212 NXX XXXX", "00 34 91XXXXXXX", "00 57 1 NXX XXXX"}, intlPart: 0.2, meanDur: 5 * time.Minute},
		{name: "mx-tijuana-maquila", domain: "maquila-tijuana.example", zone: "America/Tijuana",
			callers: []string{"+52 664 600 0100", "+52 664 600 0101"}, ips: []string{"187.141.0.20"}, ua: "Fanvil X4U 2.12.3",
			perDay: 24, growth: 0.6, evening: 0.4, saturday: 0.4,
			national: []string{"664 NXX XXXX", "55 NXXX XXXX"},
			intl:     []string{"00 1 619 NXX XXXX", "00 1 858 NXX XXXX", "00 1 312 NXX XXXX", "00 86 755 NXXX XXXX"}, intlPart: 0.45, meanDur: 4 * time.Minute},
		// The traveller: a sales rep whose softphone registers to the
		// Spanish office's PBX; two trips abroad in the month.
		{name: "es-ventas-viajero", domain: "ventas-madrid.example", zone: "Europe/Madrid",
			callers: []string{"+34 611 000 333"}, ips: []string{"80.58.61.251"}, ua: "Linphone/5.2.5 (belle-sip/5.2.5)",
			perDay: 7, growth: 0.6, evening: 0.5, saturday: 0.1,
			national: []string{"+34 91XXXXXXX", "+34 6NXXXXXXX", "93XXXXXXX"},
			intl:     []string{"+44 20 7946 0XXX", "+33 1XXXXXXXX"}, intlPart: 0.25, meanDur: 6 * time.Minute,
			travel: []trip{{14, 18, "81.2.69.142"}, {21, 23, "90.84.0.1"}}},
	}
}

// customer generates one customer's month: working days with office-hour
// calls (a lunch dip), some evenings, some Saturday mornings, redials of
// busy numbers, a growing volume, a small book of contacts called again
// and again.
func (g *gen) customer(c customer) {
	loc := mustLoc(c.zone)
	contacts := make([]string, 0, 60)
	for range 40 {
		contacts = append(contacts, g.number(g.pick(c.national)))
	}
	var abroad []string
	for _, t := range c.intl {
		for range 4 {
			abroad = append(abroad, g.number(t))
		}
	}
	var late []string
	for _, t := range c.late {
		late = append(late, g.number(t))
	}
	dest := func(d int) string {
		if len(late) > 0 && d >= 16 && g.rnd.Float64() < 0.05 {
			return g.pick(late)
		}
		if g.rnd.Float64() < c.intlPart {
			return g.pick(abroad)
		}
		if g.rnd.Float64() < 0.15 {
			return g.number(g.pick(c.national)) // a number never called before
		}
		return g.pick(contacts)
	}
	ip := func(d int) string {
		for _, t := range c.travel {
			if d >= t.from && d <= t.to {
				return t.ip
			}
		}
		return g.pick(c.ips)
	}
	rec := func(at time.Time, d int) {
		r := Record{Time: at, User: c.name, Domain: c.domain, SourceIP: ip(d), UserAgent: c.ua,
			Number: dest(d), Caller: g.pick(c.callers), IVR: IVRPass, Label: Legit, Scenario: c.name}
		g.add(r, g.dur(c.meanDur))
		// A busy or unanswered number is tried again once or twice.
		for n := 0; n < 2 && g.rnd.Float64() < 0.06; n++ {
			at = at.Add(time.Duration(20+g.rnd.IntN(70)) * time.Second)
			again := r
			again.Time = at
			g.add(again, 30*time.Second)
		}
	}
	for d := range g.o.Days {
		day := g.day(d, loc)
		scale := 1 + c.growth*float64(d)/float64(g.o.Days)
		switch day.Weekday() {
		case time.Sunday:
			continue
		case time.Saturday:
			if g.rnd.Float64() < c.saturday {
				for range 1 + g.rnd.IntN(4) {
					rec(day.Add(time.Duration(9*60+g.rnd.IntN(240))*time.Minute), d)
				}
			}
			continue
		}
		n := int(c.perDay*scale*(0.7+0.6*g.rnd.Float64()) + 0.5)
		for range n {
			// Office hours 08:30-18:30 with fewer calls over lunch.
			m := 8*60 + 30 + g.rnd.IntN(600)
			if m >= 13*60 && m < 14*60 && g.rnd.Float64() < 0.6 {
				m += 60
			}
			rec(day.Add(time.Duration(m)*time.Minute+time.Duration(g.rnd.IntN(60))*time.Second), d)
		}
		if g.rnd.Float64() < c.evening {
			for range 1 + g.rnd.IntN(3) {
				rec(day.Add(time.Duration(18*60+45+g.rnd.IntN(150))*time.Minute), d)
			}
		}
	}
}
