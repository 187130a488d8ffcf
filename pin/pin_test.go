package pin_test

import (
	"strings"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/pin"
)

func TestHashVerify(t *testing.T) {
	h, err := pin.Hash("4711")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "4711") {
		t.Errorf("hash %q shows the PIN", h)
	}
	if !pin.Verify(h, "4711") {
		t.Error("right PIN refused")
	}
	if pin.Verify(h, "4712") || pin.Verify(h, "") {
		t.Error("wrong PIN accepted")
	}
	h2, _ := pin.Hash("4711")
	if h2 == h {
		t.Error("same hash twice: no salt")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$y$z", "pbkdf2-sha256$0$AA$AA"} {
		if pin.Verify(bad, "4711") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
	if _, err := pin.Hash("47a1"); err == nil {
		t.Error("non-digit PIN hashed")
	}
}

func TestCheckerAccountPINThenGlobal(t *testing.T) {
	h, _ := pin.Hash("1357")
	c := pin.Checker{Global: "0000"}
	withPIN := &tfps.Account{PINHash: h}
	without := &tfps.Account{}
	cases := []struct {
		name  string
		a     *tfps.Account
		typed string
		ok    bool
	}{
		{"own PIN", withPIN, "1357", true},
		{"global PIN does not open an account with its own", withPIN, "0000", false},
		{"global PIN for account without one", without, "0000", true},
		{"global PIN during onboarding", nil, "0000", true},
		{"wrong", without, "1111", false},
		{"too short", without, "000", false},
	}
	for _, tc := range cases {
		if got := c.Check(tc.a, tc.typed); got != tc.ok {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.ok)
		}
	}
	if (pin.Checker{}).Check(nil, "0000") {
		t.Error("no global PIN configured, yet a PIN was accepted")
	}
}
