// Command tracegen writes the synthetic month of package tracegen as JSON
// lines, the input of `gateway replay`: twelve ordinary businesses in five
// countries and seven attack scenarios, the same for the same seed.
//
//	tracegen -seed 1 -o month.jsonl
//	tracegen -seed 1 -start 2026-10-05 -days 28 > october.jsonl
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/voipshield/tfps/tracegen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tracegen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tracegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same month")
	start := fs.String("start", tracegen.DefaultStart.Format("2006-01-02"), "first day, YYYY-MM-DD")
	days := fs.Int("days", 30, "number of days")
	out := fs.String("o", "", "output file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	first, err := time.Parse("2006-01-02", *start)
	if err != nil {
		return fmt.Errorf("-start %q: want YYYY-MM-DD", *start)
	}
	if *days < 1 || *days > 366 {
		return fmt.Errorf("-days %d: want 1 to 366", *days)
	}
	recs := tracegen.Month(tracegen.Options{Seed: *seed, Start: first, Days: *days})
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := tracegen.Write(w, recs); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d call attempts from %s, %d days\n", len(recs), first.Format("2006-01-02"), *days)
	return nil
}
