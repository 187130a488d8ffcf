package state

import (
	"testing"

	"github.com/voipshield/tfps/engine"
)

// The ticket id generator issues what engine.ValidTicketID (and so the dialplan's
// _VXXXXXXXXXXXXXXXX and the IVR) accepts, and nothing else passes.
func TestValidTicketIDMatchesIssuedIDs(t *testing.T) {
	for range 1000 {
		id, err := fastTicketID()
		if err != nil {
			t.Fatal(err)
		}
		if !engine.ValidTicketID(id) {
			t.Fatalf("issued id %q refused", id)
		}
	}
	for _, bad := range []string{"", "123456789012345", "12345678901234567", "123456789012345a", "change,1001,x", "1234567890123456,", "１２３４５６７８９０１２３４５６"} {
		if engine.ValidTicketID(bad) {
			t.Errorf("engine.ValidTicketID(%q) = true", bad)
		}
	}
}
