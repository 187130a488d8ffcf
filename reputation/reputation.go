// Package reputation tells what is known about a source IP address: its
// country, an abuse score (AbuseIPDB's 0-100 confidence) and whether a
// blocklist (APIBAN) lists it.
//
// Local answers from the embedded github.com/phuslu/iploc table: country
// only, score 0, never listed, no network. The AbuseIPDB and APIBAN clients
// (a later issue, in sub-packages) return the same Report and can be chained
// in front of Local for the country. This package imports no network client,
// so the engine may use its types.
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
	Source     string // who answered: "local", "abuseipdb", "apiban"
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
