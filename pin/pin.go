// Package pin is the PIN verification method: a 4-digit PIN per account,
// stored only as a salted PBKDF2-SHA256 hash, with the installation's global
// PIN (TFPS_PIN) for accounts without one of their own.
package pin

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/voipshield/tfps"
)

// Length is the number of digits of a PIN.
const Length = 4

// iterations of PBKDF2; a PIN has only 10,000 values, so the hash mainly
// keeps PINs out of database dumps and logs. Stored with the hash, so it can
// grow later.
const iterations = 50_000

// ErrInvalid is returned for a PIN that is not exactly Length digits.
var ErrInvalid = errors.New("PIN must be exactly 4 digits")

// Valid reports whether p is Length digits.
func Valid(p string) bool {
	if len(p) != Length {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Hash returns "pbkdf2-sha256$<iterations>$<salt>$<hash>" for p.
func Hash(p string) (string, error) {
	if !Valid(p) {
		return "", ErrInvalid
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("PIN salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, p, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether p matches the hash h (constant time). A malformed
// hash never matches.
func Verify(h, p string) bool {
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 || n > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, p, salt, n, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Checker verifies a typed PIN for an account.
type Checker struct {
	// Global is TFPS_PIN, used when the account has no PIN of its own (or
	// there is no account yet, during onboarding). Empty: no global PIN.
	Global string
}

// Check reports whether typed is the PIN of a (nil during onboarding).
func (c Checker) Check(a *tfps.Account, typed string) bool {
	if !Valid(typed) {
		return false
	}
	if a != nil && a.PINHash != "" {
		return Verify(a.PINHash, typed)
	}
	return c.Global != "" && subtle.ConstantTimeCompare([]byte(c.Global), []byte(typed)) == 1
}
