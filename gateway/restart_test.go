package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// TestRestartUnderLoad restarts the gateway twice while clients keep
// sending POST /v1/check, then finds every answered decision (every 200) in
// the decision log with the code the client got. Requests refused while the
// gateway was down are not decisions and are not looked for; no request may
// get an error answer (a graceful shutdown finishes what it accepted).
func TestRestartUnderLoad(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newTestEnv(t, dialect, nil)
			m := env.start(t)
			var base atomic.Pointer[string]
			setBase := func(m *gateway.Main) { u := "http://" + m.HTTPAddr(); base.Store(&u) }
			setBase(m)
			c0 := env.client(t, m)
			big, five := 1_000_000, 5
			newAccount(t, c0, "load", func(in *api.AccountInput) {
				in.DailyQuota, in.DailyQuotaOff, in.ConcurrentCalls, in.ConcurrentCallsOff = &big, &big, &five, &five
			})

			type answer struct{ callID, code string }
			var (
				mu       sync.Mutex
				accepted []answer
				failed   atomic.Int64
				answered atomic.Int64 // error answers (not refused connections)
				stop     = make(chan struct{})
				wg       sync.WaitGroup
			)
			hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						c, err := api.NewClient(*base.Load(), "", hc)
						if err != nil {
							t.Error(err)
							return
						}
						user := "load"
						if i%5 == 0 {
							user = "unknown" // onboarding verify: a ticket too
						}
						r := checkReq(user, func(r *api.CheckRequest) {
							r.SourceIP = ipPrivate
							r.Number = fmt.Sprintf("+1201555%04d", i%10000)
							r.Caller = fmt.Sprintf("+1212555%04d", w)
						})
						res, err := c.Check(context.Background(), r)
						var te *tfps.Error
						if errors.As(err, &te) && te.Err == nil {
							// The gateway answered with an error: a shutdown
							// must finish requests, not fail them.
							if answered.Add(1) <= 3 {
								t.Errorf("check %s answered %s: %s", r.CallID, te.Code, te.Message)
							}
						}
						if err != nil {
							failed.Add(1)
							time.Sleep(2 * time.Millisecond)
							continue
						}
						mu.Lock()
						accepted = append(accepted, answer{r.CallID, res.Code})
						mu.Unlock()
					}
				}()
			}
			for range 2 {
				time.Sleep(300 * time.Millisecond)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := m.Close(ctx); err != nil {
					t.Fatalf("close under load: %v", err)
				}
				cancel()
				m = env.start(t)
				setBase(m)
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			if err := m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			db, err := store.Open(context.Background(), env.vars["TFPS_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			logged := map[string]string{}
			rows, err := db.DB().QueryContext(context.Background(), `SELECT call_id, code FROM decision_log`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, code string
				if err := rows.Scan(&id, &code); err != nil {
					t.Fatal(err)
				}
				logged[id] = code
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			missing := 0
			for _, a := range accepted {
				if code, ok := logged[a.callID]; !ok || code != a.code {
					if missing < 5 {
						t.Errorf("answered %s %s, decision log has %q", a.callID, a.code, code)
					}
					missing++
				}
			}
			t.Logf("%d decisions answered across 2 restarts (%d requests refused while down), %d logged, %d missing", len(accepted), failed.Load(), len(logged), missing)
			if len(accepted) < 100 {
				t.Errorf("only %d requests answered: the load did not run", len(accepted))
			}
			if missing > 0 {
				t.Fatalf("%d of %d answered decisions missing from the decision log", missing, len(accepted))
			}
		})
	}
}
