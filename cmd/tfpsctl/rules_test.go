package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// An OpenSIPS fraud_detection table exported as CSV, in the module's
// column order: ruleid, profileid, prefix, start_hour, end_hour,
// daysoftheweek, cpm w/c, call_duration w/c, total_calls w/c,
// concurrent_calls w/c, sequential_calls w/c.
const opensipsCSV = `ruleid,profileid,prefix,start_hour,end_hour,daysoftheweek,cpm_warning,cpm_critical,call_duration_warning,call_duration_critical,total_calls_warning,total_calls_critical,concurrent_calls_warning,concurrent_calls_critical,sequential_calls_warning,sequential_calls_critical
1,1,,00:00,23:59,Mon-Sun,30,60,3600,7200,500,1000,8,16,10,20
2,1,44,22:00,06:00,"Sat,Sun",5,10,0,0,0,0,2,4,0,0
3,2,+1900,08:00,18:00,Mon-Fri,0,2,0,0,0,0,0,0,0,0
`

const badCSV = `1,1,,00:00,23:59,Mon-Sun,30,60,3600,7200,500,1000,8,16,10,20
2,1,44,22:00,06:00,Caturday,5,10,0,0,0,0,2,4,0,0
3,1,44,7am,06:00,Mon,5,10,0,0,0,0,2,4,0,0
4,1,44,22:00,06:00,Mon,5,-10,0,0,0,0,2,4,0,0
5,1,44A,22:00,06:00,Mon,5,10,0,0,0,0,2,4,0,0
`

func TestTfpsctlRules(t *testing.T) {
	m := startGateway(t)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "fraud.csv"), filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte(opensipsCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(badCSV), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every bad row is named with its number and field; nothing is stored.
	code, _, out := c.run("rules", "import", bad)
	if code != exitError {
		t.Fatalf("import of bad rows: exit %d, %s", code, out)
	}
	contains(t, "import bad", out, `row 2: days: "Caturday" is not a day`, `row 3: start: "7am" is not HH:MM`,
		"row 4: cpm_critical: -10 is negative", `row 5: prefix: "44A" is not digits`)
	if out := c.ok("rules", "list", "--json"); out != "[]\n" {
		t.Fatalf("rules after a refused import: %s", out)
	}

	contains(t, "import", c.ok("rules", "import", good), "imported 3 rules")
	var rules []tfps.Rule
	if err := json.Unmarshal([]byte(c.ok("rules", "list", "--json", "--profile", "1")), &rules); err != nil || len(rules) != 2 {
		t.Fatalf("profile 1: %+v %v", rules, err)
	}
	if r := rules[1]; r.ID != 2 || r.Prefix != "44" || r.Start != "22:00" || r.End != "06:00" || r.Days != "Sat,Sun" || r.CPMWarning != 5 || r.CPMCritical != 10 || r.ConcurrentCritical != 4 {
		t.Fatalf("rule 2 as imported: %+v", r)
	}
	if r := rules[0]; r.End != "24:00" || r.DurationWarning != 3600 || r.TotalCritical != 1000 || r.SequentialCritical != 20 {
		t.Fatalf("rule 1 as imported: %+v", r)
	}
	contains(t, "list", c.ok("rules", "list"), "PROFILE", "1900", "22:00-06:00", "5/10")

	contains(t, "add", c.ok("rules", "add", "--profile", "2", "--prefix", "33", "--total", "3,5", "--warning-action", "verify"), "rule 4 stored in profile 2")
	c.fail(exitError, `warning_action: "ask" is not approve or verify`, "rules", "add", "--profile", "2", "--warning-action", "ask")
	c.fail(exitUsage, `--cpm "5" is not WARNING,CRITICAL`, "rules", "add", "--profile", "2", "--cpm", "5")

	c.ok("add", "2001", "pbx.example", "--destination", "US", "--quota", "50", "--quota-off", "50")
	contains(t, "assign", c.ok("profile", "assign", "2001", "pbx.example", "2"), "2001@pbx.example now in profile 2")
	cl, _ := api.NewClient("http://"+m.HTTPAddr(), token, nil)
	// A whole-day rule for +1 numbers other than +1900 (rule 3 has a
	// window, and the test runs at any hour).
	c.ok("rules", "add", "--profile", "2", "--id", "9", "--prefix", "1", "--cpm", "0,2")
	if res, err := cl.Check(context.Background(), &api.CheckRequest{User: "2001", Domain: "pbx.example", SourceIP: "10.0.0.1", Number: "+12015550100", Caller: "100", CallID: "ctl-rule"}); err != nil || res.Code != "A00" {
		t.Fatalf("check: %+v %v", res, err)
	}
	contains(t, "stats", c.ok("rules", "stats", "2001", "pbx.example"), "rule 9", "STAT", "cpm", "concurrent", "(at call end)", "off")
	var st api.RuleStats
	if err := json.Unmarshal([]byte(c.ok("rules", "stats", "--json", "2001", "pbx.example", "1")), &st); err != nil || st.Stats.Total != 1 || st.Stats.CPM != 1 || st.Rule == nil || st.Rule.CPMCritical != 2 {
		t.Fatalf("stats --json: %+v %v", st, err)
	}
	c.fail(exitError, `no statistics under prefix "44"`, "rules", "stats", "2001", "pbx.example", "44")

	contains(t, "remove", c.ok("rules", "remove", "4"), "removed rule 4")
	c.fail(exitError, "rule 4 not found (not_found)", "rules", "remove", "4")
}
