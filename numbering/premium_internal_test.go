package numbering

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// Lookup reads the premium range from the number it has parsed already (or
// parses it once on the country code's fast path); the answer must be the
// one a separate full parse of the E.164 form gives, for every country's
// example numbers of every type, dialled in international form and in
// national form from their own country.
func TestPremiumFromOneParseMatchesAFullParse(t *testing.T) {
	types := []phonenumbers.PhoneNumberType{phonenumbers.PREMIUM_RATE, phonenumbers.PERSONAL_NUMBER, phonenumbers.TOLL_FREE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.UAN, phonenumbers.MOBILE, phonenumbers.FIXED_LINE}
	checked, premium := 0, 0
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			for _, dialled := range []struct{ number, home string }{
				{phonenumbers.Format(ex, phonenumbers.E164), ""},
				{phonenumbers.Format(ex, phonenumbers.NATIONAL), region},
			} {
				d, err := Lookup(dialled.number, dialled.home)
				if err != nil {
					continue // not every example reads back (non-geographic, national-only)
				}
				checked++
				if want := premiumRange(d.E164); d.Premium != want {
					t.Errorf("%s %v %q (home %q): premium %q, a full parse of %s says %q", region, typ, dialled.number, dialled.home, d.Premium, d.E164, want)
				}
				if d.Premium != "" {
					premium++
				}
			}
		}
	}
	if checked < 1000 || premium < 100 {
		t.Fatalf("checked %d numbers, %d premium: the example set is too small to say anything", checked, premium)
	}
	t.Logf("%d numbers checked, %d premium", checked, premium)
}

// premiumRange is the premium range of an E.164 number read by a parse of
// its own, as Lookup read it before it kept the parse that found the
// country: the reference the test compares with.
func premiumRange(e164 string) string {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return ""
	}
	return premiumOf(num)
}
