package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Key declares one setting: its name, default, documentation and how its text
// becomes a typed field. The README's configuration table is generated from
// these declarations (see TestReadmeListsEveryKey).
type Key struct {
	Name    string
	Default string
	Help    string
	Secret  bool   // masked in check-config and logs
	Legacy  string // non-empty for a TFPS key kept for compatibility: what happens to it
	Set     func(c *Config, v string) error
}

func (k Key) set(c *Config, v string) error { return k.Set(c, v) }

// Keys returns every declared setting, core first, then each area's.
func Keys() []Key {
	var all []Key
	for _, group := range [][]Key{coreKeys(), engineKeys(), notifyKeys(), sipKeys(), ivrKeys(), reputationKeys(), uiKeys(), learningKeys()} {
		all = append(all, group...)
	}
	return all
}

// The value parsers below return errors that say what is allowed; Load adds
// the key and the bad value.

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func intKey(name, def, help string, lo, hi int, dst func(c *Config) *int) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		n, err := parseInt(v, lo, hi)
		if err != nil {
			return err
		}
		*dst(c) = n
		return nil
	}}
}

// boolKey accepts on/off (and true/false, yes/no, 1/0) in any case.
func boolKey(name, def, help string, dst func(c *Config) *bool) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			*dst(c) = true
		case "off", "false", "no", "0":
			*dst(c) = false
		default:
			return fmt.Errorf("must be on or off")
		}
		return nil
	}}
}

func stringKey(name, def, help string, dst func(c *Config) *string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		*dst(c) = v
		return nil
	}}
}

func secretKey(name, help string, dst func(c *Config) *string) Key {
	k := stringKey(name, "", help, dst)
	k.Secret = true
	return k
}

func choiceKey(name, def, help string, allowed []string, dst func(c *Config) *string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				*dst(c) = a
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}}
}

// durationKey accepts a Go duration ("90s", "2m") or a bare number of seconds,
// as TFPS wrote CACHE_BLOCK_TIME.
func durationKey(name, def, help string, lo, hi time.Duration, dst func(c *Config) *time.Duration) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("must be a duration from %s to %s (e.g. 3600, 90s, 1h)", lo, hi)
		}
		*dst(c) = d
		return nil
	}}
}

// ParseDuration reads a Go duration or a whole number of seconds.
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func countriesKey(name, def, help string, dst func(c *Config) *[]string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		cs, err := ParseCountries(v)
		if err != nil {
			return err
		}
		*dst(c) = cs
		return nil
	}}
}

// ParseCountries reads a comma-separated list of ISO 3166 alpha-2 codes,
// upper-casing them and dropping duplicates. Every bad code is named.
func ParseCountries(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	known := phonenumbers.GetSupportedRegions()
	var out, bad []string
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		cc := strings.ToUpper(strings.TrimSpace(p))
		if cc == "" {
			continue
		}
		if !known[cc] {
			bad = append(bad, strconv.Quote(strings.TrimSpace(p)))
			continue
		}
		if !seen[cc] {
			seen[cc] = true
			out = append(out, cc)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown country code %s: use ISO 3166 alpha-2 codes such as US, BR, ES, separated by commas", strings.Join(bad, ", "))
	}
	return out, nil
}

// ValidCountry reports whether cc is a known ISO 3166 alpha-2 code (upper case).
func ValidCountry(cc string) bool { return phonenumbers.GetSupportedRegions()[cc] }

func ipKey(name, help string, dst func(c *Config) *netip.Addr) Key {
	return Key{Name: name, Help: help, Set: func(c *Config, v string) error {
		if v == "" {
			*dst(c) = netip.Addr{}
			return nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("must be an IPv4 or IPv6 address")
		}
		*dst(c) = a
		return nil
	}}
}

func listenKey(name, def, help string, dst func(c *Config) *string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		if v == "" {
			*dst(c) = ""
			return nil
		}
		if err := checkHostPort(v); err != nil {
			return err
		}
		*dst(c) = v
		return nil
	}}
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("must be host:port, e.g. 127.0.0.1:8080 or [::1]:5060")
	}
	if _, err := parseInt(port, 0, 65535); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535")
	}
	if host != "" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func emailsKey(name, def, help string, dst func(c *Config) *[]string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		if v == "" {
			*dst(c) = nil
			return nil
		}
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return fmt.Errorf("must be e-mail addresses separated by commas (%v)", err)
		}
		var out []string
		for _, a := range list {
			out = append(out, a.Address)
		}
		*dst(c) = out
		return nil
	}}
}

func urlKey(name, def, help string, schemes []string, dst func(c *Config) *string) Key {
	return Key{Name: name, Default: def, Help: help, Set: func(c *Config, v string) error {
		if v == "" {
			*dst(c) = ""
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" {
			return fmt.Errorf("must be a URL with scheme %s", strings.Join(schemes, ", "))
		}
		for _, s := range schemes {
			if strings.EqualFold(u.Scheme, s) {
				*dst(c) = v
				return nil
			}
		}
		return fmt.Errorf("scheme %q not supported; use %s", u.Scheme, strings.Join(schemes, ", "))
	}}
}

// CIDRs parses a comma-separated list of addresses and networks; a bare
// address becomes a /32 or /128 prefix.
func ParseCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			pf, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR (e.g. 192.0.2.10, 10.0.0.0/8, 2001:db8::/32)", p)
			}
			out = append(out, pf.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR (e.g. 192.0.2.10, 10.0.0.0/8, 2001:db8::/32)", p)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
