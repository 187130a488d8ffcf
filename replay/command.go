package replay

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/store"
)

// Command is `gateway replay`.
var Command = command.Command{
	Name:    "replay",
	Summary: "what-if: decide recorded or generated calls on a simulated clock, on private state: replay [flags] INPUT...",
	Run:     run,
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, `Usage: gateway [--config FILE] replay [flags] INPUT...
       gateway [--config FILE] replay [flags] --from-decision-log --since DATE [--until DATE]

Decides each call of the inputs with the configured settings, at the call's
own time, on a private database and Redis namespace (nothing live changes,
no mail is sent). INPUT is a file of JSON lines (the POST /v1/check fields
plus "time", and optionally "ivr", "label", "scenario"), "-" for standard
input, or an Asterisk CDR Master.csv (*.csv, or --format cdr). Several
inputs are merged by time. See docs/replay.md.

Flags:
`)
	fs.PrintDefaults()
}

func run(ctx context.Context, env *command.Env) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	outPath := fs.String("out", "", "write the decision of each line (JSON lines) here; default: standard output, with the summary table on standard error")
	sumPath := fs.String("summary-json", "", "write the summary as JSON here")
	accounts := fs.String("accounts", AccountsEmpty, "start from no accounts (empty), a copy of the configured database's accounts, blacklists and number ranges (live), or a file of accounts (the JSON of GET /v1/accounts)")
	afterPass := fs.String("after-pass", AfterPassRedial, "a caller who passes verification redials (redial) or the call continues in the dialplan (continue)")
	skipBad := fs.Bool("skip-bad", false, "count and skip bad lines instead of stopping at the first")
	seed := fs.Uint64("seed", 1, "seed of ticket ids and captcha digits")
	defIVR := fs.String("ivr", IVRSilent, "what callers do in voice verification when a line does not say: pass, fail, silent or hangup")
	fromLog := fs.Bool("from-decision-log", false, "replay the configured database's decision log instead of input files")
	since := fs.String("since", "", "with --from-decision-log: first day (YYYY-MM-DD, business-hours zone) or RFC 3339 time")
	until := fs.String("until", "", "with --from-decision-log: end, exclusive (YYYY-MM-DD or RFC 3339); default: now")
	format := fs.String("format", "auto", "input format: jsonl, cdr, or auto (cdr for *.csv)")
	accountFrom := fs.String("account-from", "accountcode", "CDR input: the account is the accountcode column (user@domain or user) or the channel's peer name (channel)")
	cdrDomain := fs.String("cdr-domain", "", "CDR input: domain of accounts that name none")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay here (go tool pprof)")
	fs.Usage = func() { usage(fs, env.Stderr) }
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return command.UsageError("replay: %v", err)
	}
	if !validIVR(*defIVR) {
		return command.UsageError("replay: --ivr %q is not pass, fail, silent or hangup", *defIVR)
	}
	inputs := fs.Args()
	if !*fromLog && len(inputs) == 0 {
		return command.UsageError("replay: name input files, or use --from-decision-log (or both: they are merged by time)")
	}

	var live *store.Store
	if *accounts == AccountsLive || *fromLog {
		var err error
		if live, err = store.Open(ctx, env.Config.DatabaseURL); err != nil {
			return err
		}
		defer live.Close()
	}

	var readers []Reader
	if *fromLog {
		loc := time.UTC
		if env.Config.BusinessHours != nil {
			loc = env.Config.BusinessHours.Location()
		}
		from, err := parseWhen(*since, loc)
		if err != nil || *since == "" {
			return command.UsageError("replay: --since %q: want YYYY-MM-DD or an RFC 3339 time", *since)
		}
		var to time.Time
		if *until != "" {
			if to, err = parseWhen(*until, loc); err != nil {
				return command.UsageError("replay: --until %q: want YYYY-MM-DD or an RFC 3339 time", *until)
			}
		}
		lr, err := NewDecisionLogReader(ctx, live, from, to, *defIVR)
		if err != nil {
			return err
		}
		defer lr.(*logReader).Close()
		readers = append(readers, lr)
	}
	for _, in := range inputs {
		var f io.Reader = os.Stdin
		name := "stdin"
		if in != "-" {
			fh, err := os.Open(in)
			if err != nil {
				return fmt.Errorf("open input: %w", err)
			}
			defer fh.Close()
			f, name = fh, in
		}
		kind := *format
		if kind == "auto" {
			kind = "jsonl"
			if strings.HasSuffix(strings.ToLower(in), ".csv") {
				kind = "cdr"
			}
		}
		switch kind {
		case "jsonl":
			readers = append(readers, withDefaultIVR(NewJSONReader(name, f), *defIVR))
		case "cdr":
			cr, err := NewCDRReader(name, f, *accountFrom, *cdrDomain)
			if err != nil {
				return command.UsageError("replay: %v", err)
			}
			if env.Config.BusinessHours != nil {
				cr.In(env.Config.BusinessHours.Location())
			}
			readers = append(readers, withDefaultIVR(cr, *defIVR))
		default:
			return command.UsageError("replay: --format %q is not jsonl, cdr or auto", *format)
		}
	}

	out, table := env.Stdout, env.Stderr
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer f.Close()
		out, table = f, env.Stdout
	}

	rp, err := New(ctx, Options{
		Config: env.Config, Accounts: *accounts, Live: live, AfterPass: *afterPass, SkipBad: *skipBad, Seed: *seed, Logger: env.Logger,
	})
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
	}
	start := time.Now()
	sum, runErr := rp.Run(ctx, newMerge(readers), out)
	elapsed := time.Since(start)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := rp.Close(cctx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if *outPath != "" {
		if f, ok := out.(*os.File); ok {
			if err := f.Close(); err != nil {
				runErr = errors.Join(runErr, fmt.Errorf("close output: %w", err))
			}
		}
	}
	if err := sum.WriteText(table); err != nil {
		return err
	}
	if sum.Lines > 0 && elapsed > 0 {
		fmt.Fprintf(env.Stderr, "replayed %d lines in %s (%.0f lines/s)\n", sum.Lines, elapsed.Round(time.Millisecond), float64(sum.Lines)/elapsed.Seconds())
	}
	if *sumPath != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		if err := os.WriteFile(*sumPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	return runErr
}

// parseWhen reads a date (midnight in loc) or an RFC 3339 time.
func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// withDefaultIVR gives lines without an ivr value the default.
func withDefaultIVR(r Reader, def string) Reader {
	if def == IVRSilent || def == "" {
		return r
	}
	return defaultIVR{r, def}
}

type defaultIVR struct {
	Reader
	def string
}

func (d defaultIVR) Next() (*Line, error) {
	l, err := d.Reader.Next()
	if l != nil && l.IVR == "" {
		l.IVR = d.def
	}
	return l, err
}

// SampleCommand is `gateway replay-sample`: a deterministic file of JSON
// lines for trying and benchmarking the replay.
var SampleCommand = command.Command{
	Name:     "replay-sample",
	Summary:  "write a generated, repeatable replay input: replay-sample [--lines N] [--accounts N] [--days N] [--seed N]",
	NoConfig: true,
	Run: func(_ context.Context, env *command.Env) error {
		fs := flag.NewFlagSet("replay-sample", flag.ContinueOnError)
		fs.SetOutput(env.Stderr)
		lines := fs.Int("lines", 10000, "lines to write")
		accounts := fs.Int("accounts", 1000, "accounts calling")
		days := fs.Int("days", 30, "days the calls spread over")
		seed := fs.Uint64("seed", 1, "random seed")
		start := fs.String("start", "2025-03-01T00:00:00Z", "time of the first call (RFC 3339)")
		if err := fs.Parse(env.Args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return command.UsageError("replay-sample: %v", err)
		}
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return command.UsageError("replay-sample: --start %q is not RFC 3339", *start)
		}
		return WriteSample(env.Stdout, SampleOptions{Lines: *lines, Accounts: *accounts, Start: t, Span: time.Duration(*days) * 24 * time.Hour, Seed: *seed})
	},
}
