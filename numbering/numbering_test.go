package numbering_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/voipshield/tfps/numbering"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name, number, home string
		country, e164      string // country "" means ErrNoCountry
	}{
		{"plus", "+44 20 7946 0000", "US", "GB", "+442079460000"},
		{"00 from the US still international", "00442079460000", "US", "GB", "+442079460000"},
		{"011 from Germany still international", "011442079460000", "DE", "GB", "+442079460000"},
		{"011 from NANP", "011 49 30 901820", "US", "DE", "+4930901820"},
		{"00 without home", "0049 30 901820", "", "DE", "+4930901820"},
		{"011 without home", "01133142278186", "", "FR", "+33142278186"},
		{"national with home", "030 901820", "DE", "DE", "+4930901820"},
		{"national NANP", "(212) 555-0100", "US", "US", "+12125550100"},
		{"national NANP valid", "201-555-0123", "US", "US", "+12015550123"},
		{"NANP region resolves Canada", "+1 613 555 0123", "", "CA", "+16135550123"},
		{"Jamaica inside NANP", "+1 876 555 1234", "US", "JM", "+18765551234"},
		{"Jamaica real range", "+1 876 512 3456", "", "JM", "+18765123456"},
		{"home country lower case", "030901820", "de", "DE", "+4930901820"},
		{"Australia own prefix 0011", "0011 44 20 7946 0000", "AU", "GB", "+442079460000"},
		{"bare international without home", "442079460000", "", "GB", "+442079460000"},
		{"UK national 0114 is not 011", "0114 496 0000", "GB", "GB", "+441144960000"},
		{"national without home has no country", "02079460000", "", "", ""},
		{"national number invalid for home", "12", "GB", "", ""},
		{"non-geographic +800", "+800 1234 5678", "", "", ""},
		{"unknown country code", "+999 123456", "", "", ""},
		{"letters", "+44abc", "", "", ""},
		{"empty", "", "US", "", ""},
		{"star code", "*98", "US", "", ""},
		{"too long", "+4412345678901234567890", "", "", ""},
		{"plus twice", "++44", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := numbering.Lookup(tt.number, tt.home)
			if tt.country == "" {
				if !errors.Is(err, numbering.ErrNoCountry) {
					t.Fatalf("Lookup(%q, %q) = %+v, %v; want ErrNoCountry", tt.number, tt.home, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q, %q): %v", tt.number, tt.home, err)
			}
			if got.Country != tt.country || got.E164 != tt.e164 {
				t.Errorf("Lookup(%q, %q) = %+v; want %s %s", tt.number, tt.home, got, tt.country, tt.e164)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := numbering.Lookup("00442079460000", "US"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCacheAnswersLikeLookup(t *testing.T) {
	c := numbering.NewCache(4)
	numbers := []string{"+442079460000", "02079460000", "+18765123456", "bad", "+4930901820", "00442079460000"}
	for round := range 3 {
		for _, n := range numbers {
			want, wantErr := numbering.Lookup(n, "GB")
			got, err := c.Lookup(n, "GB")
			if got != want || (err == nil) != (wantErr == nil) {
				t.Fatalf("round %d: Cache.Lookup(%q) = %+v, %v; Lookup = %+v, %v", round, n, got, err, want, wantErr)
			}
		}
	}
}

func BenchmarkCacheLookup(b *testing.B) {
	c := numbering.NewCache(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Lookup("00442079460000", "US"); err != nil {
			b.Fatal(err)
		}
	}
}

// Premium-rate and personal numbers carry their range; ordinary, mobile,
// toll-free and shared-cost numbers do not.
func TestPremiumRange(t *testing.T) {
	for _, tc := range []struct{ number, home, want string }{
		{"+499001123456", "", "499001"}, // DE 0900 premium rate
		{"09001123456", "DE", "499001"}, // the same, national
		{"+34803123456", "", "348031"},  // ES 803 premium rate
		{"+19005550100", "", "19005"},   // US 900
		{"+447011234567", "", "44701"},  // GB 070 personal number
		{"+442079460000", "", ""},       // London fixed line
		{"+34612345678", "", ""},        // ES mobile
		{"+34902123456", "", ""},        // ES 902 shared cost: businesses' hotlines
		{"+18005550100", "", ""},        // US toll free
		{"011 49 900 1123456", "US", "499001"},
	} {
		d, err := numbering.Lookup(tc.number, tc.home)
		if err != nil {
			t.Errorf("Lookup(%q, %q): %v", tc.number, tc.home, err)
			continue
		}
		if d.Premium != tc.want {
			t.Errorf("Lookup(%q, %q).Premium = %q, want %q", tc.number, tc.home, d.Premium, tc.want)
		}
	}
}

// BenchmarkLookupMiss is a lookup of a number the cache has not seen: a new
// number each time, of a shared country code (NANP +1, and +44 shared by GB,
// GG, IM and JE), so the country needs a full parse, and the premium range
// is read from the same parse.
func BenchmarkLookupMiss(b *testing.B) {
	for _, c := range []struct{ name, format string }{{"NANP", "+1201%07d"}, {"GB", "+4420%08d"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := numbering.Lookup(fmt.Sprintf(c.format, 2000000+i%8000000), "US"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
