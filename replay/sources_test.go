package replay

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

// TestFromDecisionLog decides a gateway's logged calls again with the same
// settings and accounts: the same codes, in the log's order.
func TestFromDecisionLog(t *testing.T) {
	vars := gatewaytest.Vars(t, store.SQLite, testVars(t, nil))
	var now time.Time
	m := gatewaytest.MustStart(t, vars, func(m *gateway.Main) { m.Now = func() time.Time { return now } })
	ctx := context.Background()
	client, _ := api.NewClient("http://"+m.HTTPAddr(), "", nil)
	if _, err := client.CreateAccount(ctx, &api.AccountInput{User: "live", Domain: "d"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	t0 := time.Date(2025, 5, 6, 9, 30, 0, 0, time.UTC)
	for i, c := range []struct{ user, number string }{
		{"live", "+34911234567"}, {"live", "+81312345678"}, {"stranger", "+34911234567"},
		{"live", "+34911234567"}, {"live", "+34911234567"}, {"live", "+34911234567"}, {"live", "+34911234567"}, {"live", "+34911234567"},
	} {
		now = t0.Add(time.Duration(i) * time.Second)
		res, err := client.Check(ctx, &api.CheckRequest{User: c.user, Domain: "d", SourceIP: "10.0.0.1", Number: c.number, Caller: "7", CallID: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.Code)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := commandtest.Config(t, vars)
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rd, err := NewDecisionLogReader(ctx, db, t0, t0.Add(time.Hour), IVRHangup)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, Options{Config: cfg, Accounts: AccountsLive, Live: db})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_, err = r.Run(ctx, rd, &out)
	r.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := outputs(t, []byte(out.String()))
	if len(o) != len(want) {
		t.Fatalf("%d lines replayed from the log, want %d", len(o), len(want))
	}
	for i := range want {
		if o[i].Code != want[i] || o[i].CallID != fmt.Sprint("c", i) || o[i].Source != "decision-log" {
			t.Errorf("record %d: replayed %s %s (%s), logged %s", i, o[i].CallID, o[i].Code, o[i].Source, want[i])
		}
	}
	if !strings.Contains(strings.Join(want, " "), "R13") || !strings.Contains(strings.Join(want, " "), "V01") {
		t.Errorf("the log lacks the burst or the onboarding: %v", want)
	}
}

// TestCDRReader reads Master.csv rows, written as calls ended, back in
// start order (alice's long call is written last), with the account from accountcode or the channel's peer.
func TestCDRReader(t *testing.T) {
	csv := `"bob","101","+442071234567","from-internal","""Bob"" <101>","PJSIP/bob-00000003","PJSIP/trunk-00000004","Dial","PJSIP/+442071234567@trunk","2025-03-03 10:05:00","2025-03-03 10:05:03","2025-03-03 10:06:00",60,57,"ANSWERED","DOCUMENTATION","1741000000.3"
"","102","+33142345678","from-internal","","SIP/carol-0000000a","","Dial","","2025-03-03 10:07:00","","2025-03-03 10:07:30",30,0,"NO ANSWER","DOCUMENTATION"
"alice@pbx","100","+34911234567","from-internal","""Alice"" <100>","PJSIP/alice-00000001","PJSIP/trunk-00000002","Dial","PJSIP/+34911234567@trunk","2025-03-03 10:00:00","2025-03-03 10:00:05","2025-03-03 10:30:00",1800,1795,"ANSWERED","DOCUMENTATION"
"too","few","columns"
`
	for _, tc := range []struct {
		from  string
		users []string
	}{
		{"accountcode", []string{"alice@pbx", "bob@example.net"}},
		{"channel", []string{"alice@example.net", "bob@example.net", "carol@example.net"}},
	} {
		r, err := NewCDRReader("Master.csv", strings.NewReader(csv), tc.from, "example.net")
		if err != nil {
			t.Fatal(err)
		}
		r.In(madrid)
		var users []string
		var bad []string
		var times []time.Time
		for {
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			users = append(users, l.Check.User+"@"+l.Check.Domain)
			times = append(times, l.Time)
		}
		if strings.Join(users, " ") != strings.Join(tc.users, " ") {
			t.Errorf("%s: accounts %v, want %v", tc.from, users, tc.users)
		}
		if len(times) > 0 && !times[0].Equal(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: first start %s, want 10:00 Madrid (09:00 UTC)", tc.from, times[0])
		}
		wantBad := 1
		if tc.from == "accountcode" {
			wantBad = 2 // carol has no accountcode
		}
		if len(bad) != wantBad || !strings.Contains(bad[len(bad)-1], "Master.csv:4: bad input line: 3 columns") {
			t.Errorf("%s: errors %q", tc.from, bad)
		}
	}
}
