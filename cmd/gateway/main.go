// Command gateway is the decision service: PBXs and proxies ask it about
// every call attempt over SIP (TFPS compatible) or HTTP.
package main

import (
	"context"
	"os"

	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/gateway"
)

func main() {
	os.Exit(command.Main(command.Program{
		Name:    "gateway",
		Summary: "telephony fraud prevention gateway: approves, rejects or sends each call attempt to voice verification",
		Run: func(ctx context.Context, env *command.Env) error {
			return gateway.Run(ctx, env.Config, env.Logger)
		},
	}, os.Args[1:], os.Stdout, os.Stderr))
}
