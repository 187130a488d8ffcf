package replay

import (
	"context"
	"slices"
	"sync"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/ivr"
)

// flowAccounts answers the voice flows' account reads from memory. In a
// replay an account changes only when a verification records its outcome,
// and that goes through RecordVerification, which drops the account from the cache; a
// read that started before a recording does not store what it read. Reading
// each account from SQL on every session took about 5% of a replay's CPU.
//
// The cache (accountCache) is the replay's; each worker reads and records
// through its own flowAccounts, on its own clock.
type flowAccounts struct {
	c   *accountCache
	db  ivr.Accounts
	rec ivr.Recorder
}

type accountCache struct {
	mu  sync.Mutex
	gen uint64 // counts Records: a read stores its answer only if none came meanwhile
	m   map[accountName]flowAccount
}

func newAccountCache() *accountCache { return &accountCache{m: map[accountName]flowAccount{}} }

type accountName struct{ user, domain string }

type flowAccount struct {
	a   *tfps.Account
	err error // tfps.ENOTFOUND
}

// maxFlowAccounts bounds the cache; past it, it starts over.
const maxFlowAccounts = 100_000

var (
	_ ivr.Accounts = (*flowAccounts)(nil)
	_ ivr.Recorder = (*flowAccounts)(nil)
)

// GetAccount implements ivr.Accounts. Each caller gets its own copy.
func (f *flowAccounts) GetAccount(ctx context.Context, user, domain string) (*tfps.Account, error) {
	k := accountName{user, domain}
	ac := f.c
	ac.mu.Lock()
	c, ok := ac.m[k]
	gen := ac.gen
	ac.mu.Unlock()
	if !ok {
		a, err := f.db.GetAccount(ctx, user, domain)
		if err != nil && tfps.ErrorCode(err) != tfps.ENOTFOUND {
			return nil, err
		}
		c = flowAccount{a, err}
		ac.mu.Lock()
		if ac.gen == gen {
			if len(ac.m) >= maxFlowAccounts {
				clear(ac.m)
			}
			ac.m[k] = c
		}
		ac.mu.Unlock()
	}
	if c.err != nil {
		return nil, c.err
	}
	return cloneAccount(c.a), nil
}

// RecordVerification implements ivr.Recorder: it records, then forgets the
// account.
func (f *flowAccounts) RecordVerification(ctx context.Context, r *tfps.VerificationRecord) error {
	err := f.rec.RecordVerification(ctx, r)
	f.c.mu.Lock()
	f.c.gen++
	delete(f.c.m, accountName{r.User, r.Domain})
	f.c.mu.Unlock()
	return err
}

func cloneAccount(a *tfps.Account) *tfps.Account {
	c := *a
	c.SourceCountries = slices.Clone(a.SourceCountries)
	c.DestinationCountries = slices.Clone(a.DestinationCountries)
	c.Verified = slices.Clone(a.Verified)
	return &c
}
