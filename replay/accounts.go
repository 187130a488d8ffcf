package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// loadAccounts fills the replay's database as Options.Accounts says. Each
// copied account keeps its creation time.
func (r *Replayer) loadAccounts(ctx context.Context) error {
	var accounts []*tfps.Account
	var lists []tfps.BlacklistEntry
	var ranges []tfps.NumberRange
	var allowed []tfps.RangeAllowance
	var domains []tfps.Domain
	var rules []tfps.Rule
	switch r.opts.Accounts {
	case AccountsEmpty:
		return nil
	case AccountsLive:
		if r.opts.Live == nil {
			return fmt.Errorf("replay: --accounts live needs the configured database")
		}
		for offset := 0; ; {
			page, _, err := r.opts.Live.ListAccounts(ctx, tfps.AccountFilter{Offset: offset, Limit: tfps.MaxPageSize})
			if err != nil {
				return fmt.Errorf("copy live accounts: %w", err)
			}
			accounts = append(accounts, page...)
			if len(page) < tfps.MaxPageSize {
				break
			}
			offset += len(page)
		}
		var err error
		if lists, err = r.opts.Live.ListBlacklist(ctx, ""); err != nil {
			return fmt.Errorf("copy live blacklists: %w", err)
		}
		if ranges, allowed, err = r.opts.Live.RangeEntries(ctx); err != nil {
			return fmt.Errorf("copy live number ranges: %w", err)
		}
		if domains, err = r.opts.Live.Domains(ctx); err != nil {
			return fmt.Errorf("copy live domains: %w", err)
		}
		if rules, err = r.opts.Live.RuleEntries(ctx); err != nil {
			return fmt.Errorf("copy live fraud rules: %w", err)
		}
	default:
		var err error
		if accounts, err = readAccountsFile(r.opts.Accounts); err != nil {
			return err
		}
	}
	var at time.Time
	r.db.Now = func() time.Time { return at }
	for _, a := range accounts {
		at = a.CreatedAt
		if at.IsZero() {
			at = time.Unix(0, 0)
		}
		c := *a
		if err := r.db.CreateAccount(ctx, &c); err != nil {
			return fmt.Errorf("copy account %s@%s: %w", a.User, a.Domain, err)
		}
		r.sum.preloaded(a.User, a.Domain, at.UTC())
	}
	for i := range lists {
		at = lists[i].CreatedAt
		if err := r.db.AddBlacklist(ctx, &lists[i]); err != nil {
			return fmt.Errorf("copy blacklist entry %s %q: %w", lists[i].Kind, lists[i].Value, err)
		}
	}
	// High-risk number ranges and the ranges each account verified.
	if len(ranges) > 0 {
		at = time.Unix(0, 0)
		if err := r.db.PutRanges(ctx, ranges); err != nil {
			return fmt.Errorf("copy number ranges: %w", err)
		}
	}
	for _, a := range allowed {
		if err := r.db.AllowRange(ctx, a.User, a.Domain, a.Prefix); err != nil {
			return fmt.Errorf("copy range %s verified by %s@%s: %w", a.Prefix, a.User, a.Domain, err)
		}
	}
	// Fraud rules keep their ids: a verified rule warning is remembered
	// by rule id.
	if len(rules) > 0 {
		if err := r.db.PutRules(ctx, rules); err != nil {
			return fmt.Errorf("copy fraud rules: %w", err)
		}
	}
	for i := range domains {
		if err := r.db.PutDomain(ctx, &domains[i]); err != nil {
			return fmt.Errorf("copy domain %s: %w", domains[i].Domain, err)
		}
	}
	return nil
}

// readAccountsFile reads accounts in the JSON of the API: an array, a page
// ({"accounts": [...]}) or one account object per line.
func readAccountsFile(path string) ([]*tfps.Account, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	var in []api.Account
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &in); err != nil {
			return nil, fmt.Errorf("accounts file %s: %w", path, err)
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for n := 1; ; n++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("accounts file %s, value %d: %w", path, n, err)
			}
			var page struct {
				Accounts []api.Account `json:"accounts"`
			}
			if json.Unmarshal(raw, &page) == nil && page.Accounts != nil {
				in = append(in, page.Accounts...)
				continue
			}
			var a api.Account
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("accounts file %s, value %d: %w", path, n, err)
			}
			in = append(in, a)
		}
	}
	out := make([]*tfps.Account, 0, len(in))
	for i, a := range in {
		if a.User == "" {
			return nil, fmt.Errorf("accounts file %s, account %d: no user", path, i+1)
		}
		out = append(out, &tfps.Account{
			User: a.User, Domain: a.Domain, Email: a.Email, ConcurrentCalls: a.ConcurrentCalls, ConcurrentCallsOff: a.ConcurrentCallsOff,
			DailyQuota: a.DailyQuota, DailyQuotaOff: a.DailyQuotaOff, SourceCountries: a.SourceCountries,
			DestinationCountries: a.DestinationCountries, Blocked: a.Blocked, Language: a.Language, HomeCountry: a.HomeCountry,
			CreatedAt: a.CreatedAt,
		})
	}
	return out, nil
}
