package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Local implements Service in the gateway process.
type Local struct {
	Engine *engine.Engine
	Store  *store.Store
	State  *state.State
	Config *config.Config   // defaults of new accounts, business hours, TFPS_MAX_CONCURRENT
	Now    func() time.Time // the time of each check; nil: time.Now
}

var _ Service = (*Local)(nil)

func (s *Local) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Check validates the request and asks the engine.
func (s *Local) Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error) {
	call, err := req.Call()
	if err != nil {
		return nil, err
	}
	call.Time = s.now()
	d, err := s.Engine.Decide(ctx, call)
	if err != nil {
		return nil, err
	}
	res := &CheckResponse{
		Result: d.Result.String(), Code: d.Code.String(), Reason: d.Reason, Flow: string(d.Flow), Country: d.Country,
		Ticket: d.Ticket, SourceCountry: d.Facts.SourceCountry, DestinationCountry: d.Facts.DestinationCountry,
		OffHours: d.Facts.OffHours, Replayed: d.Replayed, Enforced: d.Enforced(), Rule: d.Rule,
	}
	if w := d.WouldBe; w != nil {
		res.WouldBe = &WouldBe{Result: w.Result.String(), Code: w.Code.String(), Reason: w.Reason, Flow: string(w.Flow), Country: w.Country}
	}
	return res, nil
}

// Call validates the request as POST /v1/check does and returns the engine
// call, without its time (the caller sets it). The replay reads its input
// lines through it, so a replayed line means what the same POST would.
func (r *CheckRequest) Call() (engine.Call, error) {
	if err := text("user", r.User, maxField, true); err != nil {
		return engine.Call{}, err
	}
	for _, f := range [...]struct{ name, v string }{{"domain", r.Domain}, {"user_agent", r.UserAgent}, {"caller", r.Caller}, {"call_id", r.CallID}} {
		if err := text(f.name, f.v, maxField, false); err != nil {
			return engine.Call{}, err
		}
	}
	if err := number("number", r.Number, true); err != nil {
		return engine.Call{}, err
	}
	ip, err := ipAddr("source_ip", r.SourceIP)
	if err != nil {
		return engine.Call{}, err
	}
	cc := 1
	if r.ConcurrentCalls != nil {
		cc = *r.ConcurrentCalls
		if err := limit("concurrent_calls", cc, maxConcurrent); err != nil {
			return engine.Call{}, err
		}
	}
	return engine.Call{
		User: r.User, Domain: r.Domain, SourceIP: ip, UserAgent: r.UserAgent, ConcurrentCalls: cc,
		Number: r.Number, Caller: r.Caller, CallID: r.CallID, Transport: "http",
	}, nil
}

// Codes returns engine.Codes.
func (s *Local) Codes(context.Context) ([]Code, error) { return PublishedCodes(), nil }

// PublishedCodes is the engine's code table in API form.
func PublishedCodes() []Code {
	var out []Code
	for _, c := range engine.Codes() {
		row := Code{Code: c.Code.String(), Flow: string(c.Flow), Check: c.Check, Meaning: c.Meaning, Reserved: c.Reserved}
		if c.Result != 0 {
			row.Result = c.Result.String()
		}
		out = append(out, row)
	}
	return out
}

func apiAccount(a *tfps.Account) *Account {
	return &Account{
		ID: a.ID, User: a.User, Domain: a.Domain, Email: a.Email,
		ConcurrentCalls: a.ConcurrentCalls, ConcurrentCallsOff: a.ConcurrentCallsOff,
		DailyQuota: a.DailyQuota, DailyQuotaOff: a.DailyQuotaOff,
		SourceCountries: nonNil(a.SourceCountries), DestinationCountries: nonNil(a.DestinationCountries),
		Blocked: a.Blocked, Language: a.Language, HomeCountry: a.HomeCountry, HasPIN: a.PINHash != "", Mode: string(a.Mode),
		Timezone: a.Timezone, BusinessHours: a.BusinessHours, Verified: a.Verified, Profile: a.Profile,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// ListAccounts returns a page of accounts.
func (s *Local) ListAccounts(ctx context.Context, q AccountQuery) (*AccountPage, error) {
	if q.Domain != "" {
		if err := text("domain", q.Domain, maxField, false); err != nil {
			return nil, err
		}
	}
	if q.Offset < 0 {
		return nil, invalid("offset", "%d is negative", q.Offset)
	}
	if q.Limit < 0 || q.Limit > tfps.MaxPageSize {
		return nil, invalid("limit", "%d is outside 0..%d", q.Limit, tfps.MaxPageSize)
	}
	if q.Limit == 0 {
		q.Limit = tfps.DefaultPageSize
	}
	list, total, err := s.Store.ListAccounts(ctx, tfps.AccountFilter{Domain: q.Domain, Offset: q.Offset, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	p := &AccountPage{Accounts: make([]Account, 0, len(list)), Total: total, Offset: q.Offset, Limit: q.Limit}
	for _, a := range list {
		p.Accounts = append(p.Accounts, *apiAccount(a))
	}
	return p, nil
}

// GetAccount returns the account and today's counters.
func (s *Local) GetAccount(ctx context.Context, user, domain string) (*Account, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	a, err := s.Store.GetAccount(ctx, user, domain)
	if err != nil {
		return nil, err
	}
	return s.withUsage(ctx, apiAccount(a))
}

func (s *Local) schedule() *bizhours.Schedule {
	if s.Config != nil {
		return s.Config.BusinessHours
	}
	return nil
}

// today is the local date whose daily counters of the account apply now
// (its own business-hours zone).
func (s *Local) today(a *Account) string {
	sc := engine.AccountSchedule(s.schedule(), &tfps.Account{Timezone: a.Timezone, HomeCountry: a.HomeCountry, BusinessHours: a.BusinessHours})
	if sc != nil {
		return sc.LocalDate(s.now())
	}
	return s.now().UTC().Format("2006-01-02")
}

func (s *Local) withUsage(ctx context.Context, a *Account) (*Account, error) {
	u := &Usage{Date: s.today(a)}
	var err error
	if u.Calls, err = s.State.DailyCount(ctx, a.User, a.Domain, u.Date, false); err != nil {
		return nil, err
	}
	if u.CallsOff, err = s.State.DailyCount(ctx, a.User, a.Domain, u.Date, true); err != nil {
		return nil, err
	}
	a.Today = u
	return a, nil
}

// apply copies the set fields of in onto a, validating each.
func (s *Local) apply(a *tfps.Account, in *AccountInput) error {
	maxCC := maxConcurrent
	if s.Config != nil && s.Config.MaxConcurrent > 0 {
		maxCC = s.Config.MaxConcurrent
	}
	if in.Email != nil {
		if err := email("email", *in.Email); err != nil {
			return err
		}
		a.Email = *in.Email
	}
	for _, f := range [...]struct {
		name string
		in   *int
		dst  *int
		max  int
	}{
		{"concurrent_calls", in.ConcurrentCalls, &a.ConcurrentCalls, maxCC},
		{"concurrent_calls_off", in.ConcurrentCallsOff, &a.ConcurrentCallsOff, maxCC},
		{"daily_quota", in.DailyQuota, &a.DailyQuota, maxLimit},
		{"daily_quota_off", in.DailyQuotaOff, &a.DailyQuotaOff, maxLimit},
	} {
		if f.in == nil {
			continue
		}
		if err := limit(f.name, *f.in, f.max); err != nil {
			return err
		}
		*f.dst = *f.in
	}
	if in.SourceCountries != nil {
		l, err := countries("source_countries", *in.SourceCountries)
		if err != nil {
			return err
		}
		a.SourceCountries = l
	}
	if in.DestinationCountries != nil {
		l, err := countries("destination_countries", *in.DestinationCountries)
		if err != nil {
			return err
		}
		a.DestinationCountries = l
	}
	if in.Blocked != nil {
		a.Blocked = *in.Blocked
	}
	if in.Language != nil {
		lang := *in.Language
		if lang != "" {
			l, ok := prompts.Language(lang)
			if !ok {
				return invalid("language", "%q is not one of %s", lang, strings.Join(prompts.Languages(), ", "))
			}
			lang = l
		}
		a.Language = lang
	}
	if in.Mode != nil {
		m := tfps.Mode(*in.Mode)
		if !m.Valid() {
			return invalid("mode", "%q is not enforce, monitor or empty (the gateway's TFPS_MODE)", *in.Mode)
		}
		a.Mode = m
	}
	if in.Timezone != nil {
		if *in.Timezone != "" {
			if _, err := time.LoadLocation(*in.Timezone); err != nil || *in.Timezone == "Local" {
				return invalid("timezone", "%q is not an IANA time zone such as Europe/Madrid", *in.Timezone)
			}
		}
		a.Timezone = *in.Timezone
	}
	if in.BusinessHours != nil {
		if *in.BusinessHours != "" {
			if _, err := bizhours.Parse(*in.BusinessHours); err != nil {
				return invalid("business_hours", "%v", err)
			}
		}
		a.BusinessHours = *in.BusinessHours
	}
	if in.Profile != nil {
		if err := text("profile", *in.Profile, 64, false); err != nil {
			return err
		}
		a.Profile = *in.Profile
	}
	if in.HomeCountry != nil {
		a.HomeCountry = ""
		if *in.HomeCountry != "" {
			cc, err := country("home_country", *in.HomeCountry)
			if err != nil {
				return err
			}
			a.HomeCountry = cc
		}
	}
	return nil
}

// CreateAccount adds an account with the configured defaults for every
// field not given.
func (s *Local) CreateAccount(ctx context.Context, in *AccountInput) (*Account, error) {
	if err := account(in.User, in.Domain); err != nil {
		return nil, err
	}
	a := &tfps.Account{User: in.User, Domain: in.Domain}
	if c := s.Config; c != nil {
		a.ConcurrentCalls, a.ConcurrentCallsOff = c.DefaultConcurrentCalls, c.DefaultConcurrentCallsOff
		a.DailyQuota, a.DailyQuotaOff = c.DefaultQuota, c.DefaultQuotaOff
		a.SourceCountries = slices.Clone(c.DefaultSourceCountries)
		a.DestinationCountries = slices.Clone(c.DefaultDestinationCountries)
	}
	if err := s.apply(a, in); err != nil {
		return nil, err
	}
	if err := s.Store.CreateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.refresh(ctx)
	return s.withUsage(ctx, apiAccount(a))
}

// change reads, modifies and writes one account in a transaction, then
// refreshes the engine's cache so the change applies to the next call.
func (s *Local) change(ctx context.Context, user, domain string, fn func(a *tfps.Account) error) (*Account, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	out, err := s.Store.ChangeAccount(ctx, user, domain, fn)
	if err != nil {
		return nil, err
	}
	s.refresh(ctx)
	return s.withUsage(ctx, apiAccount(out))
}

// refresh makes an admin change apply at once in this process (other
// gateways notice the change version within TFPS_ENGINE_CACHE_REFRESH).
func (s *Local) refresh(ctx context.Context) {
	if s.Engine != nil {
		// A failed refresh is retried by the engine's watcher; the change
		// itself is stored.
		_ = s.Engine.Refresh(ctx)
	}
}

// UpdateAccount changes the fields set in in.
func (s *Local) UpdateAccount(ctx context.Context, user, domain string, in *AccountInput) (*Account, error) {
	if (in.User != "" && in.User != user) || (in.Domain != "" && in.Domain != domain) {
		return nil, invalid("user", "an account can not be renamed (%s@%s in the body, %s@%s in the path)", in.User, in.Domain, user, domain)
	}
	return s.change(ctx, user, domain, func(a *tfps.Account) error { return s.apply(a, in) })
}

// DeleteAccount removes the account (tfpsctl remove).
func (s *Local) DeleteAccount(ctx context.Context, user, domain string) error {
	if err := account(user, domain); err != nil {
		return err
	}
	if err := s.Store.DeleteAccount(ctx, user, domain); err != nil {
		return err
	}
	s.refresh(ctx)
	return nil
}

// SetBlocked blocks or unblocks the account.
func (s *Local) SetBlocked(ctx context.Context, user, domain string, blocked bool) (*Account, error) {
	return s.change(ctx, user, domain, func(a *tfps.Account) error {
		a.Blocked = blocked
		return nil
	})
}

// ResetAccount clears today's daily counters of the account.
func (s *Local) ResetAccount(ctx context.Context, user, domain string) (*Account, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	a, err := s.Store.GetAccount(ctx, user, domain)
	if err != nil {
		return nil, err
	}
	if err := s.State.ResetDaily(ctx, user, domain, s.today(apiAccount(a))); err != nil {
		return nil, fmt.Errorf("reset account %s@%s: %w", user, domain, err)
	}
	return s.withUsage(ctx, apiAccount(a))
}

func countryList(a *tfps.Account, dir Direction) *[]string {
	if dir == Source {
		return &a.SourceCountries
	}
	return &a.DestinationCountries
}

// AllowCountry adds cc to a country list of the account.
func (s *Local) AllowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error) {
	if err := direction(dir); err != nil {
		return nil, err
	}
	cc, err := country("country", cc)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, user, domain, func(a *tfps.Account) error {
		if l := countryList(a, dir); !slices.Contains(*l, cc) {
			*l = append(*l, cc)
		}
		return nil
	})
}

// DisallowCountry removes cc from a country list of the account.
func (s *Local) DisallowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error) {
	if err := direction(dir); err != nil {
		return nil, err
	}
	cc, err := country("country", cc)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, user, domain, func(a *tfps.Account) error {
		l := countryList(a, dir)
		*l = slices.DeleteFunc(*l, func(v string) bool { return v == cc })
		return nil
	})
}

func blacklistKind(kind string, optional bool) (tfps.BlacklistKind, error) {
	k := tfps.BlacklistKind(kind)
	if (optional && k == "") || k.Valid() {
		return k, nil
	}
	return "", invalid("kind", "%q is not one of user_agent, ip, number", kind)
}

func apiEntry(e tfps.BlacklistEntry) BlacklistEntry {
	return BlacklistEntry{ID: e.ID, Kind: string(e.Kind), Value: e.Value, Note: e.Note, CreatedAt: e.CreatedAt}
}

// ListBlacklist returns entries of one kind or all.
func (s *Local) ListBlacklist(ctx context.Context, kind string) ([]BlacklistEntry, error) {
	k, err := blacklistKind(kind, true)
	if err != nil {
		return nil, err
	}
	list, err := s.Store.ListBlacklist(ctx, k)
	if err != nil {
		return nil, err
	}
	out := make([]BlacklistEntry, 0, len(list))
	for _, e := range list {
		out = append(out, apiEntry(e))
	}
	return out, nil
}

// AddBlacklist adds an entry (the value is normalised: masked CIDR, digits).
func (s *Local) AddBlacklist(ctx context.Context, in *BlacklistEntry) (*BlacklistEntry, error) {
	k, err := blacklistKind(in.Kind, false)
	if err != nil {
		return nil, err
	}
	if err := text("note", in.Note, 1024, false); err != nil {
		return nil, err
	}
	e := tfps.BlacklistEntry{Kind: k, Value: in.Value, Note: in.Note}
	if err := s.Store.AddBlacklist(ctx, &e); err != nil {
		return nil, err
	}
	s.refresh(ctx)
	out := apiEntry(e)
	return &out, nil
}

// RemoveBlacklist deletes the entry of kind and value.
func (s *Local) RemoveBlacklist(ctx context.Context, kind, value string) error {
	k, err := blacklistKind(kind, false)
	if err != nil {
		return err
	}
	if err := s.Store.RemoveBlacklist(ctx, k, value); err != nil {
		return err
	}
	s.refresh(ctx)
	return nil
}

// Decisions reads the decision log.
func (s *Local) Decisions(ctx context.Context, q DecisionQuery) ([]Decision, error) {
	if (q.User == "") != (q.Domain == "") {
		return nil, invalid("user", "user and domain go together")
	}
	for _, f := range [...]struct{ name, v string }{{"user", q.User}, {"domain", q.Domain}, {"call_id", q.CallID}} {
		if err := text(f.name, f.v, maxField, false); err != nil {
			return nil, err
		}
	}
	if q.AfterID < 0 {
		return nil, invalid("after_id", "%d is negative", q.AfterID)
	}
	if q.Limit < 0 || q.Limit > tfps.MaxPageSize {
		return nil, invalid("limit", "%d is outside 0..%d", q.Limit, tfps.MaxPageSize)
	}
	rows, err := s.Store.Decisions(ctx, store.DecisionFilter{User: q.User, Domain: q.Domain, CallID: q.CallID, AfterID: q.AfterID, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]Decision, 0, len(rows))
	for _, r := range rows {
		out = append(out, Decision{
			ID: r.ID, At: r.At, CallID: r.CallID, SourceIP: r.SourceIP, Caller: r.Caller, Number: r.Number,
			UserAgent: r.UserAgent, AbuseScore: r.AbuseScore, User: r.User, Domain: r.Domain, Result: r.Result,
			Code: r.Code, Reason: r.Reason, Flow: r.Flow, Ticket: r.Ticket, OffHours: r.OffHours,
			ConcurrentCalls: r.ConcurrentCalls, SourceCountry: r.SourceCountry, DestinationCountry: r.DestinationCountry,
			Transport: r.Transport, LatencyMicros: r.LatencyMicros, Enforced: r.Enforced,
		})
	}
	return out, nil
}

// maxBadRows bounds the bad rows one refused import lists.
const maxBadRows = 20

func apiRange(r tfps.NumberRange) Range {
	return Range{Prefix: r.Prefix, Level: string(r.Level), Source: r.Source, Comment: r.Comment, CreatedAt: r.CreatedAt}
}

// ListRanges returns every high-risk number range.
func (s *Local) ListRanges(ctx context.Context) ([]Range, error) {
	list, err := s.Store.ListRanges(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Range, 0, len(list))
	for _, r := range list {
		out = append(out, apiRange(r))
	}
	return out, nil
}

// PutRanges checks every row first (all bad rows are reported, by row
// number and field) and writes them in one transaction, then reloads the
// engine's copy so the next call sees them.
func (s *Local) PutRanges(ctx context.Context, in []Range) ([]Range, error) {
	if len(in) == 0 {
		return nil, invalid("body", "no ranges given")
	}
	ranges := make([]tfps.NumberRange, len(in))
	var bad []string
	seen := map[string]int{}
	for i, r := range in {
		nr := tfps.NumberRange{Prefix: r.Prefix, Level: tfps.RangeLevel(r.Level), Source: r.Source, Comment: r.Comment}
		err := tfps.NormalizeRange(&nr)
		switch first, dup := seen[nr.Prefix]; {
		case err != nil:
			bad = append(bad, fmt.Sprintf("row %d: %s", i+1, tfps.ErrorMessage(err)))
		case dup:
			bad = append(bad, fmt.Sprintf("row %d: prefix: %s repeats row %d", i+1, nr.Prefix, first))
		default:
			seen[nr.Prefix] = i + 1
		}
		ranges[i] = nr
	}
	if len(bad) > 0 {
		if len(bad) > maxBadRows {
			bad = append(bad[:maxBadRows], fmt.Sprintf("... and %d more bad rows", len(bad)-maxBadRows))
		}
		return nil, tfps.Errorf(tfps.EINVALID, "%d bad row(s), nothing imported:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	if err := s.Store.PutRanges(ctx, ranges); err != nil {
		return nil, err
	}
	s.refresh(ctx)
	out := make([]Range, 0, len(ranges))
	for _, r := range ranges {
		r.CreatedAt = time.Time{} // a replaced range keeps its first time: GET shows it
		out = append(out, apiRange(r))
	}
	return out, nil
}

// RemoveRange deletes one range. The accounts' verifications of it are
// kept: loaded again, the range does not ask them again.
func (s *Local) RemoveRange(ctx context.Context, prefix string) error {
	if err := text("prefix", prefix, 64, true); err != nil {
		return err
	}
	if err := s.Store.RemoveRange(ctx, prefix); err != nil {
		return err
	}
	s.refresh(ctx)
	return nil
}
