package state

import (
	"encoding/json"
	"testing"
	"time"
)

// The hand-written ticket encoding decodes to exactly what json.Marshal's
// does, for any field contents: the IVR reads tickets with encoding/json.
func FuzzTicketJSON(f *testing.F) {
	f.Add("1234567890123456", "quota", "V04", "1001", "pbx.example", "", "+12015550123", "+12125550100", "8.8.8.8", "Zoiper \"5\"", "a84b4c76e66710@pc33.atlanta.com", int64(1795448770923), "US", 7)
	f.Add("", "", "", "üser\x00", "dom\\ain", "GB", "\xff\xfe", "<&>", "\u2028", "\t\r\n", "\x1f\x7f", int64(0), "", -3)
	f.Fuzz(func(t *testing.T, id, flow, code, user, domain, country, number, caller, ip, ua, callID string, ms int64, sc string, observed int) {
		at := time.UnixMilli(ms % (1 << 45)).UTC()
		tk := Ticket{ID: id, Flow: flow, Code: code, User: user, Domain: domain, Country: country, Number: number, Caller: caller,
			SourceIP: ip, SourceCountry: sc, UserAgent: ua, CallID: callID, Observed: observed, CreatedAt: at, ExpiresAt: at.Add(120 * time.Second)}
		want, err := json.Marshal(tk)
		if err != nil {
			t.Skip() // a time json.Marshal refuses; decisions never carry one
		}
		got := appendTicketJSON(nil, &tk)
		var a, b Ticket
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("decode %s: %v", got, err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("fast encoding decodes to\n%+v\njson.Marshal's to\n%+v\n(%s vs %s)", a, b, got, want)
		}
	})
}

func BenchmarkTicketJSON(b *testing.B) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	tk := Ticket{ID: "1234567890123456", Flow: "quota", Code: "V04", User: "load00001", Domain: "load.example", Number: "+12015551234",
		Caller: "+12125550000", SourceIP: "8.8.8.8", UserAgent: "wrk", CallID: "wrk-1-2-3", CreatedAt: at, ExpiresAt: at.Add(2 * time.Minute)}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = appendTicketJSON(buf[:0], &tk)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(tk)
		}
	})
}
