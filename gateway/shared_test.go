package gateway_test

import (
	"fmt"
	"testing"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

// Two gateways on one Redis and one database decide as one: an account's
// daily quota and a caller->number pair are counted across both, whichever
// gateway a call reaches.
func TestTwoGatewaysShareCounters(t *testing.T) {
	clock := newTestClock(inHours)
	vars := gatewaytest.Vars(t, store.Postgres, nil)
	a := gatewaytest.MustStart(t, vars, withClock(clock))
	ca, err := api.NewClient("http://"+a.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	newAccount(t, ca, "9101") // daily quota 3 in hours
	newAccount(t, ca, "9102", func(in *api.AccountInput) { ten := 10; in.DailyQuota = &ten })
	// Started after the accounts exist, so its cache has them at once.
	b := gatewaytest.MustStart(t, vars, withClock(clock))
	cb, err := api.NewClient("http://"+b.HTTPAddr(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gws := []*api.Client{ca, cb}

	t.Run("daily quota", func(t *testing.T) {
		for i := range 4 {
			want := "A00"
			if i == 3 {
				want = "V04" // the fourth approved call of the day, on either gateway
			}
			res := mustCheck(t, gws[i%2], checkReq("9101", func(r *api.CheckRequest) { r.Number = fmt.Sprintf("+1201555%04d", 100+i) }))
			if res.Code != want {
				t.Errorf("call %d on gateway %d: %s (%s), want %s", i+1, i%2+1, res.Code, res.Reason, want)
			}
		}
	})
	t.Run("caller to number", func(t *testing.T) {
		for i := range 5 {
			want := "A00"
			switch i {
			case 3:
				want = "R13" // the fourth attempt of the pair trips the limit of 3
			case 4:
				want = "R16" // blocked on the other gateway too
			}
			res := mustCheck(t, gws[i%2], checkReq("9102", func(r *api.CheckRequest) { r.Number = "+12015550777" }))
			if res.Code != want {
				t.Errorf("attempt %d on gateway %d: %s (%s), want %s", i+1, i%2+1, res.Code, res.Reason, want)
			}
		}
	})
}
