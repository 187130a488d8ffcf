package reputation_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/voipshield/tfps/reputation"
)

func TestPrivate(t *testing.T) {
	tests := []struct {
		addr    string
		private bool
	}{
		{"10.1.2.3", true},
		{"127.0.0.1", true},
		{"169.254.10.1", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"192.169.1.1", false},
		{"8.8.8.8", false},
		{"::1", true},
		{"fd00::1", true},
		{"fe80::1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:8.8.8.8", false},
		{"2001:4860:4860::8888", false},
		{"0.0.0.0", true},
	}
	for _, tt := range tests {
		if got := reputation.Private(netip.MustParseAddr(tt.addr)); got != tt.private {
			t.Errorf("Private(%s) = %v, want %v", tt.addr, got, tt.private)
		}
	}
}

func TestLocalCountry(t *testing.T) {
	tests := []struct{ addr, country string }{
		{"8.8.8.8", "US"},
		{"::ffff:8.8.8.8", "US"},
		{"81.2.69.142", "GB"},
		{"2001:4860:4860::8888", "US"},
		{"10.0.0.1", ""},
		{"192.168.1.1", ""},
	}
	for _, tt := range tests {
		r, err := reputation.Local{}.Lookup(context.Background(), netip.MustParseAddr(tt.addr))
		if err != nil {
			t.Fatalf("Lookup(%s): %v", tt.addr, err)
		}
		if r.Country != tt.country || r.AbuseScore != 0 || r.Listed {
			t.Errorf("Lookup(%s) = %+v, want country %q, score 0, not listed", tt.addr, r, tt.country)
		}
	}
}
