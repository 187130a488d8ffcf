package state

import "testing"

// Both ticket id generators issue what ValidTicketID (and so the dialplan's
// _VXXXXXXXXXXXXXXXX and the IVR) accepts, and nothing else passes.
func TestValidTicketIDMatchesIssuedIDs(t *testing.T) {
	for range 1000 {
		a, err := newTicketID()
		if err != nil {
			t.Fatal(err)
		}
		b, err := fastTicketID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidTicketID(a) || !ValidTicketID(b) {
			t.Fatalf("issued ids %q %q refused", a, b)
		}
	}
	for _, bad := range []string{"", "123456789012345", "12345678901234567", "123456789012345a", "change,1001,x", "1234567890123456,", "１２３４５６７８９０１２３４５６"} {
		if ValidTicketID(bad) {
			t.Errorf("ValidTicketID(%q) = true", bad)
		}
	}
}
