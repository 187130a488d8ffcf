package gateway_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// prefixes lists the ranges' prefixes and levels as "prefix:level".
func prefixes(t *testing.T, c *api.Client) []string {
	t.Helper()
	l, err := c.ListRanges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range l {
		if r.CreatedAt.IsZero() {
			t.Errorf("range %s listed without its time", r.Prefix)
		}
		out = append(out, r.Prefix+":"+r.Level)
	}
	return out
}

// wantInvalid checks that err is an invalid-input error whose message
// names each of wants.
func wantInvalid(t *testing.T, what string, err error, wants ...string) {
	t.Helper()
	if tfps.ErrorCode(err) != tfps.EINVALID {
		t.Fatalf("%s: %v, want invalid", what, err)
	}
	for _, w := range wants {
		if !strings.Contains(tfps.ErrorMessage(err), w) {
			t.Errorf("%s: message lacks %q:\n%s", what, w, tfps.ErrorMessage(err))
		}
	}
}

// The range routes: ranges loaded as JSON or CSV apply to the next call,
// a batch with a bad row is refused whole with each bad row named by
// number and field, a replaced range takes its new level, and a removed
// one stops applying.
func TestRangesAPI(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, nil)
			clock := newTestClock(inHours)
			m := env.start(t, withClock(clock))
			c := env.client(t, m)
			ctx := context.Background()
			newAccount(t, c, "r1", func(in *api.AccountInput) { big := 100; in.DailyQuota = &big })
			call := func(number string) string {
				t.Helper()
				return mustCheck(t, c, checkReq("r1", func(r *api.CheckRequest) { r.Number = number })).Code
			}

			got, err := c.PutRanges(ctx, []api.Range{
				{Prefix: "+1201666", Level: "reject", Source: "carrier A", Comment: "IRSF reports"},
				{Prefix: " 1201777", Level: "Verify"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Prefix != "1201666" || got[1].Prefix != "1201777" || got[1].Level != "verify" || got[0].Source != "carrier A" {
				t.Fatalf("put answered %+v, want both ranges as stored", got)
			}
			if l := prefixes(t, c); !slices.Equal(l, []string{"1201666:reject", "1201777:verify"}) {
				t.Fatalf("list %q", l)
			}
			if code := call("+12016660001"); code != "R21" {
				t.Errorf("number in the reject range: %s, want R21", code)
			}
			if code := call("+12017770001"); code != "V06" {
				t.Errorf("number in the verify range: %s, want V06", code)
			}

			// A bad batch: every bad row named, the good one not written.
			_, err = c.PutRanges(ctx, []api.Range{
				{Prefix: "+1201888", Level: "reject"},
				{Prefix: "+1201x", Level: "reject"},
				{Prefix: "1201999", Level: "block"},
				{Prefix: "+1201888", Level: "verify"},
				{Prefix: "1201555", Level: "verify", Comment: "two\nlines"},
			})
			wantInvalid(t, "bad JSON rows", err, "4 bad row(s), nothing imported",
				`row 2: prefix: "+1201x" is not E.164 digits`, `row 3: level: "block" is not reject or verify`,
				"row 4: prefix: 1201888 repeats row 1", "row 5: comment:")
			if _, err := c.PutRanges(ctx, nil); err == nil {
				t.Error("an empty list was accepted")
			}
			if l := prefixes(t, c); !slices.Equal(l, []string{"1201666:reject", "1201777:verify"}) {
				t.Fatalf("a refused batch changed the list: %q", l)
			}

			// CSV: lines of the file, comments and a header skipped.
			_, err = c.ImportRangesCSV(ctx, strings.NewReader("prefix,level,source,comment\n# from carrier B\n+1201888,reject,carrier B\n1201,sometimes\n"))
			wantInvalid(t, "bad CSV", err, `row 4: level: "sometimes" is not reject or verify`)
			if strings.Contains(tfps.ErrorMessage(err), "row 3") {
				t.Errorf("the good line 3 is reported: %v", err)
			}
			got, err = c.ImportRangesCSV(ctx, strings.NewReader("prefix,level,source,comment\n# from carrier B\n+1201888,reject,carrier B\n+1201666,verify,carrier B,downgraded\n"))
			if err != nil || len(got) != 2 {
				t.Fatalf("good CSV: %+v, %v", got, err)
			}
			if l := prefixes(t, c); !slices.Equal(l, []string{"1201666:verify", "1201777:verify", "1201888:reject"}) {
				t.Fatalf("after the CSV import: %q", l)
			}
			if code := call("+12016660001"); code != "V06" {
				t.Errorf("number in the range replaced by verify: %s, want V06", code)
			}

			// Removal applies at once; a second removal is not found.
			if err := c.RemoveRange(ctx, "+1201888"); err != nil {
				t.Fatal(err)
			}
			if err := c.RemoveRange(ctx, "1201888"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
				t.Errorf("second removal: %v, want not found", err)
			}
			if code := call("+12018880001"); code != "A00" {
				t.Errorf("number of the removed range: %s, want A00", code)
			}
		})
	}
}

// Bodies the route refuses, with the reason.
func TestRangesAPIBadBodies(t *testing.T) {
	env := newTestEnv(t, store.SQLite, nil)
	m := env.start(t)
	base := "http://" + m.HTTPAddr()
	for _, tt := range []struct {
		name, ctype, body, want string
	}{
		{"object", "application/json", `{"prefix":"1201","level":"reject"}`, "expected a JSON array of ranges"},
		{"unknown field", "application/json", `[{"prefix":"1201","level":"reject","note":"x"}]`, `unknown field \"note\"`},
		{"empty CSV", "text/csv", "prefix,level\n", "no ranges in the CSV"},
		{"broken CSV quote", "text/csv", "1201,reject,\"carrier\n", "row 1"},
		{"too few fields", "text/csv", "1201\n", "row 1: 1 fields"},
	} {
		code, body := requestBody(t, "POST", base+"/v1/ranges", map[string]string{"Content-Type": tt.ctype}, tt.body)
		if code != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tt.name, code, body, tt.want)
		}
	}
	big := strings.Repeat("1201555,reject,carrier,"+strings.Repeat("x", 200)+"\n", api.MaxRangesBody/200)
	if code, body := requestBody(t, "POST", base+"/v1/ranges", map[string]string{"Content-Type": "text/csv"}, big); code != 413 {
		t.Errorf("huge CSV: %d %s, want 413", code, body)
	}
}

// requestBody sends a request without a token and returns the status and
// body of the answer.
func requestBody(t *testing.T, method, url string, headers map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
