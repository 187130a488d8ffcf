package tfps

import "net/netip"

// SourceReport is what is known about a call's source address: package
// reputation answers it, the engine decides with it.
type SourceReport struct {
	Country    string // ISO 3166-1 alpha-2, "" when unknown
	AbuseScore int    // 0-100, AbuseIPDB's abuse confidence; 0 when unknown
	Listed     bool   // listed by a blocklist (APIBAN)
	// Whitelisted: AbuseIPDB whitelists the address (a known mail or DNS
	// provider, a CDN); the engine then never rejects it on its score.
	Whitelisted bool
	Source      string // who answered: "local", "abuseipdb", "apiban"
}

// PrivateAddr reports whether addr is a private source, for which the
// reputation and source-country checks are skipped: 10/8, 127/8,
// 169.254/16, 172.16/12, 192.168/16 and their IPv6 equivalents (::1,
// fc00::/7, fe80::/10), also when written as IPv4-mapped IPv6
// (::ffff:10.0.0.1). The unspecified address counts as private (a PBX that
// does not know the caller's address).
func PrivateAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified()
}
