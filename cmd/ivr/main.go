// Command ivr is the Asterisk ARI Stasis application that verifies callers
// by voice and learns each customer's limits.
package main

import (
	"os"

	"github.com/voipshield/tfps/command"
)

func main() {
	os.Exit(command.Main(command.Program{
		Name:    "ivr",
		Summary: "voice verification IVR (Asterisk ARI Stasis application)",
		Run:     run,
		Commands: []command.Command{
			renderCommand(),
		},
	}, os.Args[1:], os.Stdout, os.Stderr))
}
