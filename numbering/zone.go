package numbering

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// CallerCountry returns the country of caller when it is a full
// international number ("+", "00" or "011" then a country code) of a
// known country, else "". Onboarding takes it as the new account's home
// country: a national caller number says nothing by itself.
func CallerCountry(caller string) string {
	digits, plus, err := clean(caller)
	if err != nil {
		return ""
	}
	switch {
	case plus:
	case strings.HasPrefix(digits, "00"):
		digits = digits[2:]
	case strings.HasPrefix(digits, "011"):
		digits = digits[3:]
	default:
		return ""
	}
	num, err := phonenumbers.Parse("+"+digits, "ZZ")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return ""
	}
	region := phonenumbers.GetRegionCodeForNumber(num)
	if region == "" || region == phonenumbers.UNKNOWN_REGION || region == "001" {
		return ""
	}
	return region
}

// capitalZone names the zone of the capital for countries of several zones
// whose libphonenumber example number lies elsewhere.
var capitalZone = map[string]string{
	"CA": "America/Toronto",
	"RU": "Europe/Moscow",
	"AU": "Australia/Sydney",
	"KZ": "Asia/Almaty",
	"ID": "Asia/Jakarta",
}

// TimeZone returns the IANA time zone of an account at home in country,
// "" when unknown. For a country of several zones (US, BR, MX, CA ...) the
// caller's number, read with country, picks its region's zone from
// libphonenumber's time-zone data; otherwise the country's main zone.
func TimeZone(country, caller string) string {
	country = strings.ToUpper(country)
	if country == "" {
		return ""
	}
	if caller != "" {
		if d, err := Lookup(caller, country); err == nil && d.Country == country {
			if num, err := phonenumbers.Parse(d.E164, "ZZ"); err == nil {
				if z := oneZone(num); z != "" {
					return z
				}
			}
		}
	}
	if z, ok := capitalZone[country]; ok {
		return z
	}
	ex := phonenumbers.GetExampleNumber(country)
	if ex == nil {
		return ""
	}
	zones, err := phonenumbers.GetTimezonesForNumber(ex)
	if err != nil || len(zones) == 0 || zones[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return ""
	}
	return zones[0]
}

// oneZone is the zone of num when its prefix maps to exactly one.
func oneZone(num *phonenumbers.PhoneNumber) string {
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil || len(zones) != 1 || zones[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return ""
	}
	return zones[0]
}
