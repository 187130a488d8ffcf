package sipfront

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePTFPS(t *testing.T) {
	tests := []struct {
		in   string
		want Identity
		ok   bool
	}{
		{"alice;pbx.example.com;203.0.113.7;Yealink T46U;3", Identity{"alice", "pbx.example.com", netip.MustParseAddr("203.0.113.7"), "Yealink T46U", 3}, true},
		{" alice ; pbx ; 203.0.113.7 ; Mozilla/5.0 (X11; Linux x86_64) ; 2 ", Identity{"alice", "pbx", netip.MustParseAddr("203.0.113.7"), "Mozilla/5.0 (X11; Linux x86_64)", 2}, true},
		{"alice;pbx;[2001:db8::1];UA;1", Identity{"alice", "pbx", netip.MustParseAddr("2001:db8::1"), "UA", 1}, true},
		{"alice;pbx;203.0.113.7:5060;UA;1", Identity{"alice", "pbx", netip.MustParseAddr("203.0.113.7"), "UA", 1}, true},
		{"alice;pbx;not-an-ip;UA;many", Identity{"alice", "pbx", netip.Addr{}, "UA", 0}, true},
		{"alice;pbx", Identity{User: "alice", Domain: "pbx"}, true},
		{"alice;pbx;;;", Identity{User: "alice", Domain: "pbx"}, true},
		{"alice;pbx;10.0.0.1;UA;-4", Identity{"alice", "pbx", netip.MustParseAddr("10.0.0.1"), "UA", 0}, true},
		{"alice;pbx;10.0.0.1;UA;99999999999", Identity{"alice", "pbx", netip.MustParseAddr("10.0.0.1"), "UA", maxCalls}, true},
		{"alice;pbx;10.0.0.1;UA;2000000", Identity{"alice", "pbx", netip.MustParseAddr("10.0.0.1"), "UA", maxCalls}, true},
		{"alice", Identity{}, false},
		{";pbx;1.2.3.4;UA;1", Identity{}, false},
		{"", Identity{}, false},
	}
	for _, tc := range tests {
		got, ok := ParsePTFPS(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParsePTFPS(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseXTFPS(t *testing.T) {
	for in, want := range map[string][2]string{
		"alice@pbx.example.com":       {"alice", "pbx.example.com"},
		"<sip:alice@pbx.example.com>": {"alice", "pbx.example.com"},
		"alice":                       {"alice", ""},
	} {
		u, d, ok := ParseXTFPS(in)
		if !ok || u != want[0] || d != want[1] {
			t.Errorf("ParseXTFPS(%q) = %q, %q, %v", in, u, d, ok)
		}
	}
	if _, _, ok := ParseXTFPS("@pbx"); ok {
		t.Error("ParseXTFPS(@pbx) accepted an empty user")
	}
}

// FuzzParsePTFPS: any header value parses without panicking, fields never
// carry the separator except the user agent, and a present user is
// returned trimmed.
func FuzzParsePTFPS(f *testing.F) {
	for _, s := range []string{"alice;pbx.example.com;203.0.113.7;Yealink T46U;3", "a;b;c;d;e;f;g", ";;;;", "x;y;[::1]:5060;UA (a; b);12", "\x00;\xff;1.1.1.1;;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParsePTFPS(s)
		if !ok {
			if id != (Identity{}) {
				t.Fatalf("not ok but returned %+v", id)
			}
			return
		}
		if id.User == "" || strings.Contains(id.User, ";") || strings.Contains(id.Domain, ";") {
			t.Fatalf("bad fields %+v from %q", id, s)
		}
		if id.User != strings.TrimSpace(id.User) {
			t.Fatalf("user not trimmed: %q", id.User)
		}
		if id.Calls < 0 || id.Calls > maxCalls {
			t.Fatalf("calls %d out of range", id.Calls)
		}
		if utf8.ValidString(s) && !utf8.ValidString(id.UserAgent) {
			t.Fatalf("user agent broke UTF-8: %q", id.UserAgent)
		}
	})
}
