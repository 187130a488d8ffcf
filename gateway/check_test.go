package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Source addresses the test reputation service knows; any other address
// gets the offline table's answer.
var (
	ipUS      = "8.8.8.8" // offline table: US
	ipGB      = "81.2.69.142"
	ipBad     = "198.51.100.66"
	ipListed  = "198.51.100.77"
	ipNoCC    = "198.51.100.88"
	ipBroken  = "198.51.100.99"
	ipPrivate = "10.1.2.3"
)

// testReputation answers from a table before the offline one; ipBroken
// fails like an unreachable reputation service.
type testReputation struct{}

func (testReputation) Lookup(ctx context.Context, a netip.Addr) (reputation.Report, error) {
	switch a.String() {
	case ipGB:
		return reputation.Report{Country: "GB", Source: "test"}, nil
	case ipBad:
		return reputation.Report{Country: "US", AbuseScore: 90, Source: "abuseipdb"}, nil
	case ipListed:
		return reputation.Report{Country: "US", Listed: true, Source: "apiban"}, nil
	case ipNoCC:
		return reputation.Report{Source: "test"}, nil
	case ipBroken:
		return reputation.Report{}, errors.New("reputation service timed out")
	}
	return reputation.Local{}.Lookup(ctx, a)
}

// Monday 10:00 and Sunday 10:00 in New York (the default business hours are
// Monday to Friday 09:00-17:00 there).
var (
	inHours  = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	offHours = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
)

// testClock is the gateway's clock in a test.
type testClock struct{ t atomic.Pointer[time.Time] }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}
func (c *testClock) set(t time.Time)     { c.t.Store(&t) }
func (c *testClock) now() time.Time      { return *c.t.Load() }
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }

func withClock(c *testClock) func(m *gateway.Main) {
	return func(m *gateway.Main) { m.Now = c.now; m.Reputation = testReputation{} }
}

var seq atomic.Int64

// checkReq is an approvable request of user@pbx.example from a US address
// to a US number.
func checkReq(user string, edit ...func(r *api.CheckRequest)) *api.CheckRequest {
	one := 1
	r := &api.CheckRequest{
		User: user, Domain: "pbx.example", SourceIP: ipUS, UserAgent: "Yealink SIP-T46U 66.86.0.15",
		ConcurrentCalls: &one, Number: "+12015550123", Caller: "+12125550100",
		CallID: "http-" + strconv.FormatInt(seq.Add(1), 10),
	}
	for _, e := range edit {
		e(r)
	}
	return r
}

func mustCheck(t *testing.T, c *api.Client, r *api.CheckRequest) *api.CheckResponse {
	t.Helper()
	res, err := c.Check(context.Background(), r)
	if err != nil {
		t.Fatalf("check %+v: %v", r, err)
	}
	return res
}

// newAccount creates user@pbx.example through the API: 2 concurrent calls
// in hours, 1 off hours, daily quota 3 in hours and 1 off hours, US only.
func newAccount(t testing.TB, c *api.Client, user string, edit ...func(in *api.AccountInput)) *api.Account {
	t.Helper()
	two, one, three := 2, 1, 3
	us := []string{"US"}
	in := &api.AccountInput{User: user, Domain: "pbx.example", ConcurrentCalls: &two, ConcurrentCallsOff: &one,
		DailyQuota: &three, DailyQuotaOff: &one, SourceCountries: &us, DestinationCountries: &us}
	for _, e := range edit {
		e(in)
	}
	a, err := c.CreateAccount(context.Background(), in)
	if err != nil {
		t.Fatalf("create account %s: %v", user, err)
	}
	return a
}

type httpCase struct {
	name    string
	setup   func(t *testing.T, g *checkRig, user string)
	req     func(user string) *api.CheckRequest
	code    string
	country string
}

type checkRig struct {
	m     *gateway.Main
	c     *api.Client
	clock *testClock
}

func (g *checkRig) blacklist(t *testing.T, kind, value string) {
	t.Helper()
	if _, err := g.c.AddBlacklist(context.Background(), &api.BlacklistEntry{Kind: kind, Value: value}); err != nil {
		t.Fatal(err)
	}
}

// httpCases reach every emitted code of the published table through
// POST /v1/check. Each case has an account of its own.
func httpCases() []httpCase {
	req := func(edit ...func(r *api.CheckRequest)) func(user string) *api.CheckRequest {
		return func(user string) *api.CheckRequest { return checkReq(user, edit...) }
	}
	ip := func(a string) func(r *api.CheckRequest) { return func(r *api.CheckRequest) { r.SourceIP = a } }
	num := func(n string) func(r *api.CheckRequest) { return func(r *api.CheckRequest) { r.Number = n } }
	calls := func(n int) func(r *api.CheckRequest) { return func(r *api.CheckRequest) { r.ConcurrentCalls = &n } }
	off := func(t *testing.T, g *checkRig, user string) { g.clock.set(offHours) }
	return []httpCase{
		{"A00 approved", nil, req(), "A00", ""},
		{"A00 private source", nil, req(ip(ipPrivate)), "A00", ""},
		{"R12 injection in the user", nil, func(user string) *api.CheckRequest { return checkReq(user + "' OR '1'='1") }, "R12", ""},
		{"R01 operator user-agent pattern", func(t *testing.T, g *checkRig, user string) { g.blacklist(t, "user_agent", "^BadPhone/") },
			req(func(r *api.CheckRequest) { r.UserAgent = "BadPhone/2.1" }), "R01", ""},
		{"R14 operator CIDR", func(t *testing.T, g *checkRig, user string) { g.blacklist(t, "ip", "203.0.113.0/24") }, req(ip("203.0.113.9")), "R14", ""},
		{"R02 abuse score", nil, req(ip(ipBad)), "R02", ""},
		{"R15 listed by APIBAN", nil, req(ip(ipListed)), "R15", ""},
		{"R03 number prefix", func(t *testing.T, g *checkRig, user string) { g.blacklist(t, "number", "1900") }, req(num("+19005550100")), "R03", ""},
		{"R13 fourth attempt trips the pair", func(t *testing.T, g *checkRig, user string) {
			for range 3 { // from another address: the quota verifications they may cause stay unanswered
				mustCheck(t, g.c, checkReq(user, num("+12015550999"), calls(0), ip(ipPrivate)))
			}
		}, req(num("+12015550999")), "R13", ""},
		{"R16 pair stays blocked", func(t *testing.T, g *checkRig, user string) {
			for range 6 {
				mustCheck(t, g.c, checkReq(user, num("+12015550998"), ip(ipPrivate)))
			}
			g.clock.add(59 * time.Minute)
		}, req(num("+12015550998")), "R16", ""},
		{"V01 unknown account", func(t *testing.T, g *checkRig, user string) {
			if err := g.c.DeleteAccount(context.Background(), user, "pbx.example"); err != nil {
				t.Fatal(err)
			}
		}, req(), "V01", ""},
		{"R17 blocked account", func(t *testing.T, g *checkRig, user string) {
			if _, err := g.c.SetBlocked(context.Background(), user, "pbx.example", true); err != nil {
				t.Fatal(err)
			}
		}, req(), "R17", ""},
		{"R18 failed verifications", func(t *testing.T, g *checkRig, user string) {
			for i := range 4 {
				if _, err := g.m.State.RecordVerifyFailure(context.Background(), user, "pbx.example", fmt.Sprint("f", i), g.clock.now().Add(-time.Duration(i+1)*time.Minute), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}, req(), "R18", ""},
		{"R05 public source without country", nil, req(ip(ipNoCC)), "R05", ""},
		{"V02 new source country", nil, req(ip(ipGB)), "V02", "GB"},
		{"R07 number without country", nil, req(num("+80012345678")), "R07", ""},
		{"R06 destination blacklisted", nil, req(num("+5378301234")), "R06", ""},
		{"V03 new destination country", nil, req(num("+33142278186")), "V03", "FR"},
		{"V10 number read only as international", nil, req(num("34912345678")), "V10", "ES"},
		{"V08 concurrent calls in hours", nil, req(calls(3)), "V08", ""},
		{"V09 concurrent calls off hours", off, req(calls(2)), "V09", ""},
		{"V04 daily quota in hours", func(t *testing.T, g *checkRig, user string) {
			for i := range 3 {
				if res := mustCheck(t, g.c, checkReq(user, num(fmt.Sprintf("+1201555%04d", i)))); res.Code != "A00" {
					t.Fatalf("setup call %d: %s %s", i, res.Code, res.Reason)
				}
			}
		}, req(), "V04", ""},
		{"V05 daily quota off hours", func(t *testing.T, g *checkRig, user string) {
			g.clock.set(offHours)
			if res := mustCheck(t, g.c, checkReq(user, num("+12015550777"))); res.Code != "A00" {
				t.Fatalf("setup call: %s %s", res.Code, res.Reason)
			}
		}, req(), "V05", ""},
		{"R19 reputation down, error policy reject", nil, req(ip(ipBroken)), "R19", ""},
		{"R21 number in a reject range", putRange("+1201666", tfps.RangeReject), req(num("+12016660000")), "R21", ""},
		{"V06 number in a verify range", putRange("1201777", tfps.RangeVerify), req(num("+12017770000")), "V06", ""},
		{"V07 range hopping", func(t *testing.T, g *checkRig, user string) {
			big := 100
			if _, err := g.c.UpdateAccount(context.Background(), user, "pbx.example", &api.AccountInput{DailyQuota: &big}); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if res := mustCheck(t, g.c, checkReq(user, num(fmt.Sprintf("+120188800%02d", i)))); res.Code != "A00" {
					t.Fatalf("setup call %d: %s %s", i, res.Code, res.Reason)
				}
			}
		}, req(num("+12018880099")), "V07", ""},
		{"R22 three verifications unanswered", func(t *testing.T, g *checkRig, user string) {
			for i := range 3 {
				if res := mustCheck(t, g.c, checkReq(user, num(fmt.Sprintf("+3314227818%d", i)), ip("10.7.7.7"))); res.Code != "V03" {
					t.Fatalf("setup call %d: %s %s", i, res.Code, res.Reason)
				}
			}
		}, req(num("+33142278186"), ip("10.7.7.7")), "R22", ""},
		{"R23 unknown user of a domain that rejects them", func(t *testing.T, g *checkRig, user string) {
			reject := "reject"
			if _, err := g.c.UpdateDomain(context.Background(), "closed.example", &api.DomainInput{Unknown: &reject}); err != nil {
				t.Fatal(err)
			}
		}, req(func(r *api.CheckRequest) { r.Domain = "closed.example" }), "R23", ""},
		{"R20 fraud rule critical threshold", ruleOf(tfps.Rule{CPMCritical: 1}), req(), "R20", ""},
		{"V11 fraud rule warning that verifies", ruleOf(tfps.Rule{CPMWarning: 1, WarningAction: tfps.RuleWarningVerify}), req(), "V11", ""},
	}
}

// ruleOf puts r, in a profile named after the user, through the API and
// assigns the profile to the user's account.
func ruleOf(r tfps.Rule) func(t *testing.T, g *checkRig, user string) {
	return func(t *testing.T, g *checkRig, user string) {
		r.Profile = user
		if _, err := g.c.PutRules(context.Background(), []tfps.Rule{r}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.c.UpdateAccount(context.Background(), user, "pbx.example", &api.AccountInput{Profile: &user}); err != nil {
			t.Fatal(err)
		}
	}
}

// putRange loads a high-risk range through POST /v1/ranges, which applies
// it at once.
func putRange(prefix string, level tfps.RangeLevel) func(t *testing.T, g *checkRig, user string) {
	return func(t *testing.T, g *checkRig, user string) {
		if _, err := g.c.PutRanges(context.Background(), []api.Range{{Prefix: prefix, Level: string(level)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckEveryCode sends each case through POST /v1/check of a running
// gateway and finds the answer in the decision log; together the cases and
// TestCheckErrorPolicyApprove hit every emitted code of GET /v1/codes.
func TestCheckEveryCode(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, map[string]string{"TFPS_DESTINATION_COUNTRIES_BLACKLIST": "CU"})
			clock := newTestClock(inHours)
			m := env.start(t, withClock(clock))
			g := &checkRig{m: m, c: env.client(t, m), clock: clock}
			hit := map[string]bool{}
			type logged struct{ user, callID, code, ticket string }
			var want []logged
			for i, tc := range httpCases() {
				t.Run(tc.name, func(t *testing.T) {
					clock.set(inHours)
					user := fmt.Sprintf("u%02d", i)
					newAccount(t, g.c, user)
					if tc.setup != nil {
						tc.setup(t, g, user)
					}
					r := tc.req(user)
					res := mustCheck(t, g.c, r)
					if res.Code != tc.code {
						t.Fatalf("code %s (%s), want %s", res.Code, res.Reason, tc.code)
					}
					hit[res.Code] = true
					c, _ := engine.ParseCode(res.Code)
					info := c.Info()
					if res.Result != info.Result.String() || res.Reason == "" {
						t.Errorf("answer %+v: want result %s and a reason", res, info.Result)
					}
					if info.Result == engine.Verify {
						if res.Flow != string(info.Flow) || res.Ticket == "" || res.Country != tc.country {
							t.Errorf("verify answer %+v: want flow %s, country %q and a ticket", res, info.Flow, tc.country)
						}
						tk, err := g.m.State.ClaimTicket(context.Background(), res.Ticket, clock.now())
						if err != nil {
							t.Fatalf("IVR claim of ticket %s: %v", res.Ticket, err)
						}
						if tk.Number != r.Number || tk.User != r.User {
							t.Errorf("ticket %+v is not for %s -> %s", tk, r.User, r.Number)
						}
					} else if res.Ticket != "" || res.Flow != "" {
						t.Errorf("%s answer carries flow %q ticket %q", res.Result, res.Flow, res.Ticket)
					}
					// A retry of the same call_id gets the same answer without
					// being counted again; an answer given because a dependency
					// failed (R19) is not remembered: the retry is checked anew.
					again := mustCheck(t, g.c, r)
					if again.Code != res.Code || again.Replayed != (res.Code != "R19") {
						t.Errorf("retry of %s: %s replayed=%v, want %s replayed=%v", r.CallID, again.Code, again.Replayed, res.Code, res.Code != "R19")
					}
					if again.Replayed {
						want = append(want, logged{r.User, r.CallID, res.Code, res.Ticket})
					}
				})
			}
			codes, err := g.c.Codes(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range codes {
				// A01: TestCheckErrorPolicyApprove; R10, R08: TestCheckLimitActionReject.
				if !c.Reserved && !hit[c.Code] && c.Code != "A01" && c.Code != "R10" && c.Code != "R08" {
					t.Errorf("code %s (%s) not reached through POST /v1/check", c.Code, c.Meaning)
				}
			}
			// Every answer is in the decision log once Close has flushed it.
			ctx := context.Background()
			if err := m.Close(ctx); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(ctx, env.vars["TFPS_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, w := range want {
				rows, err := db.Decisions(ctx, store.DecisionFilter{CallID: w.callID})
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 || rows[0].Code != w.code || rows[0].Ticket != w.ticket || rows[0].Transport != "http" || rows[0].User != w.user {
					t.Errorf("decision log of %s: %+v, want one http row with %s", w.callID, rows, w.code)
				}
			}
		})
	}
}

// Under TFPS_ENGINE_ERROR_POLICY=approve a failed dependency approves (A01);
// under "error" the API answers 503 with the unavailable code.
func TestCheckErrorPolicies(t *testing.T) {
	for _, tc := range []struct{ policy, code, errCode string }{
		{"approve", "A01", ""},
		{"error", "", tfps.EUNAVAILABLE},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_ENGINE_ERROR_POLICY": tc.policy})
			clock := newTestClock(inHours)
			m := env.start(t, withClock(clock))
			c := env.client(t, m)
			newAccount(t, c, "1001")
			res, err := c.Check(context.Background(), checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = ipBroken }))
			if tfps.ErrorCode(err) != tc.errCode {
				t.Fatalf("error %v (code %q), want code %q", err, tfps.ErrorCode(err), tc.errCode)
			}
			if tc.code != "" && (res.Code != tc.code || res.Result != "approve") {
				t.Fatalf("answer %+v, want approve %s", res, tc.code)
			}
			// The service answers the next request normally.
			if res := mustCheck(t, c, checkReq("1001")); res.Code != "A00" {
				t.Fatalf("next check: %s %s", res.Code, res.Reason)
			}
		})
	}
}

// Under TFPS_LIMIT_ACTION=reject the concurrent-call limits refuse as TFPS
// did: R10 in business hours, R08 off hours.
func TestCheckLimitActionReject(t *testing.T) {
	env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_LIMIT_ACTION": "reject"})
	clock := newTestClock(inHours)
	m := env.start(t, withClock(clock))
	g := &checkRig{m: m, c: env.client(t, m), clock: clock}
	newAccount(t, g.c, "lim")
	calls := func(n int) func(r *api.CheckRequest) { return func(r *api.CheckRequest) { r.ConcurrentCalls = &n } }
	num := func(n string) func(r *api.CheckRequest) { return func(r *api.CheckRequest) { r.Number = n } }
	if res := mustCheck(t, g.c, checkReq("lim", calls(3))); res.Code != "R10" {
		t.Errorf("3 calls in hours: %s (%s), want R10", res.Code, res.Reason)
	}
	clock.set(offHours)
	if res := mustCheck(t, g.c, checkReq("lim", calls(2), num("+12015550123"))); res.Code != "R08" {
		t.Errorf("2 calls off hours: %s (%s), want R08", res.Code, res.Reason)
	}
}
