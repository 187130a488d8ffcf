package gateway_test

import (
	"context"
	"slices"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if tfps.ErrorCode(err) != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, tfps.ErrorCode(err), code)
	}
}

// TestAdminRoundTrip drives every admin operation through the Go client
// against a running gateway, and checks that each change applies to the
// very next POST /v1/check.
func TestAdminRoundTrip(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, map[string]string{"TFPS_API_TOKEN": "s3cret-token", "TFPS_DEFAULT_QUOTA": "7", "TFPS_DEFAULT_SOURCE_COUNTRIES": "US", "TFPS_DEFAULT_DESTINATION_COUNTRIES": "US"})
			clock := newTestClock(inHours)
			m := env.start(t, withClock(clock))
			c := env.client(t, m)
			ctx := context.Background()

			// Create with defaults, then a conflict.
			a, err := c.CreateAccount(ctx, &api.AccountInput{User: "1001", Domain: "pbx.example"})
			if err != nil {
				t.Fatal(err)
			}
			if a.ID == 0 || a.DailyQuota != 7 || !slices.Equal(a.SourceCountries, []string{"US"}) || a.Today == nil || a.Today.Date != "2026-11-23" {
				t.Fatalf("created %+v: want an id, the configured default quota 7, source US, today's usage of 2026-11-23", a)
			}
			_, err = c.CreateAccount(ctx, &api.AccountInput{User: "1001", Domain: "pbx.example"})
			wantCode(t, "duplicate create", err, tfps.ECONFLICT)
			newAccount(t, c, "1002")
			newAccount(t, c, "2001", func(in *api.AccountInput) { in.Domain = "other.example" })

			// List with paging and a domain filter.
			p, err := c.ListAccounts(ctx, api.AccountQuery{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 3 || len(p.Accounts) != 2 || p.Accounts[0].Domain != "other.example" {
				t.Fatalf("first page %+v: want 2 of 3, ordered by domain", p)
			}
			p, err = c.ListAccounts(ctx, api.AccountQuery{Offset: 2, Limit: 2})
			if err != nil || len(p.Accounts) != 1 || p.Accounts[0].User != "1002" {
				t.Fatalf("second page %+v, %v: want 1002", p, err)
			}
			p, err = c.ListAccounts(ctx, api.AccountQuery{Domain: "pbx.example"})
			if err != nil || p.Total != 2 {
				t.Fatalf("pbx.example page %+v, %v: want 2 accounts", p, err)
			}
			_, err = c.ListAccounts(ctx, api.AccountQuery{Limit: 5000})
			wantCode(t, "limit 5000", err, tfps.EINVALID)

			// Update some fields; the others stay.
			five, mail := 5, "ops@example.com"
			a, err = c.UpdateAccount(ctx, "1001", "pbx.example", &api.AccountInput{ConcurrentCalls: &five, Email: &mail})
			if err != nil {
				t.Fatal(err)
			}
			if a.ConcurrentCalls != 5 || a.Email != mail || a.DailyQuota != 7 {
				t.Fatalf("updated %+v", a)
			}
			bad := "xx"
			_, err = c.UpdateAccount(ctx, "1001", "pbx.example", &api.AccountInput{HomeCountry: &bad})
			wantCode(t, "home country xx", err, tfps.EINVALID)
			_, err = c.UpdateAccount(ctx, "nobody", "pbx.example", &api.AccountInput{Email: &mail})
			wantCode(t, "update unknown", err, tfps.ENOTFOUND)
			_, err = c.GetAccount(ctx, "nobody", "pbx.example")
			wantCode(t, "get unknown", err, tfps.ENOTFOUND)

			// Block applies to the next check; unblock lifts it.
			if _, err := c.SetBlocked(ctx, "1001", "pbx.example", true); err != nil {
				t.Fatal(err)
			}
			if res := mustCheck(t, c, checkReq("1001")); res.Code != "R17" {
				t.Fatalf("blocked account: %s, want R17", res.Code)
			}
			if a, err = c.SetBlocked(ctx, "1001", "pbx.example", false); err != nil || a.Blocked {
				t.Fatalf("unblock: %+v %v", a, err)
			}
			if res := mustCheck(t, c, checkReq("1001")); res.Code != "A00" {
				t.Fatalf("unblocked account: %s %s, want A00", res.Code, res.Reason)
			}

			// Countries: GB is verified until allowed, then approved; disallowed again it verifies.
			gb := checkReq("1001", func(r *api.CheckRequest) { r.Number = "+442079460000" })
			if res := mustCheck(t, c, gb); res.Code != "V03" {
				t.Fatalf("GB before allow: %s", res.Code)
			}
			a, err = c.AllowCountry(ctx, "1001", "pbx.example", api.Destination, "gb")
			if err != nil || !slices.Contains(a.DestinationCountries, "GB") {
				t.Fatalf("allow GB: %+v %v", a, err)
			}
			if _, err := c.AllowCountry(ctx, "1001", "pbx.example", api.Destination, "GB"); err != nil {
				t.Fatalf("allow GB twice: %v", err)
			}
			if res := mustCheck(t, c, checkReq("1001", func(r *api.CheckRequest) { r.Number = "+442079460001" })); res.Code != "A00" {
				t.Fatalf("GB after allow: %s %s", res.Code, res.Reason)
			}
			a, err = c.DisallowCountry(ctx, "1001", "pbx.example", api.Destination, "GB")
			if err != nil || slices.Contains(a.DestinationCountries, "GB") {
				t.Fatalf("disallow GB: %+v %v", a, err)
			}
			if a, err = c.AllowCountry(ctx, "1001", "pbx.example", api.Source, "GB"); err != nil || !slices.Equal(a.SourceCountries, []string{"US", "GB"}) {
				t.Fatalf("allow source GB: %+v %v", a, err)
			}
			_, err = c.AllowCountry(ctx, "1001", "pbx.example", "sideways", "GB")
			wantCode(t, "direction sideways", err, tfps.EINVALID)
			_, err = c.AllowCountry(ctx, "1001", "pbx.example", api.Source, "QQ")
			wantCode(t, "country QQ", err, tfps.EINVALID)

			// Reset: today's counter goes back to zero.
			a, err = c.GetAccount(ctx, "1001", "pbx.example")
			if err != nil || a.Today.Calls != 2 {
				t.Fatalf("usage before reset %+v %v: want 2 approved calls today", a.Today, err)
			}
			if a, err = c.ResetAccount(ctx, "1001", "pbx.example"); err != nil || a.Today.Calls != 0 {
				t.Fatalf("reset: %+v %v", a, err)
			}

			// Blacklists: add, duplicate, list, the check sees it, remove.
			e, err := c.AddBlacklist(ctx, &api.BlacklistEntry{Kind: "ip", Value: "203.0.113.77/24", Note: "scanner net"})
			if err != nil || e.Value != "203.0.113.0/24" || e.ID == 0 {
				t.Fatalf("add ip: %+v %v (want the masked CIDR)", e, err)
			}
			_, err = c.AddBlacklist(ctx, &api.BlacklistEntry{Kind: "ip", Value: "203.0.113.0/24"})
			wantCode(t, "duplicate entry", err, tfps.ECONFLICT)
			_, err = c.AddBlacklist(ctx, &api.BlacklistEntry{Kind: "ip", Value: "203.0.113"})
			wantCode(t, "bad CIDR", err, tfps.EINVALID)
			_, err = c.AddBlacklist(ctx, &api.BlacklistEntry{Kind: "colour", Value: "red"})
			wantCode(t, "bad kind", err, tfps.EINVALID)
			if _, err := c.AddBlacklist(ctx, &api.BlacklistEntry{Kind: "number", Value: "+1900"}); err != nil {
				t.Fatal(err)
			}
			if res := mustCheck(t, c, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = "203.0.113.5" })); res.Code != "R14" {
				t.Fatalf("blacklisted source: %s", res.Code)
			}
			all, err := c.ListBlacklist(ctx, "")
			if err != nil || len(all) != 2 {
				t.Fatalf("list all: %+v %v", all, err)
			}
			ips, err := c.ListBlacklist(ctx, "ip")
			if err != nil || len(ips) != 1 || ips[0].Note != "scanner net" {
				t.Fatalf("list ip: %+v %v", ips, err)
			}
			if err := c.RemoveBlacklist(ctx, "ip", "203.0.113.0/24"); err != nil {
				t.Fatal(err)
			}
			wantCode(t, "remove twice", c.RemoveBlacklist(ctx, "ip", "203.0.113.0/24"), tfps.ENOTFOUND)
			if res := mustCheck(t, c, checkReq("1001", func(r *api.CheckRequest) { r.SourceIP = "203.0.113.5" })); res.Code == "R14" {
				t.Fatalf("source still rejected after removal")
			}

			// Decisions of the account, newest first, then tailing after an id.
			m.Engine.Close(ctx) // flush the decision log
			ds, err := c.Decisions(ctx, api.DecisionQuery{User: "1001", Domain: "pbx.example"})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 6 || ds[0].Code != "R05" || ds[1].Code != "R14" || ds[len(ds)-1].Code != "R17" {
				t.Fatalf("decisions %+v: want R05 R14 A00 V03 A00 R17, newest first", codesOf(ds))
			}
			tail, err := c.Decisions(ctx, api.DecisionQuery{User: "1001", Domain: "pbx.example", AfterID: ds[2].ID})
			if err != nil || len(tail) != 2 || tail[0].ID != ds[1].ID || tail[1].ID != ds[0].ID {
				t.Fatalf("tail after %d: %+v %v", ds[2].ID, codesOf(tail), err)
			}
			_, err = c.Decisions(ctx, api.DecisionQuery{User: "1001"})
			wantCode(t, "decisions of a user without domain", err, tfps.EINVALID)

			// Delete; a second delete is not found.
			if err := c.DeleteAccount(ctx, "1002", "pbx.example"); err != nil {
				t.Fatal(err)
			}
			wantCode(t, "delete twice", c.DeleteAccount(ctx, "1002", "pbx.example"), tfps.ENOTFOUND)
		})
	}
}

func codesOf(ds []api.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Code)
	}
	return out
}

// An account whose user holds "/", "%" and spaces round-trips through the
// path.
func TestAdminOddNames(t *testing.T) {
	env := newTestEnv(t, store.SQLite, nil)
	m := env.start(t)
	c := env.client(t, m)
	ctx := context.Background()
	for _, user := range []string{"a/b", "50%", "two words", "ünï", "a/../b", "x//y", "..", "?q=1#f"} {
		if _, err := c.CreateAccount(ctx, &api.AccountInput{User: user, Domain: "x.example"}); err != nil {
			t.Fatalf("create %q: %v", user, err)
		}
		a, err := c.GetAccount(ctx, user, "x.example")
		if err != nil || a.User != user {
			t.Fatalf("get %q: %+v %v", user, a, err)
		}
		if _, err := c.AllowCountry(ctx, user, "x.example", api.Source, "FR"); err != nil {
			t.Fatalf("allow for %q: %v", user, err)
		}
		if err := c.DeleteAccount(ctx, user, "x.example"); err != nil {
			t.Fatalf("delete %q: %v", user, err)
		}
	}
}

// Concurrent country changes of one account all stick: each is a locked
// read-modify-write, not a lost update.
func TestAdminConcurrentCountryChanges(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, nil)
			m := env.start(t)
			c := env.client(t, m)
			newAccount(t, c, "1001")
			ccs := []string{"GB", "FR", "DE", "ES", "IT", "NL", "BE", "PT", "IE", "AT"}
			errs := make(chan error, len(ccs))
			for _, cc := range ccs {
				go func() {
					_, err := c.AllowCountry(context.Background(), "1001", "pbx.example", api.Destination, cc)
					errs <- err
				}()
			}
			for range ccs {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			a, err := c.GetAccount(context.Background(), "1001", "pbx.example")
			if err != nil {
				t.Fatal(err)
			}
			for _, cc := range append(ccs, "US") {
				if !slices.Contains(a.DestinationCountries, cc) {
					t.Errorf("destination countries %v lack %s", a.DestinationCountries, cc)
				}
			}
		})
	}
}
