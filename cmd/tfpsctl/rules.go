package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// rules: list, add, remove, import (OpenSIPS fraud_detection CSV), stats.
func (c *cli) rules(ctx context.Context, args []string) error {
	fs := c.flags("rules")
	profile := fs.String("profile", "", "the rules' profile (list: only this one)")
	id := fs.Int64("id", 0, "rule id (add: 0 takes the next free one; an existing id is replaced)")
	prefix := fs.String("prefix", "", "E.164 digits the number starts with; empty: every number")
	start := fs.String("start", "", "window start HH:MM (account's time zone)")
	end := fs.String("end", "", "window end HH:MM, excluded; before start: crosses midnight")
	days := fs.String("days", "", "Mon-Fri, Sat,Sun, ...; empty: every day")
	action := fs.String("warning-action", "", "approve (default) or verify")
	pairs := map[string]*string{}
	for _, s := range []string{"cpm", "total", "concurrent", "sequential", "duration"} {
		pairs[s] = fs.String(s, "", s+" thresholds WARNING,CRITICAL (0 disables)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("rules: expected list, add, remove, import or stats")
	}
	switch sub := pos[0]; {
	case sub == "list" && len(pos) == 1:
		if err := c.connect(); err != nil {
			return err
		}
		l, err := c.svc.ListRules(ctx, *profile)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		c.printRules(l)
		return nil
	case sub == "add" && len(pos) == 1:
		r := tfps.Rule{ID: *id, Profile: *profile, Prefix: *prefix, Start: *start, End: *end, Days: *days, WarningAction: *action}
		dst := map[string][2]*int{
			"cpm": {&r.CPMWarning, &r.CPMCritical}, "total": {&r.TotalWarning, &r.TotalCritical},
			"concurrent": {&r.ConcurrentWarning, &r.ConcurrentCritical}, "sequential": {&r.SequentialWarning, &r.SequentialCritical},
			"duration": {&r.DurationWarning, &r.DurationCritical},
		}
		for name, v := range pairs {
			if *v == "" {
				continue
			}
			w, cr, ok := strings.Cut(*v, ",")
			wn, err1 := strconv.Atoi(strings.TrimSpace(w))
			cn, err2 := strconv.Atoi(strings.TrimSpace(cr))
			if !ok || err1 != nil || err2 != nil {
				return usagef("rules add: --%s %q is not WARNING,CRITICAL", name, *v)
			}
			*dst[name][0], *dst[name][1] = wn, cn
		}
		if err := c.connect(); err != nil {
			return err
		}
		out, err := c.svc.PutRules(ctx, []tfps.Rule{r})
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(out[0])
		}
		return c.done("rule %d stored in profile %s", out[0].ID, out[0].Profile)
	case sub == "remove" && len(pos) == 2:
		n, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil || n <= 0 {
			return usagef("rules remove: %q is not a rule id", pos[1])
		}
		if err := c.connect(); err != nil {
			return err
		}
		if err := c.svc.RemoveRule(ctx, n); err != nil {
			return err
		}
		return c.done("removed rule %d", n)
	case sub == "import" && len(pos) == 2:
		var in io.Reader = os.Stdin
		if pos[1] != "-" {
			f, err := os.Open(pos[1])
			if err != nil {
				return fmt.Errorf("rules import: %w", err)
			}
			defer f.Close()
			in = f
		}
		rules, err := tfps.ReadRulesCSV(in)
		if err != nil {
			return err
		}
		if len(rules) == 0 {
			return tfps.Errorf(tfps.EINVALID, "rules import: %s has no rules", pos[1])
		}
		if err := c.connect(); err != nil {
			return err
		}
		out, err := c.svc.PutRules(ctx, rules)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(out)
		}
		return c.done("imported %d rules", len(out))
	case sub == "stats" && (len(pos) == 3 || len(pos) == 4):
		if err := c.connect(); err != nil {
			return err
		}
		st, err := c.svc.AccountStats(ctx, pos[1], pos[2])
		if err != nil {
			return err
		}
		if len(pos) == 4 && (st.Rule == nil || st.Rule.Prefix != strings.TrimPrefix(pos[3], "+")) {
			under := "no rule yet"
			if st.Rule != nil {
				under = fmt.Sprintf("rule %d, prefix %q", st.Rule.ID, st.Rule.Prefix)
			}
			return tfps.Errorf(tfps.ENOTFOUND, "%s@%s has no statistics under prefix %q (its calls count under %s)", pos[1], pos[2], pos[3], under)
		}
		if c.json {
			return c.printJSON(st)
		}
		c.printStats(st)
		return nil
	}
	return usagef("rules: expected list [--profile P], add --profile P [rule flags], remove ID, import FILE.csv or stats USER DOMAIN [PREFIX]")
}

func pair(w, c int) string { return strconv.Itoa(w) + "/" + strconv.Itoa(c) }

func (c *cli) printRules(l []tfps.Rule) {
	c.table("ID\tPROFILE\tPREFIX\tWINDOW\tDAYS\tCPM\tTOTAL\tCONCURRENT\tSEQUENTIAL\tDURATION\tWARNING", func(w io.Writer) {
		for _, r := range l {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s-%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Profile, dash(r.Prefix), r.Start, r.End, r.Days,
				pair(r.CPMWarning, r.CPMCritical), pair(r.TotalWarning, r.TotalCritical), pair(r.ConcurrentWarning, r.ConcurrentCritical),
				pair(r.SequentialWarning, r.SequentialCritical), pair(r.DurationWarning, r.DurationCritical), r.WarningAction)
		}
	})
}

// printStats is OpenSIPS's show_fraud_stats: every statistic with the
// thresholds of the rule it counts under.
func (c *cli) printStats(st *api.RuleStats) {
	fmt.Fprintf(c.out, "account %s@%s, profile %s\n", st.User, st.Domain, dash(st.Profile))
	if st.Stats.Rule == 0 {
		fmt.Fprintln(c.out, "no call matched a rule yet")
		return
	}
	fmt.Fprintf(c.out, "rule %d, window since %s\n", st.Stats.Rule, day(st.Stats.WindowStart))
	var r tfps.Rule
	if st.Rule != nil {
		r = *st.Rule
	}
	c.table("STAT\tVALUE\tWARNING\tCRITICAL", func(w io.Writer) {
		for _, s := range []struct {
			name string
			v    int64
			stat tfps.RuleStat
		}{{"cpm", st.Stats.CPM, tfps.StatCPM}, {"total", st.Stats.Total, tfps.StatTotal}, {"concurrent", st.Stats.Concurrent, tfps.StatConcurrent}, {"sequential", st.Stats.Sequential, tfps.StatSequential}} {
			wv, cv := r.Thresholds(s.stat)
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", s.name, s.v, off(wv), off(cv))
		}
		wv, cv := r.Thresholds(tfps.StatDuration)
		fmt.Fprintf(w, "duration\t(at call end)\t%s\t%s\n", off(wv), off(cv))
	})
}

func off(n int) string {
	if n == 0 {
		return "off"
	}
	return strconv.Itoa(n)
}

// profile assign USER DOMAIN PROFILE ("" clears it).
func (c *cli) profile(ctx context.Context, args []string) error {
	fs := c.flags("profile")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 4 || pos[0] != "assign" {
		return usagef("profile: expected assign USER DOMAIN PROFILE")
	}
	if err := c.connect(); err != nil {
		return err
	}
	p := pos[3]
	a, err := c.svc.UpdateAccount(ctx, pos[1], pos[2], &api.AccountInput{User: pos[1], Domain: pos[2], Profile: &p})
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(a)
	}
	return c.done("%s@%s now in profile %s", a.User, a.Domain, dash(a.Profile))
}
