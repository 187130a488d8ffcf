package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/learning"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the API (or the connection) failed; the message says why
	exitUsage = 2 // wrong command line
)

const usage = `usage: tfpsctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]

Accounts
  list [--domain D] [--limit N] [--offset N] [--all]  accounts, a page at a time (--all: every one)
  show USER DOMAIN                                 one account and today's calls
  add USER DOMAIN [account flags]                  create (unset fields take the TFPS_DEFAULT_* settings)
  set USER DOMAIN [account flags]                  change the given fields
  remove USER DOMAIN                               delete the account
  reset USER DOMAIN                                clear today's daily counters
  block USER DOMAIN | unblock USER DOMAIN          reject all calls (R17) or stop doing so
  allow USER DOMAIN source|destination CC          add a country
  disallow USER DOMAIN source|destination CC       remove a country
  history USER DOMAIN [--days N]                   daily calls and the limits learned from them
  pin set USER DOMAIN [--pin-stdin]                give the account its own 4-digit PIN, typed
                                                   twice at the terminal (--pin-stdin: one line
                                                   of standard input); never on the command line
  pin clear USER DOMAIN                            remove it: TFPS_PIN applies again
    account flags: --email, --cc, --cc-off, --quota, --quota-off,
                   --source CC,CC  --destination CC,CC  --language en|es|fr|pt-BR  --home CC
                   --mode inherit|enforce|monitor  (monitor: checks run and are logged
                   with their would-be code, every call is approved)

Blacklists (KIND is user_agent, ip or number)
  blacklist list [KIND]
  blacklist add KIND VALUE [--note TEXT]
  blacklist remove KIND VALUE

High-risk number ranges (LEVEL reject: R21; verify: V06 until the account verifies the range)
  ranges list
  ranges import FILE.csv                           rows prefix,level[,source[,comment]]; all rows
                                                   or none: a bad row is named by line and field
  ranges remove PREFIX

Blocks (every kind an identity can have; USER need not have an account)
  blocks USER DOMAIN                               operator block (R17), failed verifications (R18)
                                                   and blocked caller->number pairs (R16), with their end
  clear USER DOMAIN verification                   forget the failed verifications (lifts R18)
  clear USER DOMAIN pairs [--caller A --number B]  lift one pair block, or every one of the account

Service-provider domains
  domain show DOMAIN                               what an unknown user of DOMAIN gets
  domain default DOMAIN USER                       unknown users follow USER's account (limits,
                                                   countries, profile), counted per real user
  domain set DOMAIN [--default-user U] [--unknown default|onboarding|reject|auto] [--profile P]

Outbox (notifications)
  outbox list [--state pending|sent|failed|merged] [--limit N]
  outbox retry ID                                  send a failed notification again now
  outbox drop ID                                   delete a failed or pending notification
Fraud rules (OpenSIPS fraud_detection; thresholds 0 disable)
  rules list [--profile P]                         every rule (or one profile's)
  rules add --profile P [--id N] [--prefix DIGITS] [--start HH:MM --end HH:MM] [--days Mon-Fri]
            [--cpm W,C] [--total W,C] [--concurrent W,C] [--sequential W,C] [--duration W,C]
            [--warning-action approve|verify]     add (or replace the rule with that id)
  rules remove ID
  rules import FILE.csv                            OpenSIPS fraud_detection table as CSV, in its
                                                   column order; all rows or none
  rules stats USER DOMAIN [PREFIX]                 every statistic with its thresholds
  profile assign USER DOMAIN PROFILE               the account's profile ("" none)

Decision log
  decisions [USER DOMAIN] [--limit N] [--call-id ID]  most recent decisions (ENFORCED no:
                                                   monitor mode, CODE is the would-be code)
  decisions export --since DATE [--until DATE] [--format jsonl|csv]
                                                   stream the log (DATE: 2025-03-30 or RFC 3339);
                                                   jsonl is the replay's input: gateway replay FILE
  tail [USER DOMAIN] [--interval 1s] [--count N]   follow new decisions (Ctrl-C stops)
  codes                                            the published reason codes
  version                                          the build's version

Global flags (before or after the command)
  --url URL      gateway API (default $TFPS_API_URL, else http://127.0.0.1:8080)
  --token TOKEN  admin token (default $TFPS_API_TOKEN)
  --json         print JSON instead of tables
`

// cli is one invocation.
type cli struct {
	url, token string
	json       bool
	svc        api.Service
	in         io.Reader // standard input: the PIN of pin set
	out, errw  io.Writer
}

// usageError is a command-line mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{in: stdin, out: stdout, errw: stderr, url: getenv("TFPS_API_URL"), token: getenv("TFPS_API_TOKEN")}
	if c.url == "" {
		c.url = "http://127.0.0.1:8080"
	}
	err := c.dispatch(ctx, args)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tfpsctl: %s\n\n%s", ue.msg, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "tfpsctl: %s\n", message(err))
		return exitError
	}
}

// message is what the operator sees: the API's message, with the code when
// it helps (not found, conflict, forbidden).
func message(err error) string {
	var te *tfps.Error
	if errors.As(err, &te) {
		switch te.Code {
		case tfps.EINVALID, tfps.EINTERNAL:
			return te.Message
		}
		return te.Message + " (" + te.Code + ")"
	}
	return err.Error()
}

// flags returns a flag set holding the global flags plus the command's.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.url, "url", c.url, "gateway API base URL")
	fs.StringVar(&c.token, "token", c.token, "admin API token")
	fs.BoolVar(&c.json, "json", c.json, "print JSON")
	return fs
}

// parse parses flags wherever they appear among args and returns the
// positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *cli) connect() error {
	cl, err := api.NewClient(c.url, c.token, nil)
	if err != nil {
		return err
	}
	c.svc = cl
	return nil
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	// Global flags before the command.
	fs := c.flags("tfpsctl")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	args = fs.Args()
	if len(args) == 0 {
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help":
		return flag.ErrHelp
	case "version":
		fmt.Fprintf(c.out, "tfpsctl %s\n", command.VersionString())
		return nil
	}
	h, ok := commands[cmd]
	if !ok {
		return usagef("unknown command %q", cmd)
	}
	return h(c, ctx, rest)
}

type handler func(c *cli, ctx context.Context, args []string) error

var commands map[string]handler

func init() {
	commands = map[string]handler{
		"list": (*cli).list, "show": (*cli).show, "add": (*cli).add, "set": (*cli).set,
		"remove": (*cli).remove, "reset": (*cli).reset, "block": (*cli).block, "unblock": (*cli).unblock,
		"allow": (*cli).allow, "disallow": (*cli).disallow, "blacklist": (*cli).blacklist, "ranges": (*cli).ranges,
		"decisions": (*cli).decisions, "tail": (*cli).tail, "codes": (*cli).codes,
		"blocks": (*cli).blocks, "clear": (*cli).clear, "domain": (*cli).domain, "outbox": (*cli).outbox,
		"history": (*cli).history, "pin": (*cli).pin,
		"rules": (*cli).rules, "profile": (*cli).profile,
	}
}

// args parses the command's flags and checks the number of positional
// arguments, then connects.
func (c *cli) args(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != len(names) {
		return nil, usagef("%s: expected %s", fs.Name(), strings.Join(names, " "))
	}
	return pos, c.connect()
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) table(header string, rows func(w io.Writer)) {
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	rows(w)
	w.Flush()
}

func countries(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (c *cli) list(ctx context.Context, args []string) error {
	fs := c.flags("list")
	domain := fs.String("domain", "", "only this domain")
	limit := fs.Int("limit", 0, "page size (default 100, at most 1000)")
	offset := fs.Int("offset", 0, "skip this many accounts")
	all := fs.Bool("all", false, "every account, fetched a page at a time")
	if _, err := c.args(fs, args); err != nil {
		return err
	}
	p, err := c.svc.ListAccounts(ctx, api.AccountQuery{Domain: *domain, Limit: *limit, Offset: *offset})
	if err != nil {
		return err
	}
	for *all && p.Offset+len(p.Accounts) < p.Total {
		next, err := c.svc.ListAccounts(ctx, api.AccountQuery{Domain: *domain, Limit: p.Limit, Offset: p.Offset + len(p.Accounts)})
		if err != nil {
			return err
		}
		if len(next.Accounts) == 0 {
			break // accounts deleted meanwhile
		}
		p.Accounts, p.Total, p.Limit = append(p.Accounts, next.Accounts...), next.Total, next.Limit
	}
	if *all {
		p.Limit = len(p.Accounts)
	}
	if c.json {
		return c.printJSON(p)
	}
	c.table("USER\tDOMAIN\tCREATED\tCC\tCC OFF\tQUOTA\tQUOTA OFF\tSOURCE\tDESTINATION\tBLOCKED\tMODE", func(w io.Writer) {
		for _, a := range p.Accounts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", a.User, a.Domain, day(a.CreatedAt), a.ConcurrentCalls, a.ConcurrentCallsOff,
				a.DailyQuota, a.DailyQuotaOff, countries(a.SourceCountries), countries(a.DestinationCountries), yes(a.Blocked), modeName(a.Mode))
		}
	})
	if p.Offset+len(p.Accounts) < p.Total || p.Offset > 0 {
		fmt.Fprintf(c.out, "accounts %d-%d of %d (--offset %d for the next page)\n", p.Offset+1, p.Offset+len(p.Accounts), p.Total, p.Offset+len(p.Accounts))
	}
	return nil
}

// modeName shows an account's mode; "" follows the gateway's TFPS_MODE.
func modeName(m string) string {
	if m == "" {
		return "inherit"
	}
	return m
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *cli) printAccount(a *api.Account) error {
	if c.json {
		return c.printJSON(a)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "account\t%s@%s (id %d)\n", a.User, a.Domain, a.ID)
	fmt.Fprintf(w, "email\t%s\n", dash(a.Email))
	fmt.Fprintf(w, "concurrent calls\t%d in hours, %d off hours\n", a.ConcurrentCalls, a.ConcurrentCallsOff)
	fmt.Fprintf(w, "daily quota\t%d in hours, %d off hours\n", a.DailyQuota, a.DailyQuotaOff)
	if a.Today != nil {
		fmt.Fprintf(w, "calls on %s\t%d in hours, %d off hours\n", a.Today.Date, a.Today.Calls, a.Today.CallsOff)
	}
	fmt.Fprintf(w, "source countries\t%s\n", countries(a.SourceCountries))
	fmt.Fprintf(w, "destination countries\t%s\n", countries(a.DestinationCountries))
	fmt.Fprintf(w, "blocked\t%s\n", yes(a.Blocked))
	fmt.Fprintf(w, "mode\t%s\n", modeName(a.Mode))
	fmt.Fprintf(w, "language\t%s\n", dash(a.Language))
	fmt.Fprintf(w, "home country\t%s\n", dash(a.HomeCountry))
	fmt.Fprintf(w, "time zone\t%s\n", dash(a.Timezone))
	fmt.Fprintf(w, "business hours\t%s\n", dash(a.BusinessHours))
	for _, v := range a.Verified {
		what := v.Kind
		if v.Range != "" {
			what = "numbers of range +" + v.Range
		}
		fmt.Fprintf(w, "proved\t%d %s from %s until %s\n", v.Level, what, dash(v.SourceCountry), v.Until.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "own PIN\t%s\n", yes(a.HasPIN))
	fmt.Fprintf(w, "created\t%s\n", day(a.CreatedAt))
	fmt.Fprintf(w, "updated\t%s\n", day(a.UpdatedAt))
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) show(ctx context.Context, args []string) error {
	pos, err := c.args(c.flags("show"), args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	a, err := c.svc.GetAccount(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	h, err := c.svc.History(ctx, pos[0], pos[1], 1)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(struct {
			*api.Account
			Learning string            `json:"learning"`
			Trained  *learning.Trained `json:"trained,omitempty"`
		}{a, h.Learning, h.Trained})
	}
	if err := c.printAccount(a); err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	printTrained(w, h)
	return w.Flush()
}

// accountFlags binds the account fields; input returns the ones given.
type accountFlags struct {
	fs                  *flag.FlagSet
	email               string
	cc, ccOff           int
	quota, quotaOff     int
	source, destination string
	language, home      string
	mode                string
	timezone, hours     string
}

func (c *cli) accountFlags(name string) *accountFlags {
	f := &accountFlags{fs: c.flags(name)}
	f.fs.StringVar(&f.email, "email", "", "notification address")
	f.fs.IntVar(&f.cc, "cc", 0, "concurrent calls in business hours")
	f.fs.IntVar(&f.ccOff, "cc-off", 0, "concurrent calls off hours")
	f.fs.IntVar(&f.quota, "quota", 0, "daily calls in business hours")
	f.fs.IntVar(&f.quotaOff, "quota-off", 0, "daily calls off hours")
	f.fs.StringVar(&f.source, "source", "", "source countries, comma separated")
	f.fs.StringVar(&f.destination, "destination", "", "destination countries, comma separated")
	f.fs.StringVar(&f.language, "language", "", "prompt language (en, es, fr, pt-BR)")
	f.fs.StringVar(&f.home, "home", "", "home country for national numbers")
	f.fs.StringVar(&f.mode, "mode", "", "inherit (the gateway's TFPS_MODE), enforce or monitor")
	f.fs.StringVar(&f.timezone, "timezone", "", "time zone of the account's business hours, e.g. Europe/Madrid (\"\": the home country's)")
	f.fs.StringVar(&f.hours, "business-hours", "", "the account's own business hours, TFPS_BUSINESS_HOURS layout (\"\": the operator's rule in the account's zone)")
	return f
}

func (f *accountFlags) input(user, domain string) *api.AccountInput {
	in := &api.AccountInput{User: user, Domain: domain}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "email":
			in.Email = &f.email
		case "cc":
			in.ConcurrentCalls = &f.cc
		case "cc-off":
			in.ConcurrentCallsOff = &f.ccOff
		case "quota":
			in.DailyQuota = &f.quota
		case "quota-off":
			in.DailyQuotaOff = &f.quotaOff
		case "source":
			l := splitList(f.source)
			in.SourceCountries = &l
		case "destination":
			l := splitList(f.destination)
			in.DestinationCountries = &l
		case "language":
			in.Language = &f.language
		case "home":
			in.HomeCountry = &f.home
		case "mode":
			m := f.mode
			if m == "inherit" {
				m = ""
			}
			in.Mode = &m
		case "timezone":
			in.Timezone = &f.timezone
		case "business-hours":
			in.BusinessHours = &f.hours
		}
	})
	return in
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (c *cli) add(ctx context.Context, args []string) error {
	f := c.accountFlags("add")
	pos, err := c.args(f.fs, args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	a, err := c.svc.CreateAccount(ctx, f.input(pos[0], pos[1]))
	if err != nil {
		return err
	}
	return c.printAccount(a)
}

func (c *cli) set(ctx context.Context, args []string) error {
	f := c.accountFlags("set")
	pos, err := c.args(f.fs, args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	in := f.input(pos[0], pos[1])
	if f.fs.NFlag() == 0 || (*in == api.AccountInput{User: pos[0], Domain: pos[1]}) {
		return usagef("set: give at least one account flag")
	}
	a, err := c.svc.UpdateAccount(ctx, pos[0], pos[1], in)
	if err != nil {
		return err
	}
	return c.printAccount(a)
}

// done reports a change without output for --json users beyond the object.
func (c *cli) done(format string, args ...any) error {
	if c.json {
		return c.printJSON(map[string]string{"status": "ok", "message": fmt.Sprintf(format, args...)})
	}
	fmt.Fprintf(c.out, format+"\n", args...)
	return nil
}

func (c *cli) remove(ctx context.Context, args []string) error {
	pos, err := c.args(c.flags("remove"), args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	if err := c.svc.DeleteAccount(ctx, pos[0], pos[1]); err != nil {
		return err
	}
	return c.done("removed %s@%s", pos[0], pos[1])
}

func (c *cli) reset(ctx context.Context, args []string) error {
	pos, err := c.args(c.flags("reset"), args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	a, err := c.svc.ResetAccount(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(a)
	}
	return c.done("reset the daily counters of %s@%s for %s", pos[0], pos[1], a.Today.Date)
}

func (c *cli) setBlocked(ctx context.Context, name string, args []string, blocked bool) error {
	pos, err := c.args(c.flags(name), args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	a, err := c.svc.SetBlocked(ctx, pos[0], pos[1], blocked)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(a)
	}
	return c.done("%sed %s@%s", name, pos[0], pos[1])
}

func (c *cli) block(ctx context.Context, args []string) error {
	return c.setBlocked(ctx, "block", args, true)
}

func (c *cli) unblock(ctx context.Context, args []string) error {
	return c.setBlocked(ctx, "unblock", args, false)
}

func (c *cli) country(ctx context.Context, name string, args []string, allow bool) error {
	pos, err := c.args(c.flags(name), args, "USER", "DOMAIN", "source|destination", "COUNTRY")
	if err != nil {
		return err
	}
	dir := api.Direction(pos[2])
	if dir != api.Source && dir != api.Destination {
		return usagef("%s: %q is not source or destination", name, pos[2])
	}
	var a *api.Account
	if allow {
		a, err = c.svc.AllowCountry(ctx, pos[0], pos[1], dir, pos[3])
	} else {
		a, err = c.svc.DisallowCountry(ctx, pos[0], pos[1], dir, pos[3])
	}
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(a)
	}
	l := a.SourceCountries
	if dir == api.Destination {
		l = a.DestinationCountries
	}
	return c.done("%s countries of %s@%s: %s", dir, a.User, a.Domain, countries(l))
}

func (c *cli) allow(ctx context.Context, args []string) error {
	return c.country(ctx, "allow", args, true)
}

func (c *cli) disallow(ctx context.Context, args []string) error {
	return c.country(ctx, "disallow", args, false)
}

func (c *cli) blacklist(ctx context.Context, args []string) error {
	fs := c.flags("blacklist")
	note := fs.String("note", "", "why the entry is there (add)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("blacklist: expected list, add or remove")
	}
	switch sub := pos[0]; {
	case sub == "list" && len(pos) <= 2:
		kind := ""
		if len(pos) == 2 {
			kind = pos[1]
		}
		if err := c.connect(); err != nil {
			return err
		}
		l, err := c.svc.ListBlacklist(ctx, kind)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		c.table("KIND\tVALUE\tNOTE\tADDED", func(w io.Writer) {
			for _, e := range l {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Kind, e.Value, dash(e.Note), day(e.CreatedAt))
			}
		})
		return nil
	case sub == "add" && len(pos) == 3:
		if err := c.connect(); err != nil {
			return err
		}
		e, err := c.svc.AddBlacklist(ctx, &api.BlacklistEntry{Kind: pos[1], Value: pos[2], Note: *note})
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(e)
		}
		return c.done("added %s %s", e.Kind, e.Value)
	case sub == "remove" && len(pos) == 3:
		if err := c.connect(); err != nil {
			return err
		}
		if err := c.svc.RemoveBlacklist(ctx, pos[1], pos[2]); err != nil {
			return err
		}
		return c.done("removed %s %s", pos[1], pos[2])
	}
	return usagef("blacklist: expected list [KIND], add KIND VALUE or remove KIND VALUE")
}

// csvImporter sends a range file as it is (api.Client), so the server
// names a bad row by its line in the file.
type csvImporter interface {
	ImportRangesCSV(ctx context.Context, csv io.Reader) ([]api.Range, error)
}

func (c *cli) ranges(ctx context.Context, args []string) error {
	pos, err := parse(c.flags("ranges"), args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("ranges: expected list, import or remove")
	}
	switch sub := pos[0]; {
	case sub == "list" && len(pos) == 1:
		if err := c.connect(); err != nil {
			return err
		}
		l, err := c.svc.ListRanges(ctx)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		c.table("PREFIX\tLEVEL\tSOURCE\tCOMMENT\tADDED", func(w io.Writer) {
			for _, r := range l {
				fmt.Fprintf(w, "+%s\t%s\t%s\t%s\t%s\n", r.Prefix, r.Level, dash(r.Source), dash(r.Comment), day(r.CreatedAt))
			}
		})
		return nil
	case sub == "import" && len(pos) == 2:
		f, err := os.Open(pos[1])
		if err != nil {
			return fmt.Errorf("ranges import: %w", err)
		}
		defer f.Close()
		if err := c.connect(); err != nil {
			return err
		}
		imp, ok := c.svc.(csvImporter)
		if !ok {
			return fmt.Errorf("ranges import: this connection can not send a CSV file")
		}
		l, err := imp.ImportRangesCSV(ctx, f)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		return c.done("imported %d range(s) from %s", len(l), pos[1])
	case sub == "remove" && len(pos) == 2:
		if err := c.connect(); err != nil {
			return err
		}
		if err := c.svc.RemoveRange(ctx, pos[1]); err != nil {
			return err
		}
		return c.done("removed range %s", pos[1])
	}
	return usagef("ranges: expected list, import FILE.csv or remove PREFIX")
}

// accountArgs accepts no positional arguments (every account) or USER DOMAIN.
func accountArgs(name string, pos []string) (user, domain string, err error) {
	switch len(pos) {
	case 0:
		return "", "", nil
	case 2:
		return pos[0], pos[1], nil
	}
	return "", "", usagef("%s: expected no arguments or USER DOMAIN", name)
}

func (c *cli) printDecisions(w io.Writer, ds []api.Decision) {
	for _, d := range ds {
		extra := d.Flow
		if d.Ticket != "" {
			extra += " ticket " + d.Ticket
		}
		fmt.Fprintf(w, "%d\t%s\t%s@%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.At.UTC().Format("2006-01-02 15:04:05.000"), d.User, d.Domain,
			dash(d.Caller), d.Number, d.SourceIP, d.Code, yes(d.Enforced), d.Reason, dash(extra))
	}
}

// decisionHeader: CODE is what the checks found; ENFORCED "no" marks a
// monitor-mode decision, whose caller was approved (CODE is the would-be
// code).
const decisionHeader = "ID\tTIME (UTC)\tACCOUNT\tFROM\tTO\tSOURCE\tCODE\tENFORCED\tREASON\tFLOW"

func (c *cli) decisions(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "export" {
		return c.export(ctx, args[1:])
	}
	fs := c.flags("decisions")
	limit := fs.Int("limit", 20, "how many (at most 1000)")
	callID := fs.String("call-id", "", "only the decisions of this call id")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	user, domain, err := accountArgs("decisions", pos)
	if err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ds, err := c.svc.Decisions(ctx, api.DecisionQuery{User: user, Domain: domain, CallID: *callID, Limit: *limit})
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(ds)
	}
	c.table(decisionHeader, func(w io.Writer) { c.printDecisions(w, ds) })
	return nil
}

// tail prints the last few decisions, then polls for newer ones (AfterID)
// until interrupted or --count rows were printed.
func (c *cli) tail(ctx context.Context, args []string) error {
	fs := c.flags("tail")
	interval := fs.Duration("interval", time.Second, "poll interval")
	last := fs.Int("last", 10, "decisions shown before following")
	count := fs.Int("count", 0, "stop after this many new decisions (0: never)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	user, domain, err := accountArgs("tail", pos)
	if err != nil {
		return err
	}
	if *interval < 50*time.Millisecond {
		return usagef("tail: --interval must be at least 50ms")
	}
	if err := c.connect(); err != nil {
		return err
	}
	q := api.DecisionQuery{User: user, Domain: domain, Limit: max(*last, 1)}
	ds, err := c.svc.Decisions(ctx, q)
	if err != nil {
		return err
	}
	if len(ds) > 0 {
		q.AfterID = ds[0].ID
	}
	if *last == 0 {
		ds = nil
	}
	// Newest first from the API: print oldest first.
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	if !c.json {
		fmt.Fprintln(w, decisionHeader)
	}
	emit := func(ds []api.Decision) error {
		if c.json {
			enc := json.NewEncoder(c.out)
			for _, d := range ds {
				if err := enc.Encode(d); err != nil {
					return err
				}
			}
			return nil
		}
		c.printDecisions(w, ds)
		return w.Flush()
	}
	if err := emit(ds); err != nil {
		return err
	}
	seen := 0
	q.Limit = 1000
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for *count == 0 || seen < *count {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		ds, err := c.svc.Decisions(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if *count > 0 && seen+len(ds) > *count {
			ds = ds[:*count-seen]
		}
		if len(ds) > 0 {
			q.AfterID = ds[len(ds)-1].ID
			seen += len(ds)
		}
		if err := emit(ds); err != nil {
			return err
		}
	}
	return nil
}

func (c *cli) codes(ctx context.Context, args []string) error {
	if _, err := c.args(c.flags("codes"), args); err != nil {
		return err
	}
	codes, err := c.svc.Codes(ctx)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(codes)
	}
	c.table("CODE\tRESULT\tFLOW\tCHECK\tMEANING", func(w io.Writer) {
		for _, x := range codes {
			res := x.Result
			if x.Reserved {
				res = "reserved"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", x.Code, res, dash(x.Flow), dash(x.Check), x.Meaning)
		}
	})
	return nil
}
