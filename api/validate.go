package api

import (
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
)

// Input limits. Identity fields match the engine's bound.
const (
	maxField      = 256
	maxNumber     = 64
	maxEmail      = 254
	maxConcurrent = 100000
	maxLimit      = 1000000
)

func invalid(field, format string, args ...any) error {
	e := tfps.Errorf(tfps.EINVALID, format, args...)
	e.Message = field + ": " + e.Message
	return e
}

// text checks a free text field: valid UTF-8, no control characters, at most
// max bytes; required fields must not be empty.
func text(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return invalid(field, "required")
	case len(v) > max:
		return invalid(field, "longer than %d bytes", max)
	case !utf8.ValidString(v):
		return invalid(field, "not valid UTF-8")
	case strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return invalid(field, "%q contains a control character", v)
	}
	return nil
}

// number checks a dialled number: an optional leading +, then digits, * or #.
func number(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid(field, "required")
		}
		return nil
	}
	if len(v) > maxNumber {
		return invalid(field, "longer than %d characters", maxNumber)
	}
	d := strings.TrimPrefix(v, "+")
	if d == "" || strings.Trim(d, "0123456789*#") != "" {
		return invalid(field, "%q is not a number (digits, * or #, optional leading +)", v)
	}
	return nil
}

func ipAddr(field, v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		if v == "" {
			return netip.Addr{}, invalid(field, "required")
		}
		return netip.Addr{}, invalid(field, "%q is not an IP address", v)
	}
	return a, nil
}

func country(field, v string) (string, error) {
	cc := strings.ToUpper(strings.TrimSpace(v))
	if !config.ValidCountry(cc) {
		return "", invalid(field, "%q is not an ISO 3166 alpha-2 country code", v)
	}
	return cc, nil
}

func countries(field string, l []string) ([]string, error) {
	out := make([]string, 0, len(l))
	for _, v := range l {
		cc, err := country(field, v)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, cc) {
			out = append(out, cc)
		}
	}
	return out, nil
}

func limit(field string, v, max int) error {
	if v < 0 || v > max {
		return invalid(field, "%d is outside 0..%d", v, max)
	}
	return nil
}

func email(field, v string) error {
	if v == "" {
		return nil
	}
	if err := text(field, v, maxEmail, false); err != nil {
		return err
	}
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " ,;<>") {
		return invalid(field, "%q is not an email address", v)
	}
	return nil
}

func direction(v Direction) error {
	if v != Source && v != Destination {
		return invalid("direction", "%q is not source or destination", v)
	}
	return nil
}

func account(user, domain string) error {
	if err := text("user", user, maxField, true); err != nil {
		return err
	}
	return text("domain", domain, maxField, true)
}
