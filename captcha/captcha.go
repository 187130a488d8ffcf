// Package captcha is the voice CAPTCHA: a few random digits the IVR reads
// one by one (prompts.Digit, in the voice of the other prompts), which the
// caller types back. The digits come from crypto/rand, uniformly.
package captcha

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
)

// Length is the number of digits of a challenge (TFPS: 4).
const Length = 4

// New returns n random decimal digits read from r (crypto/rand.Reader when
// r is nil). Each digit is uniform: bytes >= 250 are drawn again.
func New(r io.Reader, n int) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 0, n)
	buf := make([]byte, n+4)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("captcha digits: %w", err)
		}
		for _, b := range buf {
			if b >= 250 || len(out) == n {
				continue
			}
			out = append(out, '0'+b%10)
		}
	}
	return string(out), nil
}

// Match reports whether typed equals want, in constant time.
func Match(want, typed string) bool {
	return len(want) == len(typed) && subtle.ConstantTimeCompare([]byte(want), []byte(typed)) == 1
}
