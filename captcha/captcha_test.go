package captcha_test

import (
	"bytes"
	"testing"

	"github.com/voipshield/tfps/captcha"
)

func TestDigitsAreUniformAndRandom(t *testing.T) {
	counts := map[rune]int{}
	seen := map[string]bool{}
	const n = 2000
	for i := 0; i < n; i++ {
		d, err := captcha.New(nil, captcha.Length)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != captcha.Length {
			t.Fatalf("challenge %q has %d digits", d, len(d))
		}
		seen[d] = true
		for _, c := range d {
			if c < '0' || c > '9' {
				t.Fatalf("non-digit in %q", d)
			}
			counts[c]++
		}
	}
	// 8000 digits: each of the ten should appear about 800 times.
	for c := '0'; c <= '9'; c++ {
		if counts[c] < 600 || counts[c] > 1000 {
			t.Errorf("digit %c appeared %d times in %d, far from uniform", c, counts[c], n*captcha.Length)
		}
	}
	if len(seen) < n*8/10 {
		t.Errorf("only %d different challenges in %d", len(seen), n)
	}
}

func TestBiasedBytesAreRedrawn(t *testing.T) {
	// 250..255 would favour 0..5; they must be skipped.
	src := bytes.NewReader(append(bytes.Repeat([]byte{255, 251}, 4), 3, 14, 25, 36, 47, 58, 69, 70))
	d, err := captcha.New(src, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d != "3456" {
		t.Errorf("got %q, want 3456 (bytes >= 250 skipped)", d)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		want, typed string
		ok          bool
	}{{"1234", "1234", true}, {"1234", "1243", false}, {"1234", "123", false}, {"1234", "", false}, {"0000", "0000#", false}} {
		if got := captcha.Match(c.want, c.typed); got != c.ok {
			t.Errorf("Match(%q, %q) = %v", c.want, c.typed, got)
		}
	}
}
