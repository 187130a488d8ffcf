// Command ivr is the Asterisk ARI Stasis application that verifies callers
// by voice and learns each customer's limits.
package main

import (
	"context"
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

// run is replaced by the IVR wiring; until then it only validates the
// configuration and waits for a signal.
func run(ctx context.Context, env *command.Env) error {
	env.Logger.Info("ivr started", "ari", env.Config.ARIURL, "app", env.Config.ARIApp)
	<-ctx.Done()
	env.Logger.Info("stopped")
	return nil
}
