package engine

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/voipshield/tfps"
)

// A change that leaves the lists as they were keeps the compiled lists;
// any different entry recompiles them.
func TestListsSameSource(t *testing.T) {
	entries := []tfps.BlacklistEntry{
		{Kind: tfps.BlacklistIP, Value: "203.0.113.0/24"},
		{Kind: tfps.BlacklistNumber, Value: "4420"},
		{Kind: tfps.BlacklistUserAgent, Value: "^BadPhone"},
		{Kind: tfps.BlacklistUserAgent, Value: "(unclosed"},
	}
	l := compileLists(entries, false, slog.Default())
	if !l.sameSource(entries) {
		t.Error("identical entries not recognised")
	}
	changed := append([]tfps.BlacklistEntry(nil), entries...)
	changed[1].Value = "4421"
	if l.sameSource(changed) || l.sameSource(entries[:3]) {
		t.Error("a changed or removed entry counted as the same lists")
	}
	if l.badEntries != 1 {
		t.Errorf("%d bad entries, want 1 (the unclosed pattern is skipped, the others still work)", l.badEntries)
	}
	if p, ok := l.matchIP(netip.MustParseAddr("203.0.113.9")); !ok || p != "203.0.113.0/24" {
		t.Errorf("matchIP = %q, %v", p, ok)
	}
	if p := l.matchUA("badphone 1.0"); p != "^BadPhone" {
		t.Errorf("matchUA = %q", p)
	}
	if p := l.matchUA("badphone 1.0"); p != "^BadPhone" {
		t.Errorf("matchUA from the cache = %q", p)
	}
	if p, ok := l.matchNumber("0044 20 7946 0000"); !ok || p != "4420" {
		t.Errorf("matchNumber = %q, %v", p, ok)
	}
}
