package replay

import (
	"context"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/ivr"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

type countingReads struct {
	ivr.Accounts
	n int
}

func (c *countingReads) GetAccount(ctx context.Context, user, domain string) (*tfps.Account, error) {
	c.n++
	return c.Accounts.GetAccount(ctx, user, domain)
}

// The voice flows read an account from SQL once; a verification recorded
// for it (an onboarding, a country added) is seen by the next read, and an
// unknown account stays unknown until one is recorded.
func TestFlowAccountsSeeRecordedChanges(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t, store.SQLite)
	reads := &countingReads{Accounts: db}
	f := &flowAccounts{c: newAccountCache(), db: reads, rec: db}

	if _, err := f.GetAccount(ctx, "1001", "pbx.example"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
		t.Fatalf("unknown account: %v, want ENOTFOUND", err)
	}
	if _, err := f.GetAccount(ctx, "1001", "pbx.example"); tfps.ErrorCode(err) != tfps.ENOTFOUND || reads.n != 1 {
		t.Fatalf("unknown account again: %v after %d reads, want ENOTFOUND after 1", err, reads.n)
	}
	ev := tfps.VerificationEvent{User: "1001", Domain: "pbx.example", Flow: "onboarding", Outcome: "verified"}
	if err := f.RecordVerification(ctx, &tfps.VerificationRecord{User: "1001", Domain: "pbx.example", Event: ev, Create: &tfps.Account{
		User: "1001", Domain: "pbx.example", ConcurrentCalls: 2, DailyQuota: 10, SourceCountries: []string{"ES"}, DestinationCountries: []string{"ES"},
	}}); err != nil {
		t.Fatal(err)
	}
	a, err := f.GetAccount(ctx, "1001", "pbx.example")
	if err != nil || a.DailyQuota != 10 {
		t.Fatalf("after onboarding: %+v, %v", a, err)
	}
	a.DestinationCountries[0] = "XX" // a caller's copy is its own
	b, _ := f.GetAccount(ctx, "1001", "pbx.example")
	if b.DestinationCountries[0] != "ES" || reads.n != 2 {
		t.Fatalf("second read: %v after %d SQL reads, want [ES] after 2", b.DestinationCountries, reads.n)
	}

	ev.Flow = "destination"
	if err := f.RecordVerification(ctx, &tfps.VerificationRecord{User: "1001", Domain: "pbx.example", Event: ev, Update: func(a *tfps.Account) error {
		a.DestinationCountries = append(a.DestinationCountries, "FR")
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.GetAccount(ctx, "1001", "pbx.example"); len(c.DestinationCountries) != 2 {
		t.Errorf("after a destination was added: %v, want [ES FR]", c.DestinationCountries)
	}
}
