// Package numbering finds the destination country of a dialled number.
//
// A PBX sends the number as the caller dialled it: international with "+",
// "00" or "011" in front, or national (read with the account's home country).
// Formatting characters (spaces, dashes, dots, parentheses) are ignored.
// The country is found with github.com/nyaruka/phonenumbers (Google's
// libphonenumber metadata) instead of a hand-kept prefix table.
package numbering

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrNoCountry is returned when a number belongs to no country: unparseable,
// an unknown country calling code, a non-geographic code (+800, +881 ...),
// or a national number with no home country to read it with.
var ErrNoCountry = errors.New("no country for number")

// Destination is the result of reading a dialled number.
type Destination struct {
	Country string // ISO 3166-1 alpha-2, upper case, e.g. "GB"
	E164    string // the number in E.164 form, e.g. "+442079460000"
	// Premium is set for a number libphonenumber classifies as premium
	// rate or personal number, the usual targets of International Revenue
	// Share Fraud: its range, the E.164 digits of the country code, the
	// national destination code and one more digit (e.g. "499001" for
	// +49 900 1...). Empty for every other number.
	Premium string
}

// MaxDigits bounds the digits of a number: E.164 allows 15, we accept a few
// more for international prefixes ("011" + 15).
const MaxDigits = 20

// Lookup returns the destination country of number. home is the ISO country
// of the caller (the account's home country, or the operator's default); it
// reads national numbers and the home country's own international prefix
// (e.g. "0011" in AU). home may be empty: a number without an international
// prefix is then read as international without one (TFPS's prefix table).
func Lookup(number, home string) (Destination, error) {
	d, num, err := lookup(number, home)
	if err != nil {
		return d, err
	}
	if num == nil {
		// The country code's fast path read no number: parse it now.
		if num, err = phonenumbers.Parse(d.E164, "ZZ"); err != nil {
			return d, nil
		}
	}
	d.Premium = premiumOf(num)
	return d, nil
}

// lookup reads number; it also returns the parsed number when it parsed
// one (nil on the country code's fast path), so the premium range is read
// from the same parse: a full parse is most of a lookup's cost.
func lookup(number, home string) (Destination, *phonenumbers.PhoneNumber, error) {
	digits, plus, err := clean(number)
	if err != nil {
		return Destination{}, nil, err
	}
	home = strings.ToUpper(home)

	switch {
	case plus:
		return international(digits)
	case home != "":
		// The home region's own rules first: its national numbers and its
		// international prefix (011 in NANP, 00 in most of the world, 0011
		// in AU, 010 in JP ...).
		if d, num, ok := inRegion(digits, home); ok {
			return d, num, nil
		}
	}
	// The two international prefixes every PBX uses, whatever its country.
	if rest, ok := strings.CutPrefix(digits, "00"); ok {
		return international(rest)
	}
	if rest, ok := strings.CutPrefix(digits, "011"); ok {
		return international(rest)
	}
	if home == "" {
		return international(digits)
	}
	return Destination{}, nil, fmt.Errorf("read %q as a national number of %s: %w", number, home, ErrNoCountry)
}

// clean strips formatting and reports whether the number started with "+".
func clean(number string) (digits string, plus bool, err error) {
	var b strings.Builder
	b.Grow(len(number))
	for i, r := range number {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0 && !plus:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false, fmt.Errorf("read number %q: character %q at %d is not dialable: %w", number, r, i, ErrNoCountry)
		}
	}
	if b.Len() == 0 {
		return "", false, fmt.Errorf("read number %q: no digits: %w", number, ErrNoCountry)
	}
	if b.Len() > MaxDigits {
		return "", false, fmt.Errorf("read number %q: more than %d digits: %w", number, MaxDigits, ErrNoCountry)
	}
	return b.String(), plus, nil
}

// international reads digits that start with a country calling code.
func international(digits string) (Destination, *phonenumbers.PhoneNumber, error) {
	if digits == "" || digits[0] == '0' {
		return Destination{}, nil, fmt.Errorf("read %q: a country code never starts with 0: %w", digits, ErrNoCountry)
	}
	// Fast path: most country calling codes belong to one country, and the
	// code alone then answers (as TFPS's prefix table did), without the
	// regular expressions of a full parse. Shared codes (+1 NANP, +44, +7,
	// +262 ...) need the number's leading digits: full parse.
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc := 0
		for _, c := range digits[:n] {
			cc = cc*10 + int(c-'0')
		}
		regions := phonenumbers.GetRegionCodesForCountryCode(cc)
		if len(regions) == 0 {
			continue
		}
		if len(regions) == 1 && regions[0] != "001" {
			return Destination{Country: regions[0], E164: "+" + digits}, nil, nil
		}
		break
	}
	num, err := phonenumbers.Parse("+"+digits, "ZZ")
	if err != nil {
		return Destination{}, nil, fmt.Errorf("parse +%s: %v: %w", digits, err, ErrNoCountry)
	}
	d, err := destination(num, "+"+digits)
	return d, num, err
}

// inRegion reads digits with the rules of region; ok only for a valid number
// (or one of a country code with a single region).
func inRegion(digits, region string) (Destination, *phonenumbers.PhoneNumber, bool) {
	num, err := phonenumbers.Parse(digits, region)
	if err != nil {
		return Destination{}, nil, false
	}
	if !phonenumbers.IsValidNumber(num) {
		return Destination{}, nil, false
	}
	d, err := destination(num, "")
	return d, num, err == nil
}

func destination(num *phonenumbers.PhoneNumber, raw string) (Destination, error) {
	region := phonenumbers.GetRegionCodeForNumber(num)
	if region == "" || region == phonenumbers.UNKNOWN_REGION || region == "001" {
		return Destination{}, fmt.Errorf("country of %s (calling code %d): %w", raw, num.GetCountryCode(), ErrNoCountry)
	}
	return Destination{Country: region, E164: phonenumbers.Format(num, phonenumbers.E164)}, nil
}

// premiumOf returns the premium range of a parsed number (see
// Destination.Premium), or "".
func premiumOf(num *phonenumbers.PhoneNumber) string {
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.PERSONAL_NUMBER:
	default:
		return ""
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	n := min(phonenumbers.GetLengthOfNationalDestinationCode(num)+1, len(nsn))
	return strconv.Itoa(int(num.GetCountryCode())) + nsn[:n]
}
