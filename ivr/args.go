package ivr

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/voipshield/tfps/engine"
)

// ChangeContext is the dialplan context of the change of parameters
// (asterisk/extensions.conf, extension 877). The change flow names its
// account in the Stasis arguments, so it is accepted only from a channel
// that entered the app from this context: a caller who smuggles commas into
// a verify extension (sip:Vchange,1001,pbx.example.com@box) must not reach
// it and get another account's PIN guessed, and blocked.
const ChangeContext = "tfps-change"

// errBadArgs is wrapped by checkArgs for any argument list the dialplan
// does not produce.
var errBadArgs = errors.New("stasis arguments refused")

// changeUserRE bounds the account user of the change flow, which comes
// from the caller ID: what a SIP user part of a phone account holds, and
// never a comma.
var changeUserRE = regexp.MustCompile(`^[A-Za-z0-9+._-]{1,64}$`)

// changeDomainRE bounds the account domain (the endpoint's TFPS_DOMAIN).
var changeDomainRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$`)

// checkArgs accepts only the argument lists the shipped dialplan produces,
// before anything is read from Redis or SQL:
//
//	<ticket>            tfps-verify: 16 digits, as issued
//	<ticket>,continue   tfps-verify-continue
//	change,<user>,<domain>  tfps-change only (context is the channel's
//	                        dialplan context at StasisStart)
func checkArgs(args []string, context string) error {
	switch {
	case len(args) == 0 || args[0] == "":
		return fmt.Errorf("%w: no ticket", errBadArgs)
	case args[0] == string(engine.FlowChange):
		if context != ChangeContext {
			return fmt.Errorf("%w: change flow from context %q, only %s may start it", errBadArgs, context, ChangeContext)
		}
		if len(args) != 3 || !changeUserRE.MatchString(args[1]) || !changeDomainRE.MatchString(args[2]) {
			return fmt.Errorf("%w: change flow needs exactly a user and a domain, got %d argument(s)", errBadArgs, len(args))
		}
		return nil
	case !engine.ValidTicketID(args[0]):
		return fmt.Errorf("%w: ticket %q is not %d digits", errBadArgs, args[0], engine.TicketIDDigits)
	case len(args) == 1, len(args) == 2 && args[1] == "continue":
		return nil
	}
	return fmt.Errorf("%w: %d arguments after the ticket", errBadArgs, len(args)-1)
}
