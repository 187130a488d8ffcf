package numbering_test

import (
	"testing"

	"github.com/voipshield/tfps/numbering"
)

func TestCallerCountry(t *testing.T) {
	for _, c := range []struct{ caller, want string }{
		{"+34 912 345 678", "ES"},
		{"0049 30 1234567", "DE"},
		{"011 52 55 1234 5678", "MX"},
		{"+1 415 555 2671", "US"},
		{"030 1234567", ""}, // national: no country by itself
		{"1001", ""},        // an extension
		{"+999 1234", ""},   // no such country
	} {
		if got := numbering.CallerCountry(c.caller); got != c.want {
			t.Errorf("CallerCountry(%q) = %q, want %q", c.caller, got, c.want)
		}
	}
}

func TestTimeZone(t *testing.T) {
	for _, c := range []struct{ country, caller, want string }{
		{"ES", "", "Europe/Madrid"},
		{"DE", "+49 30 1234567", "Europe/Berlin"},
		{"US", "+1 415 555 2671", "America/Los_Angeles"}, // several zones: the caller's area code
		{"US", "(312) 555-0100", "America/Chicago"},      // national caller read with the home country
		{"US", "", "America/New_York"},
		{"MX", "+52 664 123 4567", "America/Tijuana"},
		{"BR", "+55 92 98765 4321", "America/Manaus"},
		{"BR", "1001", "America/Sao_Paulo"},           // extension: the country's main zone
		{"US", "+34 912 345 678", "America/New_York"}, // caller of another country says nothing
		{"", "+34 912 345 678", ""},
	} {
		if got := numbering.TimeZone(c.country, c.caller); got != c.want {
			t.Errorf("TimeZone(%q, %q) = %q, want %q", c.country, c.caller, got, c.want)
		}
	}
}
