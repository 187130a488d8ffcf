package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/voipshield/tfps/command"
	"github.com/voipshield/tfps/prompts"
	"github.com/voipshield/tfps/tts"
)

// renderCommand pre-renders the prompt catalogue into TFPS_IVR_SOUNDS_DIR
// with espeak-ng + sox: 8 kHz mono 16-bit WAV, which Asterisk plays natively.
func renderCommand() command.Command {
	return command.Command{
		Name:    "render",
		Summary: "render the prompts offline (espeak-ng + sox) into TFPS_IVR_SOUNDS_DIR: render [--force] [--dir DIR] [lang ...]",
		Run: func(ctx context.Context, env *command.Env) error {
			fs := flag.NewFlagSet("render", flag.ContinueOnError)
			fs.SetOutput(env.Stderr)
			dir := fs.String("dir", env.Config.IVR.SoundsDir, "output folder (<lang>/<prompt>.wav)")
			force := fs.Bool("force", false, "render every prompt, even unchanged ones")
			if err := fs.Parse(env.Args); err != nil {
				return err
			}
			n, err := prompts.Render(ctx, tts.Espeak{}, *dir, fs.Args(), *force)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "rendered %d prompt files into %s\n", n, *dir)
			if stale := prompts.Stale(*dir); len(stale) > 0 && len(fs.Args()) == 0 {
				return fmt.Errorf("still stale after rendering: %v", stale)
			}
			return nil
		},
	}
}
