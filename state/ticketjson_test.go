package state

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/voipshield/tfps/engine"
)

// asJSON is s as encoding/json gives it back: invalid UTF-8 replaced.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// A ticket comes back from its stored form as it went in, for any field
// contents (invalid UTF-8 replaced, as encoding/json replaces it).
func FuzzTicketJSON(f *testing.F) {
	f.Add("1234567890123456", "quota", uint8(engine.V04), "1001", "pbx.example", "", "+12015550123", "+12125550100", "8.8.8.8", "Zoiper \"5\"", "a84b4c76e66710@pc33.atlanta.com", int64(1795448770923), "US", 7, int64(0), "")
	f.Add("", "", uint8(0), "üser\x00", "dom\\ain", "GB", "\xff\xfe", "<&>", "\u2028", "\t\r\n", "\x1f\x7f", int64(0), "", -3, int64(42), "cpm")
	f.Add("1", "rule_warning", uint8(250), "u", "d", "", "", "", "", "", "", int64(-5), "", 0, int64(-1), "\xc3")
	f.Fuzz(func(t *testing.T, id, flow string, code uint8, user, domain, country, number, caller, ip, ua, callID string, ms int64, sc string, observed int, rule int64, stat string) {
		at := time.UnixMilli(ms % (1 << 45)).UTC()
		if _, err := json.Marshal(at); err != nil {
			t.Skip() // a time JSON cannot hold; decisions never carry one
		}
		in := engine.Ticket{ID: id, Code: engine.Code(code), Flow: engine.Flow(flow), Country: country, Range: number, DefaultOf: caller,
			User: user, Domain: domain, Number: number, Caller: caller, SourceIP: ip, SourceCountry: sc, UserAgent: ua, CallID: callID,
			Observed: observed, Rule: rule, RuleStat: stat, Created: at, Expires: at.Add(120 * time.Second)}
		b := appendTicketJSON(nil, &in)
		got, err := decodeTicket(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		want := in
		if want.Code.Info().Code == 0 {
			want.Code = 0 // not a published code: not stored
		}
		for _, f := range []*string{&want.ID, (*string)(&want.Flow), &want.Country, &want.Range, &want.DefaultOf, &want.User, &want.Domain,
			&want.Number, &want.Caller, &want.SourceIP, &want.SourceCountry, &want.UserAgent, &want.CallID, &want.RuleStat} {
			*f = asJSON(*f)
		}
		if got != want {
			t.Fatalf("stored as %s, read back as\n%+v\nwant\n%+v", b, got, want)
		}
	})
}

func BenchmarkTicketJSON(b *testing.B) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	tk := engine.Ticket{ID: "1234567890123456", Flow: engine.FlowQuota, Code: engine.V04, User: "load00001", Domain: "load.example", Number: "+12015551234",
		Caller: "+12125550000", SourceIP: "8.8.8.8", UserAgent: "wrk", CallID: "wrk-1-2-3", Created: at, Expires: at.Add(2 * time.Minute)}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = appendTicketJSON(buf[:0], &tk)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		w := ticketWire{ID: tk.ID, Flow: string(tk.Flow), Code: tk.Code.String(), User: tk.User, Domain: tk.Domain, Number: tk.Number,
			Caller: tk.Caller, SourceIP: tk.SourceIP, UserAgent: tk.UserAgent, CallID: tk.CallID, CreatedAt: tk.Created, ExpiresAt: tk.Expires}
		for b.Loop() {
			json.Marshal(w)
		}
	})
}
