// Command ivr is the Asterisk ARI Stasis application that verifies callers
// by voice and learns each customer's limits.
package main

import (
	"context"
	"os"

	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/ivrservice"
)

func main() {
	os.Exit(command.Main(command.Program{
		Name:    "ivr",
		Summary: "voice verification IVR (Asterisk ARI Stasis application)",
		Run: func(ctx context.Context, env *command.Env) error {
			return ivrservice.Run(ctx, env.Config, env.Logger)
		},
		Commands: []command.Command{
			renderCommand(),
		},
	}, os.Args[1:], os.Stdout, os.Stderr))
}
