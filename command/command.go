// Package command is the command-line front shared by the binaries:
// --version, --config, check-config, import-m4, config-table, migrate, and a
// run command that gets a context cancelled on SIGINT/SIGTERM so in-flight
// work finishes and connections close before exit. It also holds what the
// services' Mains share: opening the store and Redis (OpenData), the closing
// steps run in reverse order of start (Closers), the HTTP server start
// (Serve) and the /healthz answer (Health).
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/store"
)

// Version is set at build time with -ldflags "-X github.com/voipshield/tfps/command.Version=v1.2.3".
var Version = ""

// VersionString returns the build's version: the linker value, else the
// module version or VCS revision recorded by the Go toolchain.
func VersionString() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// Env is what a subcommand gets.
type Env struct {
	Config     *config.Config
	ConfigFile string // the --config file, "" when none
	Logger     *slog.Logger
	Args       []string // arguments after the subcommand
	Stdout     io.Writer
	Stderr     io.Writer
	Warnings   []string
}

// Command is a subcommand a binary adds to the shared ones.
type Command struct {
	Name    string
	Summary string
	// NoConfig commands run without loading (and validating) the configuration.
	NoConfig bool
	Run      func(ctx context.Context, env *Env) error
}

// Program describes one binary.
type Program struct {
	Name     string
	Summary  string
	Run      func(ctx context.Context, env *Env) error // the default "run" command
	Commands []Command
}

// ExitUsage and ExitConfig are the exit codes for a bad command line and an
// invalid configuration.
const (
	ExitUsage  = 64
	ExitConfig = 78
)

// Main runs the program with args (without the program name) and returns the
// process exit code.
func Main(p Program, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", os.Getenv(config.EnvFile), "env-style config file (KEY=value lines); also $"+config.EnvFile)
	showVersion := fs.Bool("version", false, "print the version and exit")
	cmds := append(p.sharedCommands(), p.Commands...)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s: %s\n\nUsage: %s [--config FILE] [command] [args]\n\nCommands:\n", p.Name, p.Summary, p.Name)
		fmt.Fprintf(stderr, "  %-14s %s\n", "run", "run the service (default)")
		for _, c := range cmds {
			fmt.Fprintf(stderr, "  %-14s %s\n", c.Name, c.Summary)
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEvery setting is a TFPS_* environment variable or a line of the config file; `%s config-table` lists them.\n", p.Name)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return ExitUsage
	}
	if *showVersion {
		fmt.Fprintf(stdout, "%s %s\n", p.Name, VersionString())
		return 0
	}
	rest := fs.Args()
	name := "run"
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	var cmd *Command
	if name == "run" {
		cmd = &Command{Name: "run", Run: p.Run}
	} else if name == "version" {
		fmt.Fprintf(stdout, "%s %s\n", p.Name, VersionString())
		return 0
	} else {
		for i := range cmds {
			if cmds[i].Name == name {
				cmd = &cmds[i]
			}
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, name)
		fs.Usage()
		return ExitUsage
	}

	env := &Env{Args: rest, Stdout: stdout, Stderr: stderr, ConfigFile: *cfgFile}
	if !cmd.NoConfig {
		cfg, warnings, err := config.Load(config.Options{File: *cfgFile})
		if err != nil {
			fmt.Fprintf(stderr, "%s: configuration: %v\n", p.Name, err)
			return ExitConfig
		}
		env.Config, env.Warnings = cfg, warnings
		env.Logger = cfg.Logger(stderr).With("service", p.Name)
		for _, w := range warnings {
			env.Logger.Warn("configuration", "warning", w)
		}
	} else {
		env.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default so a second one
		// kills a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	if err := cmd.Run(ctx, env); err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, cmd.Name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return ExitUsage
		}
		if errors.As(err, new(configError)) {
			return ExitConfig
		}
		return 1
	}
	return 0
}

type configError struct{}

func (configError) Error() string { return "configuration is invalid" }

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// UsageError reports a bad command line (exit code 64).
func UsageError(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func (p Program) sharedCommands() []Command {
	return []Command{
		{Name: "check-config", Summary: "validate the configuration and print it (secrets masked); exit 78 on errors", NoConfig: true, Run: checkConfig},
		{Name: "import-m4", Summary: "convert a TFPS defines.m4: import-m4 defines.m4 [-o tfps.conf]", NoConfig: true, Run: importM4},
		{Name: "config-table", Summary: "print every setting as a Markdown table", NoConfig: true, Run: configTable},
		{Name: "migrate", Summary: "apply pending SQL migrations and print the schema version", Run: migrate},
	}
}

func checkConfig(_ context.Context, env *Env) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if err := fs.Parse(env.Args); err != nil {
		return UsageError("check-config: %v", err)
	}
	cfg, warnings, err := config.Load(config.Options{File: env.ConfigFile})
	if cfg != nil {
		for _, s := range cfg.Settings() {
			fmt.Fprintf(env.Stdout, "%s=%s\t# %s\n", s.Key, config.FormatValue(s.Value), s.Source)
		}
	}
	if cfg != nil {
		for _, line := range cfg.ReputationServices() {
			fmt.Fprintf(env.Stderr, "reputation: %s\n", line)
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			fmt.Fprintf(env.Stderr, "\n%d error(s):\n", len(errs))
			for _, e := range errs {
				fmt.Fprintf(env.Stderr, "  %s\n", e.Error())
			}
			return configError{}
		}
		return err
	}
	fmt.Fprintln(env.Stderr, "configuration OK")
	return nil
}

func importM4(_ context.Context, env *Env) error {
	fs := flag.NewFlagSet("import-m4", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	out := fs.String("o", "", "write the config file here instead of standard output")
	// Accept the file before or after -o.
	args := env.Args
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return UsageError("import-m4: %v", err)
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" {
		return UsageError("import-m4: name the defines.m4 file to convert")
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	kvs, warnings, err := config.ImportM4(f)
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
	if err != nil {
		return err
	}
	header := []string{fmt.Sprintf("Imported from %s on %s.", file, time.Now().UTC().Format(time.RFC3339)), "Settings not listed keep their defaults; see `config-table`."}
	w := env.Stdout
	if *out != "" {
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s already exists; remove it or choose another -o", *out)
		}
		of, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("create %s: %w", *out, err)
		}
		defer of.Close()
		w = of
	}
	if err := config.WriteFile(w, header, kvs); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(env.Stderr, "wrote %d settings to %s; check them with: TFPS_CONFIG=%s <binary> check-config\n", len(kvs), *out, *out)
	}
	return nil
}

// ConfigTable renders every setting as Markdown; the README embeds it.
func ConfigTable() string {
	var b strings.Builder
	b.WriteString("| Setting | Default | Meaning |\n| --- | --- | --- |\n")
	for _, k := range config.Keys() {
		def := k.Default
		if def == "" {
			def = "(empty)"
		}
		help := strings.ReplaceAll(k.Help, "|", "\\|")
		def = strings.ReplaceAll(def, "|", "\\|")
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", k.Name, def, help)
	}
	return b.String()
}

func configTable(_ context.Context, env *Env) error {
	_, err := io.WriteString(env.Stdout, ConfigTable())
	return err
}

func migrate(ctx context.Context, env *Env) error {
	s, err := store.Open(ctx, env.Config.DatabaseURL)
	if err != nil {
		return err
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, latest, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "applied %d migration(s) %v; schema version %d of %d (%s)\n", len(applied), applied, cur, latest, s.Dialect())
	return nil
}

// CodesTable renders the engine's published reason codes as Markdown; the
// README embeds it.
func CodesTable() string {
	var b strings.Builder
	b.WriteString("| Code | Result | Meaning |\n| --- | --- | --- |\n")
	for _, c := range engine.Codes() {
		result := c.Result.String()
		if c.Reserved {
			result = "reserved"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Code, result, strings.ReplaceAll(c.Meaning, "|", "\\|"))
	}
	return b.String()
}
