package tfps

import (
	"errors"
	"fmt"
)

// Application error codes. They survive the HTTP round trip, so the admin CLI
// can tell "not found" from "invalid input" without matching text.
const (
	ECONFLICT    = "conflict"    // the object already exists (unique user+domain, duplicate blacklist entry)
	EINVALID     = "invalid"     // the input is wrong; the message says which field and why
	ENOTFOUND    = "not_found"   // no such object
	EUNAVAILABLE = "unavailable" // a dependency (Redis, SQL, SMTP) did not answer in time
	EINTERNAL    = "internal"    // anything else; details are logged, never sent to clients
	EFORBIDDEN   = "forbidden"   // missing or wrong credentials
)

// ErrUnavailable is wrapped by the errors of a dependency (Redis, SQL) that
// did not answer in time, whichever package reached it: the caller may try
// again. Such errors carry no *Error; an API maps them to EUNAVAILABLE.
var ErrUnavailable = errors.New("unavailable")

// Error is an application error with a machine-readable code and a message
// that is safe to show to the operator.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the operator-safe message of err: the message of the
// first *Error in its chain, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
