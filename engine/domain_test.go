package engine_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
)

// A domain written straight into SQL (another gateway, an operator's own
// SQL) reaches the engine through the change version, without a Refresh:
// the unknown user then follows the default account, with a counter of its
// own, and the default's own counter is untouched.
func TestDomainDefaultNoticedAndCountedPerUser(t *testing.T) {
	r := newRig(t, store.SQLite, engine.Options{CacheRefresh: 20 * time.Millisecond})
	r.account(t, "default", func(a *tfps.Account) { a.DailyQuota, a.DailyQuotaOff = 1, 1 })
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "walkin" })); d.Code != engine.V01 {
		t.Fatalf("before the domain default: %s %s", d.Code, d.Reason)
	}
	if err := r.db.PutDomain(context.Background(), &tfps.Domain{Domain: "pbx.example", DefaultUser: "default"}); err != nil {
		t.Fatal(err)
	}
	// Probe with a new user each time (no counter is shared with walkin)
	// until the watcher has loaded the change.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		probe := r.decide(t, call(func(c *engine.Call) { c.User = fmt.Sprintf("probe%d", i); c.SourceIP = netip.MustParseAddr("10.1.1.1") }))
		if probe.Code != engine.V01 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine never noticed the domain written into SQL")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := r.decide(t, call(func(c *engine.Call) { c.User = "walkin" }))
	if d.Code != engine.A00 || d.Facts.DefaultOf != "default" {
		t.Fatalf("after the domain default: %s %s (default of %q)", d.Code, d.Reason, d.Facts.DefaultOf)
	}
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "walkin" })); d.Code != engine.V04 {
		t.Fatalf("walkin's second call over the default's quota of 1: %s %s", d.Code, d.Reason)
	}
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "other" })); d.Code != engine.A00 {
		t.Fatalf("another unknown user, own counter: %s %s", d.Code, d.Reason)
	}
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "default" })); d.Code != engine.A00 {
		t.Fatalf("the default account itself, untouched by its users: %s %s", d.Code, d.Reason)
	}
	// The operator blocks the default: its unknown users are blocked too.
	if _, err := r.db.DB().ExecContext(context.Background(), `UPDATE accounts SET blocked = 1 WHERE username = 'default'`); err != nil {
		t.Fatal(err)
	}
	r.refresh(t)
	if d := r.decide(t, call(func(c *engine.Call) { c.User = "third" })); d.Code != engine.R17 {
		t.Fatalf("unknown user of a blocked default: %s %s", d.Code, d.Reason)
	}
}
