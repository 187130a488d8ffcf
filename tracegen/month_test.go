package tracegen_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/replay"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/tracegen"
)

// tfpsDefaults are TFPS's settings: limits refuse, its default limits and
// countries, its A->B limit, a quota raised by one, nothing remembered.
var tfpsDefaults = map[string]string{
	"TFPS_LIMIT_ACTION":                  "reject",
	"TFPS_DEFAULT_CONCURRENT_CALLS":      "2",
	"TFPS_DEFAULT_CONCURRENT_CALLS_OFF":  "0",
	"TFPS_DEFAULT_QUOTA":                 "10",
	"TFPS_DEFAULT_QUOTA_OFF":             "2",
	"TFPS_DEFAULT_SOURCE_COUNTRIES":      "US",
	"TFPS_DEFAULT_DESTINATION_COUNTRIES": "US",
	"TFPS_MAX_CONCURRENT":                "5",
	"TFPS_AB_REPEAT_LIMIT":               "5",
	"TFPS_QUOTA_STEP_PERCENT":            "0",
	"TFPS_VERIFIED_GRACE":                "0",
}

// runMonth replays the month through the product's own what-if replay
// (gateway replay): the real engine on the calls' own clock, real Redis,
// an in-memory SQLite, and the IVR's flows answered as each line says.
func runMonth(t *testing.T, recs []tracegen.Record, settings map[string]string) *replay.Summary {
	t.Helper()
	ctx := context.Background()
	vars := map[string]string{"TFPS_REDIS_URL": statetest.RedisURL(), "TFPS_DATA_DIR": t.TempDir(), "TFPS_LOG_LEVEL": "warn"}
	for k, v := range settings {
		vars[k] = v
	}
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	if err := tracegen.Write(&in, recs); err != nil {
		t.Fatal(err)
	}
	r, err := replay.New(ctx, replay.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(ctx, replay.NewJSONReader("month.jsonl", &in), io.Discard)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if cerr := r.Close(cctx); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 0 || sum.Lines != int64(len(recs)) {
		t.Fatalf("replayed %d of %d lines, %d bad: %v", sum.Lines, len(recs), sum.Skipped, sum.BadLines)
	}
	return sum
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// TestMonthOutcome replays the synthetic month with the default settings
// and with TFPS's (limits refuse, TFPS's default limits), side by side.
// The goals with the defaults: no honest call refused, under 0.5 % of the
// honest calls after each customer's first week sent to verification, at
// most 3 attack calls of a scenario approved before the first refusal or
// verification, and none after it.
func TestMonthOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of calls")
	}
	recs := tracegen.Month(tracegen.Options{Seed: 1})
	def := runMonth(t, recs, nil)
	old := runMonth(t, recs, tfpsDefaults)
	d, o := def.Labelled, old.Labelled

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-46s %16s %16s\n", "synthetic month, seed 1", "defaults", "TFPS defaults")
	row := func(name, a, c string) { fmt.Fprintf(&b, "%-46s %16s %16s\n", name, a, c) }
	row("honest calls", fmt.Sprint(d.Legit), fmt.Sprint(o.Legit))
	row("honest calls rejected", fmt.Sprint(d.LegitRejected), fmt.Sprint(o.LegitRejected))
	row("honest calls verified (all)", fmt.Sprint(d.LegitVerify), fmt.Sprint(o.LegitVerify))
	row("honest calls after each first week", fmt.Sprint(d.LegitAfterFirstWeek), fmt.Sprint(o.LegitAfterFirstWeek))
	row("  of them verified", fmt.Sprintf("%d (%.2f %%)", d.LegitVerifyAfterFirstWeek, share(d.LegitVerifyAfterFirstWeek, d.LegitAfterFirstWeek)),
		fmt.Sprintf("%d (%.2f %%)", o.LegitVerifyAfterFirstWeek, share(o.LegitVerifyAfterFirstWeek, o.LegitAfterFirstWeek)))
	var attacks []string
	for n, s := range def.Scenarios {
		if s.Attack > 0 {
			attacks = append(attacks, n)
		}
	}
	sort.Strings(attacks)
	caught := func(s *replay.ScenarioSummary) string {
		first := "-"
		if s.FirstCaught != nil {
			first = s.FirstCaught.Code
		}
		return fmt.Sprintf("%d/%d/%d %s", s.AttackApprovedBeforeCaught, s.AttackApproved-s.AttackApprovedBeforeCaught, s.Attack, first)
	}
	for _, n := range attacks {
		row("attack "+n+" (approved before/after/calls)", caught(def.Scenarios[n]), caught(old.Scenarios[n]))
	}
	t.Log(b.String())

	// No honest call is refused, not even while an attacker using the same
	// account fails its voice checks (those block only what they were
	// about: the attacker's source country, the premium range).
	for n, s := range def.Scenarios {
		if s.LegitRejected > 0 {
			t.Errorf("defaults: %d honest calls of %s rejected, want none", s.LegitRejected, n)
		}
	}
	if p := share(d.LegitVerifyAfterFirstWeek, d.LegitAfterFirstWeek); p >= 0.5 {
		t.Errorf("defaults: %.2f %% of honest calls after the first week verified, want under 0.5 %%", p)
	}
	for _, n := range attacks {
		s := def.Scenarios[n]
		if s.AttackApprovedBeforeCaught > 3 || s.AttackApproved > s.AttackApprovedBeforeCaught {
			t.Errorf("defaults: attack %s: %d calls approved before the first reject/verify, %d after; want at most 3 and 0",
				n, s.AttackApprovedBeforeCaught, s.AttackApproved-s.AttackApprovedBeforeCaught)
		}
	}
	// TFPS's settings refuse a good share of the honest calls: the figure
	// the defaults exist to beat.
	if o.LegitRejected < 10*max(d.LegitRejected, 1) {
		t.Errorf("TFPS defaults rejected %d honest calls, defaults %d: the comparison no longer shows what it should", o.LegitRejected, d.LegitRejected)
	}
}
