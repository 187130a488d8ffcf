package sipfront_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/reputation"
	"github.com/voipshield/tfps/sipfront"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store/storetest"
)

// With Redis down, failover mode never answers 503 (approved) by accident:
// policy reject gives 603 (R19), policy error gives TFPS_SIP_ERROR_CODE,
// and only policy approve, chosen by the operator, gives 503 (A01).
func TestRedisDownInFailoverMode(t *testing.T) {
	// A Redis address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		policy, want string
	}{
		{config.ErrorPolicyReject, "SIP/2.0 603 Declined"},
		{config.ErrorPolicyError, "SIP/2.0 500 Server Internal Error"},
		{config.ErrorPolicyApprove, "SIP/2.0 503 Service Unavailable"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.MustOpen(t, "sqlite")
			if err := db.CreateAccount(ctx, &tfps.Account{User: "alice", Domain: "pbx.example.com", ConcurrentCalls: 5, DailyQuota: 10,
				SourceCountries: []string{"US"}, DestinationCountries: []string{"US"}}); err != nil {
				t.Fatal(err)
			}
			rdb := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
			t.Cleanup(func() { rdb.Close() })
			eng, err := engine.New(ctx, engine.Deps{Accounts: db, Lists: db, Changes: db, Log: db,
				Counters:   state.NewDecideCounters(state.New(rdb, state.Options{Prefix: "tfpstest:dead:", Timeout: 200 * time.Millisecond})),
				Reputation: reputation.Local{}}, engine.Options{ErrorPolicy: engine.ErrorPolicy(tc.policy)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { eng.Close(context.Background()) })
			front, err := sipfront.New(eng, sipfront.Options{Method: 503, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
			if err != nil {
				t.Fatal(err)
			}
			uc, err := sipfront.ListenUDP("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go front.ServeUDP(uc)
			t.Cleanup(func() { front.Close(context.Background()) })
			u := dialUDP(t, "127.0.0.1", uc.LocalAddr().String())
			u.send(invite(u.conn.LocalAddr().String(), "dead-"+tc.policy, "z9hG4bK-dead", "+12125550100", ""))
			b := u.recv(5 * time.Second)
			if got := statusOf(b); got != tc.want {
				t.Fatalf("answer %q, want %q", got, tc.want)
			}
			if tc.policy == config.ErrorPolicyApprove && !strings.Contains(string(b), "X-Tfps-Code: A01") {
				t.Errorf("approved unchecked without X-Tfps-Code: A01:\n%s", b)
			}
		})
	}
}
