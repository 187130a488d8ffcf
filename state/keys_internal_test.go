package state

import "testing"

func TestKeysEscapeAndShareTag(t *testing.T) {
	k := Keys{prefix: "p:"}
	a := k.Daily("a:b", "d{x}", "2026-11-23", false)
	b := k.VerifyFailures("a:b", "d{x}")
	tag := "p:acct:{d%7Bx%7D/a%3Ab}"
	if a[:len(tag)] != tag || b[:len(tag)] != tag {
		t.Errorf("keys %q %q do not start with tag %q", a, b, tag)
	}
	if k.Daily("u", "d", "2026-11-23", true) == k.Daily("u", "d", "2026-11-23", false) {
		t.Error("in-hours and off-hours counters share a key")
	}
	// "a:b"+"c" must not collide with "a"+"b:c".
	if k.ABAttempts("u", "d", "a:b", "c") == k.ABAttempts("u", "d", "a", "b:c") {
		t.Error("A->B keys collide")
	}
}
