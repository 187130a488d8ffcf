// Package reputation tells what is known about a source IP address: its
// country, an abuse score (AbuseIPDB's 0-100 confidence) and whether a
// blocklist (APIBAN) lists it.
//
// Local answers from the embedded github.com/phuslu/iploc table: country
// only, score 0, never listed, no network. The AbuseIPDB client
// (reputation/abuseipdb) and the APIBAN list (reputation/apiban) live in
// sub-packages and are combined by Sources, which falls back to Local for
// the country. This package imports no network client.
package reputation

import (
	"context"
	"net/netip"

	"github.com/phuslu/iploc"

	"github.com/voipshield/tfps"
)

// Report is what is known about one source address: the domain's
// tfps.SourceReport, which the engine reads without importing this package.
type Report = tfps.SourceReport

// Lookuper answers what is known about an address (engine.Reputation).
type Lookuper interface {
	Lookup(ctx context.Context, addr netip.Addr) (Report, error)
}

// Blocklist is an in-memory list of banned addresses (APIBAN): Listed costs
// no network.
type Blocklist interface {
	Name() string
	Listed(addr netip.Addr) bool
}

// Sources combines the reputation sources in the order a decision needs
// them: the in-memory blocklists first (a listed address needs no score,
// which also spares the AbuseIPDB quota), then Score, which gives the abuse
// score and country and falls back to Local itself. A nil Score is Local.
type Sources struct {
	Lists []Blocklist
	Score Lookuper
}

// Lookup implements engine.Reputation.
func (s *Sources) Lookup(ctx context.Context, addr netip.Addr) (Report, error) {
	for _, l := range s.Lists {
		if l.Listed(addr) {
			r, err := Local{}.Lookup(ctx, addr)
			r.Listed, r.Source = true, l.Name()
			return r, err
		}
	}
	if s.Score == nil {
		return Local{}.Lookup(ctx, addr)
	}
	return s.Score.Lookup(ctx, addr)
}

// Private reports whether addr is a private source (tfps.PrivateAddr).
func Private(addr netip.Addr) bool { return tfps.PrivateAddr(addr) }

// Local answers from the embedded IP-to-country table. The zero value is
// ready to use.
type Local struct{}

// Lookup returns the country of addr ("" when unknown or private).
func (Local) Lookup(_ context.Context, addr netip.Addr) (Report, error) {
	cc := iploc.IPCountry(addr.Unmap())
	if cc == "ZZ" || len(cc) != 2 {
		cc = ""
	}
	return Report{Country: cc, Source: "local"}, nil
}
