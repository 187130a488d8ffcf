package replay

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
)

// Summary is what a replay did, for people (WriteText) and scripts (JSON).
// Maps marshal with sorted keys, so the JSON is as repeatable as the
// output lines.
type Summary struct {
	Lines   int64     `json:"lines"`
	Skipped int64     `json:"skipped_bad_lines"`
	First   time.Time `json:"first_time,omitzero"`
	Last    time.Time `json:"last_time,omitzero"`
	// Decisions counts every decision by code, redials included.
	Decisions map[string]int64 `json:"decisions_by_code"`
	// Final counts what callers finally got (after verification and
	// redials): approve, reject, verify (verification not passed).
	Final map[string]int64 `json:"final_by_result"`
	// Verifications counts verify decisions per local date (the business
	// hours zone) and how their simulated sessions ended.
	Verifications map[string]*DayVerifications `json:"verifications_per_day"`
	// Notifications counts the notifications queued for mail by kind
	// (none is sent; the outbox would rate-limit threshold alerts further).
	Notifications map[string]int64            `json:"notifications_by_kind"`
	Accounts      map[string]*AccountSummary  `json:"accounts"`
	Scenarios     map[string]*ScenarioSummary `json:"scenarios,omitempty"`
	// Labelled sums every scenario: the figures to compare between two
	// runs (nil when no line carries a label).
	Labelled *ScenarioSummary `json:"labelled_total,omitempty"`
	BadLines []string         `json:"bad_lines,omitempty"` // the first few skipped, with their errors
}

// DayVerifications are the verify decisions of one local date.
type DayVerifications struct {
	Verify   int64            `json:"verify"`
	Outcomes map[string]int64 `json:"outcomes"` // verified, failed, blocked, hangup, ...
}

// AccountSummary is one account's replay.
type AccountSummary struct {
	Calls       int64  `json:"calls"`
	Approved    int64  `json:"approved"` // finally approved
	Rejected    int64  `json:"rejected"` // first decision a reject
	Verify      int64  `json:"verify"`   // first decision a verify
	FirstReject *Event `json:"first_reject,omitempty"`
	FirstVerify *Event `json:"first_verify,omitempty"`
	// Onboarded is when the account passed onboarding in the replay, or
	// was created for an account loaded at the start.
	Onboarded *time.Time `json:"onboarded,omitempty"`
}

// Event marks one decision.
type Event struct {
	Time   string `json:"time"`
	Code   string `json:"code"`
	CallID string `json:"call_id"`
}

// ScenarioSummary is what the checks did to one labelled scenario.
type ScenarioSummary struct {
	Calls  int64 `json:"calls"`
	Attack int64 `json:"attack_calls"`
	Legit  int64 `json:"legit_calls"`
	// AttackApproved counts attack calls that finally went through;
	// AttackApprovedBeforeCaught those before the scenario's first attack
	// call that was rejected or sent to verification (FirstCaught).
	AttackApproved             int64  `json:"attack_approved"`
	AttackApprovedBeforeCaught int64  `json:"attack_approved_before_first_reject_or_verify"`
	FirstCaught                *Event `json:"first_reject_or_verify,omitempty"`
	LegitRejected              int64  `json:"legit_rejected"`
	LegitVerify                int64  `json:"legit_verify"`
	// Legit calls sent to verification after their account's onboarding,
	// and after its first week: the friction honest customers feel once
	// they are set up.
	LegitVerifyAfterOnboarding int64 `json:"legit_verify_after_onboarding"`
	LegitVerifyAfterFirstWeek  int64 `json:"legit_verify_after_first_week"`
	// LegitAfterFirstWeek counts the legit calls made once their account
	// was a week past onboarding: the base of LegitVerifyAfterFirstWeek.
	LegitAfterFirstWeek int64 `json:"legit_after_first_week"`
}

// firstWeek is how long a new account is expected to meet verifications
// while it is learned.
const firstWeek = 7 * 24 * time.Hour

// maxBadLines bounds the skipped lines the summary lists.
const maxBadLines = 20

type summer struct {
	cfg *config.Config
	s   *Summary
}

func newSummer(cfg *config.Config) *summer {
	return &summer{cfg: cfg, s: &Summary{
		Decisions: map[string]int64{}, Final: map[string]int64{}, Verifications: map[string]*DayVerifications{},
		Accounts: map[string]*AccountSummary{}, Scenarios: map[string]*ScenarioSummary{},
	}}
}

func (m *summer) account(user, domain string) *AccountSummary {
	k := user + "@" + domain
	a := m.s.Accounts[k]
	if a == nil {
		a = &AccountSummary{}
		m.s.Accounts[k] = a
	}
	return a
}

// preloaded notes an account present at the start.
func (m *summer) preloaded(user, domain string, created time.Time) {
	t := created
	m.account(user, domain).Onboarded = &t
}

func (m *summer) skipped(le *LineError) {
	m.s.Skipped++
	if len(m.s.BadLines) < maxBadLines {
		m.s.BadLines = append(m.s.BadLines, le.Error())
	}
}

func (m *summer) add(o *Output) {
	s := m.s
	s.Lines++
	t, _ := time.Parse(time.RFC3339Nano, o.Time)
	if s.First.IsZero() {
		s.First = t
	}
	s.Last = t
	for _, d := range o.decisions {
		s.Decisions[d.code.String()]++
		if d.result == engine.Verify {
			day := s.Verifications[d.day]
			if day == nil {
				day = &DayVerifications{Outcomes: map[string]int64{}}
				s.Verifications[d.day] = day
			}
			day.Verify++
			day.Outcomes[string(d.outcome)]++
		}
	}
	s.Final[o.Final]++
	a := m.account(o.User, o.Domain)
	onboardedBefore := a.Onboarded
	a.Calls++
	ev := &Event{Time: o.Time, Code: o.Code, CallID: o.CallID}
	switch o.Result {
	case "reject":
		a.Rejected++
		if a.FirstReject == nil {
			a.FirstReject = ev
		}
	case "verify":
		a.Verify++
		if a.FirstVerify == nil {
			a.FirstVerify = ev
		}
	}
	if o.Final == "approve" {
		a.Approved++
	}
	if !o.onboarded.IsZero() && a.Onboarded == nil {
		on := o.onboarded
		a.Onboarded = &on
	}
	if o.Scenario == "" && o.Label == "" {
		return
	}
	sc := s.Scenarios[o.Scenario]
	if sc == nil {
		sc = &ScenarioSummary{}
		s.Scenarios[o.Scenario] = sc
	}
	sc.Calls++
	switch o.Label {
	case "attack":
		sc.Attack++
		if (o.Result == "reject" || o.Result == "verify") && sc.FirstCaught == nil {
			sc.FirstCaught = ev
		}
		if o.Final == "approve" {
			sc.AttackApproved++
			if sc.FirstCaught == nil {
				sc.AttackApprovedBeforeCaught++
			}
		}
	case "legit":
		sc.Legit++
		if onboardedBefore != nil && !t.Before(onboardedBefore.Add(firstWeek)) {
			sc.LegitAfterFirstWeek++
		}
		switch o.Result {
		case "reject":
			sc.LegitRejected++
		case "verify":
			sc.LegitVerify++
			if onboardedBefore != nil && t.After(*onboardedBefore) && o.Code != engine.V01.String() {
				sc.LegitVerifyAfterOnboarding++
				if !t.Before(onboardedBefore.Add(firstWeek)) {
					sc.LegitVerifyAfterFirstWeek++
				}
			}
		}
	}
}

func (m *summer) finish(notes map[string]int64) *Summary {
	m.s.Notifications = notes
	if len(m.s.Scenarios) == 0 {
		m.s.Scenarios = nil
	} else {
		t := &ScenarioSummary{}
		for _, c := range m.s.Scenarios {
			t.Calls += c.Calls
			t.Attack += c.Attack
			t.Legit += c.Legit
			t.AttackApproved += c.AttackApproved
			t.AttackApprovedBeforeCaught += c.AttackApprovedBeforeCaught
			t.LegitRejected += c.LegitRejected
			t.LegitVerify += c.LegitVerify
			t.LegitVerifyAfterOnboarding += c.LegitVerifyAfterOnboarding
			t.LegitVerifyAfterFirstWeek += c.LegitVerifyAfterFirstWeek
			t.LegitAfterFirstWeek += c.LegitAfterFirstWeek
		}
		m.s.Labelled = t
	}
	return m.s
}

// WriteText prints the summary as tables for people.
func (s *Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	span := ""
	if !s.First.IsZero() {
		span = fmt.Sprintf(" from %s to %s", s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339))
	}
	p("Replayed %d lines%s; %d bad lines skipped; %d accounts.\n\n", s.Lines, span, s.Skipped, len(s.Accounts))
	p("code\tdecisions\tmeaning\n")
	for _, k := range sortedKeys(s.Decisions) {
		meaning := ""
		if c, err := engine.ParseCode(k); err == nil {
			meaning = c.Info().Meaning
		}
		p("%s\t%d\t%s\n", k, s.Decisions[k], meaning)
	}
	p("\nfinally\tcalls\n")
	for _, k := range sortedKeys(s.Final) {
		p("%s\t%d\n", k, s.Final[k])
	}
	if len(s.Verifications) > 0 {
		outcomes := map[string]bool{}
		for _, d := range s.Verifications {
			for o := range d.Outcomes {
				outcomes[o] = true
			}
		}
		cols := sortedKeys(outcomes)
		p("\nday\tverify\t%s\n", strings.Join(cols, "\t"))
		for _, day := range sortedKeys(s.Verifications) {
			d := s.Verifications[day]
			p("%s\t%d", day, d.Verify)
			for _, c := range cols {
				p("\t%d", d.Outcomes[c])
			}
			p("\n")
		}
	}
	if len(s.Notifications) > 0 {
		p("\nnotification\tqueued\n")
		for _, k := range sortedKeys(s.Notifications) {
			p("%s\t%d\n", k, s.Notifications[k])
		}
	}
	if len(s.Scenarios) > 0 {
		p("\nscenario\tcalls\tattack\tattack approved\tbefore first reject/verify\tlegit\tlegit rejected\tlegit verify\tafter onboarding\tafter first week\tof legit after first week\n")
		row := func(name string, c *ScenarioSummary) {
			p("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, c.Calls, c.Attack, c.AttackApproved, c.AttackApprovedBeforeCaught,
				c.Legit, c.LegitRejected, c.LegitVerify, c.LegitVerifyAfterOnboarding, c.LegitVerifyAfterFirstWeek, c.LegitAfterFirstWeek)
		}
		for _, k := range sortedKeys(s.Scenarios) {
			name := k
			if name == "" {
				name = "(none)"
			}
			row(name, s.Scenarios[k])
		}
		if s.Labelled != nil {
			row("(all)", s.Labelled)
		}
	}
	if len(s.BadLines) > 0 {
		p("\nskipped lines (first %d):\n", len(s.BadLines))
		for _, b := range s.BadLines {
			p("  %s\n", b)
		}
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
