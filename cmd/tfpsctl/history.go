package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/learning"
)

func (c *cli) history(ctx context.Context, args []string) error {
	fs := c.flags("history")
	days := fs.Int("days", 0, "local days shown (default 30, at most TFPS_HISTORY_DAYS)")
	pos, err := c.args(fs, args, "USER", "DOMAIN")
	if err != nil {
		return err
	}
	if *days < 0 {
		return usagef("history: --days %d is negative", *days)
	}
	h, err := c.svc.History(ctx, pos[0], pos[1], *days)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(h)
	}
	c.table("DATE\tAPPROVED\tAPPROVED OFF\tREJECTED\tREJECTED OFF\tVERIFIED\tVERIFIED OFF\tPEAK\tPEAK OFF\tSOURCE\tDESTINATION", func(w io.Writer) {
		for _, d := range h.Days {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", d.Date, d.Approved, d.ApprovedOff, d.Rejected, d.RejectedOff,
				d.Verified, d.VerifiedOff, d.Peak, d.PeakOff, countries(d.SourceCountries), countries(d.DestinationCountries))
		}
	})
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\ntoday\t%s (%s@%s)\n", h.Today, h.User, h.Domain)
	printTrained(w, h)
	return w.Flush()
}

// printTrained writes the learning lines of h: what the history trained
// and how it compares with the account's limits.
func printTrained(w io.Writer, h *api.History) {
	fmt.Fprintf(w, "learning\t%s\n", h.Learning)
	t := h.Trained
	if t == nil {
		return
	}
	if !t.Trained {
		fmt.Fprintf(w, "trained\tnot yet: %d of %d days of history\n", t.Days, t.MinDays)
	} else {
		s, l := t.Suggested, h.Limits
		fmt.Fprintf(w, "trained\tfrom %d days, %s to %s (%d business days, %d others)\n", t.Days, t.From, t.To, t.BusinessDays.Days, t.OtherDays.Days)
		line := func(name string, now, sug int, from string) {
			fmt.Fprintf(w, "  %s\t%d now, %d trained (%s)\n", name, now, sug, from)
		}
		b, o := t.BusinessDays, t.OtherDays
		line("concurrent calls", l.ConcurrentCalls, s.ConcurrentCalls, series("business-day peak", b.Peak))
		line("concurrent calls off", l.ConcurrentCallsOff, s.ConcurrentCallsOff, series("off-hours peak", b.PeakOff)+"; "+series("other days", o.PeakOff))
		line("daily quota", l.DailyQuota, s.DailyQuota, series("business-day calls", b.Calls))
		line("daily quota off", l.DailyQuotaOff, s.DailyQuotaOff, series("off-hours calls", b.CallsOff)+"; "+series("other days", o.CallsOff))
		if h.Differs {
			fmt.Fprintf(w, "differs\tyes: a limit is more than TFPS_LEARNING_DIFF_PERCENT away from its trained value\n")
		}
	}
	fmt.Fprintf(w, "usual sources\t%s\n", countries(t.UsualSources))
	fmt.Fprintf(w, "usual destinations\t%s\n", countries(t.UsualDestinations))
}

func series(name string, s learning.Series) string {
	return fmt.Sprintf("%s mean %.2f + 2 x sd %.2f", name, s.Mean, s.SD)
}

func (c *cli) pin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("pin: expected set or clear")
	}
	switch args[0] {
	case "set":
		fs := c.flags("pin set")
		fromStdin := fs.Bool("pin-stdin", false, "read the PIN from the first line of standard input")
		pos, err := c.args(fs, args[1:], "USER", "DOMAIN")
		if err != nil {
			return err
		}
		p, err := c.readPIN(*fromStdin)
		if err != nil {
			return err
		}
		a, err := c.svc.SetPIN(ctx, pos[0], pos[1], p)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(a)
		}
		return c.done("%s@%s has its own PIN now", pos[0], pos[1])
	case "clear":
		pos, err := c.args(c.flags("pin clear"), args[1:], "USER", "DOMAIN")
		if err != nil {
			return err
		}
		a, err := c.svc.ClearPIN(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(a)
		}
		return c.done("%s@%s has no PIN of its own: TFPS_PIN applies", pos[0], pos[1])
	}
	return usagef("pin: unknown subcommand %q (set or clear)", args[0])
}

// readPIN reads the PIN: one line of standard input with --pin-stdin, else
// typed twice at the terminal without echo. A PIN never comes from the
// command line, where ps and shell history would show it.
func (c *cli) readPIN(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(c.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the PIN from standard input: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
	f, ok := c.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("pin set: standard input is not a terminal; give the PIN on it with --pin-stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(c.errw, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.errw)
		if err != nil {
			return "", fmt.Errorf("read the PIN: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	p, err := ask("PIN (4 digits): ")
	if err != nil {
		return "", err
	}
	again, err := ask("PIN again: ")
	if err != nil {
		return "", err
	}
	if p != again {
		return "", errors.New("the two PINs differ; nothing changed")
	}
	return p, nil
}
