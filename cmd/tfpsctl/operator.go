package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/voipshield/tfps/api"
)

func until(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

func (c *cli) printBlocks(b *api.Blocks) error {
	if c.json {
		return c.printJSON(b)
	}
	c.table("BLOCK\tDETAIL\tUNTIL", func(w io.Writer) {
		if b.Operator {
			fmt.Fprintf(w, "operator (R17)\t%s@%s blocked by the operator\tunblock USER DOMAIN\n", b.User, b.Domain)
		}
		if v := b.Verification; v != nil {
			fmt.Fprintf(w, "verification (R18)\t%d failed verifications\t%s\n", b.Failures, until(v.Until))
		}
		for _, p := range b.Pairs {
			fmt.Fprintf(w, "pair (R16)\t%s -> %s\t%s\n", p.Caller, p.Number, until(p.Until))
		}
	})
	if !b.Operator && b.Verification == nil && len(b.Pairs) == 0 {
		fmt.Fprintf(c.out, "no active block for %s@%s (%d failed verifications in the window)\n", b.User, b.Domain, b.Failures)
	}
	return nil
}

func (c *cli) blocks(ctx context.Context, args []string) error {
	pos, err := c.args(c.flags("blocks"), args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	b, err := c.svc.Blocks(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	return c.printBlocks(b)
}

func (c *cli) clear(ctx context.Context, args []string) error {
	fs := c.flags("clear")
	caller := fs.String("caller", "", "pairs: the calling number (A) of the one pair to lift")
	number := fs.String("number", "", "pairs: the dialled number (B) of the one pair to lift")
	pos, err := c.args(fs, args, "USER", "DOMAIN", "verification|pairs")
	if err != nil {
		return err
	}
	var b *api.Blocks
	switch pos[2] {
	case "verification":
		if *caller != "" || *number != "" {
			return usagef("clear: --caller and --number go with pairs")
		}
		b, err = c.svc.ClearVerification(ctx, pos[0], pos[1])
	case "pairs":
		if (*caller == "") != (*number == "") {
			return usagef("clear: --caller and --number go together (neither: every pair)")
		}
		b, err = c.svc.ClearPairs(ctx, pos[0], pos[1], *caller, *number)
	default:
		return usagef("clear: %q is not verification or pairs (the operator's own block: unblock USER DOMAIN)", pos[2])
	}
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(b)
	}
	fmt.Fprintf(c.out, "cleared %s of %s@%s\n", pos[2], pos[0], pos[1])
	return c.printBlocks(b)
}

func (c *cli) printDomain(d *api.Domain) error {
	if c.json {
		return c.printJSON(d)
	}
	c.table("DOMAIN\tDEFAULT USER\tUNKNOWN USERS\tPROFILE\tUPDATED", func(w io.Writer) {
		unknown := d.Effective
		if d.Unknown == "" {
			unknown += " (auto)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Domain, dash(d.DefaultUser), unknown, dash(d.Profile), day(d.UpdatedAt))
	})
	return nil
}

func (c *cli) domain(ctx context.Context, args []string) error {
	fs := c.flags("domain")
	defUser := fs.String("default-user", "", "set: the account unknown users follow (\"\" none)")
	unknown := fs.String("unknown", "", "set: default, onboarding, reject or auto")
	profile := fs.String("profile", "", "set: the domain's default rule profile (\"\" none)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("domain: expected show, default or set")
	}
	var d *api.Domain
	switch sub := pos[0]; {
	case sub == "show" && len(pos) == 2:
		if err := c.connect(); err != nil {
			return err
		}
		d, err = c.svc.GetDomain(ctx, pos[1])
	case sub == "default" && len(pos) == 3:
		if err := c.connect(); err != nil {
			return err
		}
		u, def := pos[2], "default"
		d, err = c.svc.UpdateDomain(ctx, pos[1], &api.DomainInput{DefaultUser: &u, Unknown: &def})
	case sub == "set" && len(pos) == 2:
		in := &api.DomainInput{}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "default-user":
				in.DefaultUser = defUser
			case "unknown":
				u := *unknown
				if u == "auto" {
					u = ""
				}
				in.Unknown = &u
			case "profile":
				in.Profile = profile
			}
		})
		if *in == (api.DomainInput{}) {
			return usagef("domain set: give --default-user, --unknown or --profile")
		}
		if err := c.connect(); err != nil {
			return err
		}
		d, err = c.svc.UpdateDomain(ctx, pos[1], in)
	default:
		return usagef("domain: expected show DOMAIN, default DOMAIN USER or set DOMAIN [flags]")
	}
	if err != nil {
		return err
	}
	return c.printDomain(d)
}

func (c *cli) outbox(ctx context.Context, args []string) error {
	fs := c.flags("outbox")
	state := fs.String("state", "", "list: only pending, sent, failed or merged")
	limit := fs.Int("limit", 50, "list: how many (at most 1000)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && pos[0] == "list":
		if err := c.connect(); err != nil {
			return err
		}
		rows, err := c.svc.ListOutbox(ctx, *state, *limit)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(rows)
		}
		c.table("ID\tKIND\tACCOUNT\tSTATE\tTRIES\tCREATED\tNEXT TRY\tLAST ERROR", func(w io.Writer) {
			for _, r := range rows {
				next := "-"
				if r.State == "pending" {
					next = day(r.NextAttemptAt)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Kind, dash(r.Account), r.State, r.Attempts, day(r.CreatedAt), next, dash(r.LastError))
			}
		})
		return nil
	case len(pos) == 2 && pos[0] == "retry":
		if err := c.connect(); err != nil {
			return err
		}
		if err := c.svc.RetryOutbox(ctx, pos[1]); err != nil {
			return err
		}
		return c.done("queued %s for an immediate try", pos[1])
	case len(pos) == 2 && pos[0] == "drop":
		if err := c.connect(); err != nil {
			return err
		}
		if err := c.svc.DropOutbox(ctx, pos[1]); err != nil {
			return err
		}
		return c.done("dropped %s", pos[1])
	}
	return usagef("outbox: expected list, retry ID or drop ID")
}

// export streams the decision log to standard output.
func (c *cli) export(ctx context.Context, args []string) error {
	fs := c.flags("decisions export")
	since := fs.String("since", "", "first day or instant (2025-03-30 or RFC 3339), required")
	untilF := fs.String("until", "", "end, excluded (2025-03-31 or RFC 3339); default: now")
	format := fs.String("format", "jsonl", "jsonl (the replay's input) or csv")
	if _, err := c.args(fs, args); err != nil {
		return err
	}
	if *since == "" {
		return usagef("decisions export: --since is required")
	}
	if *format != api.ExportJSONL && *format != api.ExportCSV {
		return usagef("decisions export: --format %q is not jsonl or csv", *format)
	}
	s, err := api.ParseDate("since", *since)
	if err != nil {
		return usagef("decisions export: %s", message(err))
	}
	u, err := api.ParseDate("until", *untilF)
	if err != nil {
		return usagef("decisions export: %s", message(err))
	}
	return c.svc.ExportDecisions(ctx, api.ExportQuery{Since: s, Until: u, Format: *format}, c.out)
}
