package sipfront

import (
	"github.com/voipshield/tfps/engine"
)

// Answer is the SIP final response for one decision.
type Answer struct {
	Status  int
	Reason  string
	Contact string // redirect target (sip:...), 302 only
	Code    string // the engine's code (A00, R05, V01 ...), sent as X-Tfps-Code; in monitor mode the would-be code
}

// AnswerOptions are the settings that shape answers.
type AnswerOptions struct {
	Method       int    // 302 or 503 (TFPS_AUTHORIZE_METHOD)
	ContactHost  string // host[:port] of A00/Rnn Contacts
	VerifyPrefix string // request-user prefix of verify redirects
	IVRAddress   string // host[:port] of the IVR Asterisk
}

// ApprovedPrefix is the Contact user prefix of every approved call. A01
// (approved unchecked under the approve error policy) also answers A00 so
// that PBX scripts written for TFPS, which match ^A00, dial it; the precise
// code travels in X-Tfps-Code.
const ApprovedPrefix = "A00"

// AnswerFor maps a decision to the SIP answer. number is the dialled number
// (the request user). An unknown result is a programming error: it gets 500
// (never 503, which is an approval in failover mode) and ok=false so the
// caller logs it loudly.
//
// A monitor-mode decision (not enforced) is an approval, answered A00 or
// 503 as any other; its Code is the would-be code, so the PBX sees what
// enforcement would have done in X-Tfps-Code while the call goes on.
func AnswerFor(d engine.Decision, number string, o AnswerOptions) (a Answer, ok bool) {
	a.Code = d.Effective().Code.String()
	switch d.Result {
	case engine.Approve:
		if o.Method == 503 {
			return Answer{Status: 503, Reason: "Service Unavailable", Code: a.Code}, true
		}
		return Answer{Status: 302, Reason: "Moved Temporarily", Contact: "sip:" + ApprovedPrefix + number + "@" + o.ContactHost, Code: a.Code}, true
	case engine.Reject:
		if o.Method == 503 {
			return Answer{Status: 603, Reason: "Declined", Code: a.Code}, true
		}
		return Answer{Status: 302, Reason: "Moved Temporarily", Contact: "sip:" + d.Code.String() + number + "@" + o.ContactHost, Code: a.Code}, true
	case engine.Verify:
		if d.Ticket == "" {
			return Answer{Status: 500, Reason: "Server Internal Error", Code: a.Code}, false
		}
		return Answer{Status: 302, Reason: "Moved Temporarily", Contact: "sip:" + o.VerifyPrefix + d.Ticket + "@" + o.IVRAddress, Code: a.Code}, true
	}
	return Answer{Status: 500, Reason: "Server Internal Error", Code: a.Code}, false
}
