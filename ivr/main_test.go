package ivr_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets the end-to-end tests run side by side: each has its own
// Asterisk and mostly waits for prompts to play (about 20 s of audio per
// call), so the default parallelism (GOMAXPROCS, 2 in CI) would only add up
// their waiting. An explicit -test.parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "12")
	}
	os.Exit(m.Run())
}
