// Package reputation tells what is known about a source IP address: its
// country, an abuse score (AbuseIPDB's 0-100 confidence) and whether a
// blocklist (APIBAN) lists it.
//
// Local answers from the embedded github.com/phuslu/iploc table: country
// only, score 0, never listed, no network. The AbuseIPDB client
// (reputation/abuseipdb) and the APIBAN list (reputation/apiban) live in
// sub-packages and are combined by Sources, which falls back to Local for
// the country. This package imports no network client, so the engine may
// use its types.
package reputation

import (
	"context"
	"net/netip"

	"github.com/phuslu/iploc"
)

// Report is what is known about one source address.
type Report struct {
	Country    string // ISO 3166-1 alpha-2, "" when unknown
	AbuseScore int    // 0-100, AbuseIPDB's abuse confidence; 0 when unknown
	Listed     bool   // listed by a blocklist (APIBAN)
	// Whitelisted: AbuseIPDB whitelists the address (a known mail or DNS
	// provider, a CDN); the engine then never rejects it on its score.
	Whitelisted bool
	Source      string // who answered: "local", "abuseipdb", "apiban"
}

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

// Private reports whether addr is a private source, for which TFPS skips the
// reputation and source-country checks: 10/8, 127/8, 169.254/16, 172.16/12,
// 192.168/16 and their IPv6 equivalents (::1, fc00::/7, fe80::/10), also when
// written as IPv4-mapped IPv6 (::ffff:10.0.0.1). The unspecified address
// counts as private (a PBX that does not know the caller's address).
func Private(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified()
}

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
