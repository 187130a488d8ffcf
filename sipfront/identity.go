package sipfront

import (
	"net/netip"
	"strconv"
	"strings"
)

// Identity is who asks, as the PBX reports it in its headers.
type Identity struct {
	User      string
	Domain    string
	SourceIP  netip.Addr // zero when the header did not carry a usable address
	UserAgent string
	Calls     int // 0 when not reported
}

// ParsePTFPS reads the newest TFPS identity header,
//
//	P-tfps: user;domain;source-ip;user-agent;calls
//
// The user agent may itself contain ';' (browsers and softphones put
// "(X11; Linux)" in theirs), so the first three fields are taken from the
// left and the call count from the right. Empty or unreadable fields stay
// zero, so the caller falls back to the request for each one. ok is false
// when the value has fewer than two fields or no user.
func ParsePTFPS(v string) (id Identity, ok bool) {
	v = strings.TrimSpace(v)
	user, rest, found := strings.Cut(v, ";")
	id.User = strings.TrimSpace(user)
	if !found || id.User == "" {
		return Identity{}, false
	}
	domain, rest, found := strings.Cut(rest, ";")
	id.Domain = strings.TrimSpace(domain)
	if !found {
		return id, true
	}
	ip, rest, found := strings.Cut(rest, ";")
	id.SourceIP = parseAddr(ip)
	if !found {
		return id, true
	}
	ua := rest
	if i := strings.LastIndexByte(rest, ';'); i >= 0 {
		ua = rest[:i]
		id.Calls = parseCalls(rest[i+1:])
	}
	id.UserAgent = strings.TrimSpace(ua)
	return id, true
}

// ParseXTFPS reads the older X-tfps header, "user@domain" (a sip: scheme
// and angle brackets are tolerated).
func ParseXTFPS(v string) (user, domain string, ok bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	if len(v) > 4 && strings.EqualFold(v[:4], "sip:") {
		v = v[4:]
	}
	user, domain, _ = strings.Cut(v, "@")
	user, domain = strings.TrimSpace(user), strings.TrimSpace(domain)
	if user == "" {
		return "", "", false
	}
	return user, domain, true
}

// parseAddr reads an address as PBXs write it: bare, [v6], or with a port.
func parseAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// maxCalls bounds a reported concurrent-call count (an absurd value is
// capped, not trusted to overflow anything).
const maxCalls = 1_000_000

func parseCalls(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, maxCalls)
}
