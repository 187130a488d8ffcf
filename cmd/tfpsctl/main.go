// Command tfpsctl administers a TFPS gateway through its HTTP API: accounts,
// countries, daily counters, blacklists and the decision log. It prints
// tables for people and JSON (--json) for scripts, and exits non-zero with
// the API's message when something fails.
//
//	tfpsctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]
//
// URL and TOKEN default to $TFPS_API_URL (else http://127.0.0.1:8080) and
// $TFPS_API_TOKEN. Run "tfpsctl help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
