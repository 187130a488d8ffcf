package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/bizhours"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Monday 23 November 2026, 10:00 in New York: business hours by the TFPS
// default schedule (09:00-17:00 America/New_York, Monday to Friday).
var (
	ny       = mustLoc("America/New_York")
	inHours  = time.Date(2026, 11, 23, 10, 0, 0, 0, ny)
	offHours = time.Date(2026, 11, 23, 20, 0, 0, 0, ny)
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Source addresses, by the embedded iploc table.
var (
	ipUS      = netip.MustParseAddr("8.8.8.8")
	ipGB      = netip.MustParseAddr("81.2.69.142")
	ipNoCC    = netip.MustParseAddr("192.0.2.1") // TEST-NET-1: public, no country
	ipPrivate = netip.MustParseAddr("192.168.1.10")
	ipBad     = netip.MustParseAddr("2.2.2.2") // US; the test reputation scores it 90
	ipListed  = netip.MustParseAddr("5.5.5.5") // DE; the test reputation says APIBAN lists it
)

// testReputation is the local table plus two known bad addresses, standing
// in for the AbuseIPDB/APIBAN clients.
type testReputation struct{ calls atomic.Int64 }

func (r *testReputation) Lookup(ctx context.Context, a netip.Addr) (reputation.Report, error) {
	r.calls.Add(1)
	rep, err := reputation.Local{}.Lookup(ctx, a)
	switch a {
	case ipBad:
		rep.AbuseScore, rep.Source = 90, "abuseipdb"
	case ipListed:
		rep.Listed, rep.Source = true, "apiban"
	}
	return rep, err
}

type rig struct {
	eng   *engine.Engine
	db    *store.Store
	st    *state.State
	rep   *testReputation
	opts  engine.Options
	close func() error
}

func schedule(t testing.TB, s string) *bizhours.Schedule {
	t.Helper()
	b, err := bizhours.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func baseOptions(t testing.TB) engine.Options {
	return engine.Options{
		BusinessHours:        schedule(t, config.DefaultBusinessHours),
		DestinationBlacklist: []string{"CU"},
		DefaultHome:          "US",
		BuiltinUserAgents:    true,
		ABRepeatLimit:        5, // TFPS's limit: the cases below count on it
		CacheRefresh:         10 * time.Millisecond,
		LogFlush:             5 * time.Millisecond,
	}
}

// newRig starts an engine on a fresh store of dialect and a fresh Redis prefix.
func newRig(t testing.TB, dialect string, opts engine.Options) *rig {
	t.Helper()
	db := storetest.MustOpen(t, dialect)
	st := statetest.MustOpen(t)
	return newRigOn(t, db, st, opts)
}

func newRigOn(t testing.TB, db *store.Store, st *state.State, opts engine.Options) *rig {
	t.Helper()
	rep := &testReputation{}
	eng, err := engine.New(context.Background(), engine.Deps{
		Accounts: db, Lists: db, Changes: db, Log: db,
		Counters: state.NewDecideCounters(st), Reputation: rep, Ranges: db, Domains: db,
		Rules: db, Calls: state.NewDecideCounters(st),
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{eng: eng, db: db, st: st, rep: rep, opts: opts}
	var closed atomic.Bool
	r.close = func() error {
		if closed.Swap(true) {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return eng.Close(ctx)
	}
	t.Cleanup(func() { r.close() })
	return r
}

// newRigReading is a rig on db whose engine reads the accounts through accts
// (a wrapper of db that counts the reads) and keeps no Redis of the rig's.
func newRigReading(t testing.TB, db *store.Store, accts engine.Accounts, opts engine.Options) *rig {
	t.Helper()
	eng, err := engine.New(context.Background(), engine.Deps{
		Accounts: accts, Lists: db, Changes: db, Log: db,
		Counters: state.NewDecideCounters(statetest.MustOpen(t)), Reputation: &testReputation{},
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return &rig{eng: eng, db: db}
}

// account 1001@pbx.example: calls from the US to the US and GB, 2 concurrent
// calls and 3 a day in hours, 1 and 1 off hours.
func (r *rig) account(t testing.TB, user string, edit func(a *tfps.Account)) {
	t.Helper()
	a := &tfps.Account{
		User: user, Domain: "pbx.example", ConcurrentCalls: 2, ConcurrentCallsOff: 1, DailyQuota: 3, DailyQuotaOff: 1,
		SourceCountries: []string{"US"}, DestinationCountries: []string{"US", "GB"}, HomeCountry: "US",
	}
	if edit != nil {
		edit(a)
	}
	if err := r.db.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
}

func (r *rig) blacklist(t testing.TB, kind tfps.BlacklistKind, v string) {
	t.Helper()
	if err := r.db.AddBlacklist(context.Background(), &tfps.BlacklistEntry{Kind: kind, Value: v, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
}

func (r *rig) refresh(t testing.TB) {
	t.Helper()
	if err := r.eng.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var callSeq atomic.Int64

// call is an approvable call of 1001@pbx.example at 10:00 New York time.
func call(edit ...func(c *engine.Call)) engine.Call {
	c := engine.Call{
		User: "1001", Domain: "pbx.example", SourceIP: ipUS, UserAgent: "Yealink SIP-T46U 66.86.0.15",
		ConcurrentCalls: 1, Number: "+442079460000", Caller: "+12125550100",
		CallID: "call-" + strconv.FormatInt(callSeq.Add(1), 10), FromTag: "tag", Time: inHours, Transport: "sip",
	}
	for _, e := range edit {
		e(&c)
	}
	return c
}

func (r *rig) decide(t testing.TB, c engine.Call) engine.Decision {
	t.Helper()
	d, err := r.eng.Decide(context.Background(), c)
	if err != nil {
		t.Fatalf("Decide(%+v): %v", c, err)
	}
	return d
}

type codeCase struct {
	name    string
	setup   func(t *testing.T, r *rig)
	call    engine.Call
	code    engine.Code
	country string // verify: the country the flow adds
}

// caseRange is the number range the tickets of the range cases carry.
var caseRange = map[engine.Code]string{engine.V06: "4420794", engine.V07: "44207946"}

// codeCases hit every emitted code of the published table.
func codeCases() []codeCase {
	user := func(u string) func(c *engine.Call) { return func(c *engine.Call) { c.User = u } }
	return []codeCase{
		{"A00 approved", nil, call(), engine.A00, ""},
		{"A00 private source skips reputation and source country", nil, call(func(c *engine.Call) { c.SourceIP = ipPrivate }), engine.A00, ""},
		{"A00 national number read with the home country", nil, call(func(c *engine.Call) { c.Number = "(201) 555-0123" }), engine.A00, ""},
		{"R12 injection in the user", nil, call(user("1001' OR '1'='1")), engine.R12, ""},
		{"R12 SQL comment in the number", nil, call(func(c *engine.Call) { c.Number = "4420--" }), engine.R12, ""},
		{"R01 builtin scanner pattern", nil, call(func(c *engine.Call) { c.UserAgent = "friendly-scanner" }), engine.R01, ""},
		{"R01 operator pattern", func(t *testing.T, r *rig) { r.blacklist(t, tfps.BlacklistUserAgent, "^BadPhone/") },
			call(func(c *engine.Call) { c.UserAgent = "badphone/2.1" }), engine.R01, ""},
		{"R14 operator CIDR", func(t *testing.T, r *rig) { r.blacklist(t, tfps.BlacklistIP, "8.8.8.0/24") }, call(), engine.R14, ""},
		{"R14 operator single address, IPv4-mapped source", func(t *testing.T, r *rig) { r.blacklist(t, tfps.BlacklistIP, "8.8.4.4") },
			call(func(c *engine.Call) { c.SourceIP = netip.MustParseAddr("::ffff:8.8.4.4") }), engine.R14, ""},
		{"R02 abuse score", nil, call(func(c *engine.Call) { c.SourceIP = ipBad }), engine.R02, ""},
		{"R15 APIBAN listed", nil, call(func(c *engine.Call) { c.SourceIP = ipListed }), engine.R15, ""},
		{"R03 number prefix", func(t *testing.T, r *rig) { r.blacklist(t, tfps.BlacklistNumber, "4420794") }, call(), engine.R03, ""},
		{"R03 number prefix, number dialled with 011", func(t *testing.T, r *rig) { r.blacklist(t, tfps.BlacklistNumber, "+4420794") },
			call(func(c *engine.Call) { c.Number = "011 44 20 7946 0000" }), engine.R03, ""},
		{"R13 sixth attempt to the same number trips", func(t *testing.T, r *rig) {
			for range 5 {
				if d := r.decide(t, call()); d.Code != engine.A00 && d.Code != engine.V04 {
					t.Fatalf("setup call: %s %s", d.Code, d.Reason)
				}
			}
		}, call(), engine.R13, ""},
		{"R16 pair stays blocked", func(t *testing.T, r *rig) {
			for range 6 {
				r.decide(t, call())
			}
		}, call(func(c *engine.Call) { c.Time = inHours.Add(59 * time.Minute) }), engine.R16, ""},
		{"V01 unknown account", nil, call(user("9999")), engine.V01, ""},
		{"R17 blocked account", func(t *testing.T, r *rig) { r.account(t, "blocked", func(a *tfps.Account) { a.Blocked = true }) },
			call(user("blocked")), engine.R17, ""},
		{"R18 failed verifications", func(t *testing.T, r *rig) {
			for i := range 3 {
				if _, err := r.st.RecordVerifyFailure(context.Background(), "1001", "pbx.example", fmt.Sprint("f", i), inHours.Add(-time.Duration(i+1)*time.Minute), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}, call(), engine.R18, ""},
		{"R18 unknown account that failed its onboarding: no new ticket", func(t *testing.T, r *rig) {
			for i := range 3 {
				if _, err := r.st.RecordVerifyFailure(context.Background(), "9999", "pbx.example", fmt.Sprint("f", i), inHours.Add(-time.Duration(i+1)*time.Minute), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}, call(user("9999")), engine.R18, ""},
		{"R22 three verifications of the account unanswered", func(t *testing.T, r *rig) {
			for i := range 3 {
				if d := r.decide(t, call(func(c *engine.Call) {
					c.Number = "0033142278186"
					c.Time = inHours.Add(time.Duration(i-3) * time.Second)
				})); d.Code != engine.V03 {
					t.Fatalf("setup call %d: %s %s", i, d.Code, d.Reason)
				}
			}
		}, call(func(c *engine.Call) { c.Number = "0033142278186" }), engine.R22, ""},
		{"R22 three verifications from the source address unanswered", func(t *testing.T, r *rig) {
			for i := range 3 {
				if d := r.decide(t, call(user(fmt.Sprint("new", i)))); d.Code != engine.V01 {
					t.Fatalf("setup call %d: %s %s", i, d.Code, d.Reason)
				}
			}
		}, call(user("new9")), engine.R22, ""},
		{"R05 public source without country", nil, call(func(c *engine.Call) { c.SourceIP = ipNoCC }), engine.R05, ""},
		{"V02 new source country", nil, call(func(c *engine.Call) { c.SourceIP = ipGB }), engine.V02, "GB"},
		{"R07 number without country", nil, call(func(c *engine.Call) { c.Number = "+800 1234 5678" }), engine.R07, ""},
		{"R06 destination blacklisted", nil, call(func(c *engine.Call) { c.Number = "011 53 7 8301234" }), engine.R06, "CU"},
		{"V03 new destination country", nil, call(func(c *engine.Call) { c.Number = "0033142278186" }), engine.V03, "FR"},
		{"V10 number only read as international without a prefix", nil, call(func(c *engine.Call) { c.Number = "34 912 345 678" }), engine.V10, "ES"},
		{"V08 concurrent calls in hours, limit action verify", nil, call(func(c *engine.Call) { c.ConcurrentCalls = 3 }), engine.V08, ""},
		{"V09 concurrent calls off hours, limit action verify", nil, call(func(c *engine.Call) { c.ConcurrentCalls = 2; c.Time = offHours }), engine.V09, ""},
		{"R10 concurrent calls in hours", nil, call(func(c *engine.Call) { c.ConcurrentCalls = 3 }), engine.R10, ""},
		{"R08 concurrent calls off hours", nil, call(func(c *engine.Call) { c.ConcurrentCalls = 2; c.Time = offHours }), engine.R08, ""},
		{"V04 daily quota in hours", func(t *testing.T, r *rig) {
			for i := range 3 {
				if d := r.decide(t, call(func(c *engine.Call) { c.Number = "+4420794600" + strconv.Itoa(10+i) })); d.Code != engine.A00 {
					t.Fatalf("setup call %d: %s %s", i, d.Code, d.Reason)
				}
			}
		}, call(), engine.V04, ""},
		{"V05 daily quota off hours", func(t *testing.T, r *rig) {
			if d := r.decide(t, call(func(c *engine.Call) { c.Time = offHours; c.Number = "+442079460099" })); d.Code != engine.A00 {
				t.Fatalf("setup call: %s %s", d.Code, d.Reason)
			}
		}, call(func(c *engine.Call) { c.Time = offHours.Add(time.Minute) }), engine.V05, ""},
		{"R21 number in a reject range", func(t *testing.T, r *rig) {
			r.ranges(t, tfps.NumberRange{Prefix: "+44207946", Level: tfps.RangeReject})
		}, call(), engine.R21, ""},
		{"V06 number in a verify range", func(t *testing.T, r *rig) {
			r.ranges(t, tfps.NumberRange{Prefix: "4420794", Level: tfps.RangeVerify})
		}, call(), engine.V06, ""},
		{"V07 range hopping", func(t *testing.T, r *rig) {
			r.account(t, "hopper", func(a *tfps.Account) { a.DailyQuota = 100 })
			for i := range 10 {
				if d := r.decide(t, call(func(c *engine.Call) { c.User = "hopper"; c.Number = fmt.Sprintf("+4420794610%02d", i) })); d.Code != engine.A00 {
					t.Fatalf("setup call %d: %s %s", i, d.Code, d.Reason)
				}
			}
		}, call(func(c *engine.Call) { c.User = "hopper"; c.Number = "+442079461099" }), engine.V07, ""},
		{"R23 unknown user of a domain that rejects them", func(t *testing.T, r *rig) {
			if err := r.db.PutDomain(context.Background(), &tfps.Domain{Domain: "closed.example", Unknown: tfps.UnknownReject}); err != nil {
				t.Fatal(err)
			}
			r.refresh(t)
		}, call(func(c *engine.Call) { c.User = "stranger"; c.Domain = "closed.example" }), engine.R23, ""},
		{"R20 fraud rule critical threshold", func(t *testing.T, r *rig) {
			r.account(t, "ruled", func(a *tfps.Account) { a.Profile = "p" })
			r.rules(t, tfps.Rule{Profile: "p", CPMCritical: 1})
		}, call(user("ruled")), engine.R20, ""},
		{"V11 fraud rule warning that verifies", func(t *testing.T, r *rig) {
			r.account(t, "ruled", func(a *tfps.Account) { a.Profile = "p" })
			r.rules(t, tfps.Rule{Profile: "p", CPMWarning: 1, WarningAction: tfps.RuleWarningVerify})
		}, call(user("ruled")), engine.V11, ""},
	}
}

func (r *rig) rules(t testing.TB, rs ...tfps.Rule) {
	t.Helper()
	if err := r.db.PutRules(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
}

func (r *rig) ranges(t testing.TB, rs ...tfps.NumberRange) {
	t.Helper()
	if err := r.db.PutRanges(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
}

// TestEveryCode runs each case on a fresh engine (fresh Redis prefix, fresh
// database) and checks the code, the deciding check, the verify ticket as the
// IVR will claim it, and the decision-log row.
func TestEveryCode(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := statetest.MustOpen(t)
			hit := map[engine.Code]bool{}
			for i, tc := range codeCases() {
				t.Run(tc.name, func(t *testing.T) {
					db := storetest.MustOpen(t, dialect)
					// Each case on its own key prefix, sharing the connection.
					cst := state.New(st.Client(), state.Options{Prefix: st.Keys().Prefix() + strconv.Itoa(i) + ":", Timeout: 2 * time.Second})
					opts := baseOptions(t)
					if tc.code == engine.R10 || tc.code == engine.R08 {
						opts.LimitAction = engine.LimitReject
					}
					r := newRigOn(t, db, cst, opts)
					r.account(t, "1001", nil)
					if tc.setup != nil {
						tc.setup(t, r)
					}
					d := r.decide(t, tc.call)
					if d.Code != tc.code {
						t.Fatalf("code %s (%s, check %q), want %s", d.Code, d.Reason, d.Check, tc.code)
					}
					hit[d.Code] = true
					info := tc.code.Info()
					if d.Result != info.Result || d.Check != info.Check || d.Reason == "" {
						t.Errorf("decision %+v: want result %s, check %q and a reason", d, info.Result, info.Check)
					}
					if d.Result == engine.Verify {
						checkTicket(t, r, d, tc, info.Flow)
					} else if d.Ticket != "" || d.Flow != "" {
						t.Errorf("%s decision carries flow %q ticket %q", d.Result, d.Flow, d.Ticket)
					}
					if wantOff := !r.opts.BusinessHours.InHours(tc.call.Time); d.Facts.OffHours != wantOff || d.Facts.LocalDate == "" {
						t.Errorf("facts off hours %v, local date %q; want %v and a date whichever check decided", d.Facts.OffHours, d.Facts.LocalDate, wantOff)
					}
					if tc.country != "" && d.Facts.DestinationCountry != tc.country && d.Facts.SourceCountry != tc.country {
						t.Errorf("facts %+v do not name %s", d.Facts, tc.country)
					}
					if err := r.close(); err != nil {
						t.Fatal(err)
					}
					rows, err := db.Decisions(context.Background(), store.DecisionFilter{CallID: tc.call.CallID})
					if err != nil {
						t.Fatal(err)
					}
					if len(rows) != 1 || rows[0].Code != tc.code.String() || rows[0].Result != d.Result.String() || rows[0].Ticket != d.Ticket ||
						rows[0].Transport != "sip" || rows[0].OffHours != d.Facts.OffHours || rows[0].Reason != d.Reason ||
						rows[0].SourceCountry != d.Facts.SourceCountry || rows[0].DestinationCountry != d.Facts.DestinationCountry || !rows[0].At.Equal(tc.call.Time) {
						t.Errorf("decision log for %s: %+v, want one %s row", tc.call.CallID, rows, tc.code)
					}
				})
			}
			for _, info := range engine.Codes() {
				if !info.Reserved && info.Code != engine.R19 && info.Code != engine.A01 && !hit[info.Code] {
					t.Errorf("no case hits %s (%s)", info.Code, info.Meaning)
				}
			}
		})
	}
}

func checkTicket(t *testing.T, r *rig, d engine.Decision, tc codeCase, flow engine.Flow) {
	t.Helper()
	if d.Flow != flow || d.Country != tc.country || d.Ticket == "" {
		t.Fatalf("verify decision flow %q country %q ticket %q; want flow %q country %q and a ticket", d.Flow, d.Country, d.Ticket, flow, tc.country)
	}
	tk, err := r.st.ClaimTicket(context.Background(), d.Ticket, tc.call.Time.Add(time.Second))
	if err != nil {
		t.Fatalf("IVR claims ticket %s: %v", d.Ticket, err)
	}
	want := engine.Ticket{ID: d.Ticket, Flow: flow, Code: d.Code, User: tc.call.User, Domain: tc.call.Domain,
		Country: tc.country, Range: caseRange[tc.code], Number: tc.call.Number, Caller: tc.call.Caller, SourceIP: tc.call.SourceIP.String(),
		SourceCountry: d.Facts.SourceCountry, UserAgent: tc.call.UserAgent, CallID: tc.call.CallID}
	switch d.Code {
	case engine.V08, engine.V09:
		want.Observed = tc.call.ConcurrentCalls
	case engine.V04, engine.V05:
		want.Observed = d.Facts.DailyLimit + 1
	case engine.V07:
		want.Observed = 11 // the eleventh distinct number of the range, over the default limit of 10
	case engine.V11:
		// The rule, the statistic and its value: what a pass proves.
		want.Observed, want.RuleStat = 1, "cpm" // the first call at a cpm warning of 1
		if d.Rule != nil {
			want.Rule = d.Rule.ID
		}
	}
	got := tk
	got.Created, got.Expires, got.Claimed = time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("ticket %+v, want %+v", got, want)
	}
	if !tk.Expires.Equal(tc.call.Time.Add(120 * time.Second)) {
		t.Errorf("ticket expires %s, want 120 s after the call", tk.Expires)
	}
	if _, err := r.st.ClaimTicket(context.Background(), d.Ticket, tc.call.Time.Add(2*time.Second)); !errors.Is(err, engine.ErrTicketUsed) {
		t.Errorf("second claim: %v, want ErrTicketUsed", err)
	}
}

// The error policy answers R19 or A01 when Redis is down, or returns the error.
func TestErrorPolicy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		policy engine.ErrorPolicy
		code   engine.Code
	}{{engine.ErrorReject, engine.R19}, {engine.ErrorApprove, engine.A01}, {engine.ErrorReturn, 0}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			db := storetest.MustOpen(t, store.SQLite)
			st := state.New(redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1}), state.Options{Timeout: 100 * time.Millisecond})
			t.Cleanup(func() { st.Close() })
			opts := baseOptions(t)
			opts.ErrorPolicy = tc.policy
			r := newRigOn(t, db, st, opts)
			r.account(t, "1001", nil)
			d, err := r.eng.Decide(context.Background(), call())
			if tc.code == 0 {
				if !errors.Is(err, engine.ErrDependency) || !errors.Is(err, state.ErrUnavailable) {
					t.Fatalf("Decide = %+v, %v; want an error wrapping ErrDependency and state.ErrUnavailable", d, err)
				}
				return
			}
			if err != nil || d.Code != tc.code || !errors.Is(d.Err, state.ErrUnavailable) || d.Reason != "not checked: counters unavailable" {
				t.Fatalf("Decide = %s (%s), %v, Err %v; want %s carrying state.ErrUnavailable, reason naming only the dependency", d.Code, d.Reason, err, d.Err, tc.code)
			}
			// A check that decides before any Redis step still decides.
			d = r.decide(t, call(func(c *engine.Call) { c.UserAgent = "sipvicious" }))
			if d.Code != engine.R01 {
				t.Errorf("scanner with Redis down: %s, want R01", d.Code)
			}
		})
	}
}

func TestInvalidCall(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	for name, c := range map[string]engine.Call{
		"no user":     call(func(c *engine.Call) { c.User = "" }),
		"no number":   call(func(c *engine.Call) { c.Number = "" }),
		"no source":   call(func(c *engine.Call) { c.SourceIP = netip.Addr{} }),
		"no time":     call(func(c *engine.Call) { c.Time = time.Time{} }),
		"long caller": call(func(c *engine.Call) { c.Caller = string(make([]byte, 300)) }),
	} {
		if _, err := r.eng.Decide(context.Background(), c); tfps.ErrorCode(err) != tfps.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

// The open-ticket cap of a source address applies to public addresses
// only: the users of one office LAN or one PBX share a private address,
// and each account keeps its own cap.
func TestOpenTicketCapSparesPrivateSources(t *testing.T) {
	r := newRig(t, store.SQLite, baseOptions(t))
	user := func(u string) func(c *engine.Call) { return func(c *engine.Call) { c.User = u } }
	for i := range 5 {
		d := r.decide(t, call(user(fmt.Sprint("lan", i)), func(c *engine.Call) { c.SourceIP = ipPrivate }))
		if d.Code != engine.V01 || d.Ticket == "" {
			t.Fatalf("user %d behind the private address: %s %s, want V01 with a ticket", i, d.Code, d.Reason)
		}
	}
	for i := range 3 {
		if d := r.decide(t, call(user(fmt.Sprint("pub", i)))); d.Code != engine.V01 {
			t.Fatalf("user %d from the public address: %s %s, want V01", i, d.Code, d.Reason)
		}
	}
	if d := r.decide(t, call(user("pub9"))); d.Code != engine.R22 {
		t.Errorf("fourth new user from one public address: %s %s, want R22", d.Code, d.Reason)
	}
}
