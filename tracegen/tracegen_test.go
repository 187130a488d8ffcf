package tracegen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/numbering"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/tracegen"
)

// The same seed gives the same month, byte for byte; another seed another.
func TestMonthIsDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	for _, x := range []struct {
		w    *bytes.Buffer
		seed uint64
	}{{&a, 1}, {&b, 1}, {&c, 2}} {
		if err := tracegen.Write(x.w, tracegen.Month(tracegen.Options{Seed: x.seed})); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two months of seed 1 differ")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("seeds 1 and 2 give the same month")
	}
	var r map[string]any
	line, _, _ := strings.Cut(a.String(), "\n")
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"time", "user", "domain", "source_ip", "user_agent", "concurrent_calls", "number", "caller", "call_id", "ivr", "label", "scenario"} {
		if _, ok := r[f]; !ok {
			t.Errorf("record %s has no %q", line, f)
		}
	}
}

// The month has what it must: at least ten honest customers in at least
// five countries, several zones of one country, evening and weekend calls,
// national and international numbers, a traveller, growth, and every
// attack scenario. Every honest number reads to a country with its
// customer's home country, and every source address maps to the country
// the scenario means (the embedded IP table decides source countries).
func TestMonthShape(t *testing.T) {
	recs := tracegen.Month(tracegen.Options{Seed: 1})
	type stats struct {
		calls, evening, weekend, national, intl, firstWeek, lastWeek int
		countries                                                    map[string]bool
		zone                                                         string
	}
	legit := map[string]*stats{}
	attacks := map[string]int{}
	homes := map[string]bool{}
	zonesOf := map[string]map[string]bool{}
	start := tracegen.DefaultStart
	for _, r := range recs {
		if r.Label == tracegen.Attack {
			attacks[r.Scenario]++
			continue
		}
		if r.IVR != tracegen.IVRPass || r.ConcurrentCalls < 1 {
			t.Fatalf("honest record %+v", r)
		}
		s := legit[r.Scenario]
		if s == nil {
			s = &stats{countries: map[string]bool{}, zone: r.Time.Location().String()}
			legit[r.Scenario] = s
		}
		s.calls++
		local := r.Time
		if local.Hour() >= 18 {
			s.evening++
		}
		if local.Weekday() == time.Saturday || local.Weekday() == time.Sunday {
			s.weekend++
		}
		day := int(r.Time.Sub(start).Hours() / 24)
		if day < 7 {
			s.firstWeek++
		}
		if day >= 23 {
			s.lastWeek++
		}
		src, _ := reputation.Local{}.Lookup(context.Background(), netip.MustParseAddr(r.SourceIP))
		s.countries[src.Country] = true
		home := homeOf(r.Scenario)
		homes[home] = true
		if zonesOf[home] == nil {
			zonesOf[home] = map[string]bool{}
		}
		zonesOf[home][s.zone] = true
		d, err := numbering.Lookup(r.Number, home)
		if err != nil {
			t.Errorf("%s: number %q does not read with home %s: %v", r.Scenario, r.Number, home, err)
			continue
		}
		if d.Country == home {
			s.national++
		} else {
			s.intl++
		}
	}
	if len(legit) < 10 || len(homes) < 5 {
		t.Errorf("%d honest customers in %d countries, want at least 10 in 5", len(legit), len(homes))
	}
	multi := false
	for _, z := range zonesOf {
		multi = multi || len(z) >= 2
	}
	if !multi {
		t.Error("no country with customers in several time zones")
	}
	for name, s := range legit {
		if s.evening == 0 || s.national == 0 || s.intl == 0 || s.lastWeek <= s.firstWeek {
			t.Errorf("%s: %d calls, %d evening, %d national, %d international, first week %d, last week %d", name, s.calls, s.evening, s.national, s.intl, s.firstWeek, s.lastWeek)
		}
		if want := 1; len(s.countries) != want && name != "es-ventas-viajero" || s.countries[""] {
			t.Errorf("%s calls from %v", name, s.countries)
		}
	}
	weekend := 0
	for _, s := range legit {
		weekend += s.weekend
	}
	if weekend == 0 {
		t.Error("no weekend calls")
	}
	if tr := legit["es-ventas-viajero"]; tr == nil || len(tr.countries) != 3 {
		t.Errorf("the traveller calls from %v, want Spain and two trips abroad", tr)
	}
	for _, sc := range []string{"night-burst", "pbx-pump", "scanner", "ab-hammer", "takeover", "slow-drip", "unknown-account"} {
		if attacks[sc] == 0 {
			t.Errorf("no %s attack", sc)
		}
	}
	// The attackers' addresses: German for the hijacked German accounts
	// (no new source country to catch them), Nigerian for the takeover.
	for _, r := range recs {
		want := map[string]string{"night-burst": "DE", "slow-drip": "DE", "takeover": "NG", "pbx-pump": "US"}[r.Scenario]
		if want == "" {
			continue
		}
		src, _ := reputation.Local{}.Lookup(context.Background(), netip.MustParseAddr(r.SourceIP))
		if src.Country != want {
			t.Errorf("%s source %s is in %q, want %s", r.Scenario, r.SourceIP, src.Country, want)
		}
	}
}

func homeOf(scenario string) string {
	return strings.ToUpper(scenario[:2])
}
