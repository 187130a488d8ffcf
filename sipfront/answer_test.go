package sipfront

import (
	"testing"

	"github.com/voipshield/tfps/engine"
)

func TestAnswerFor(t *testing.T) {
	o302 := AnswerOptions{Method: 302, ContactHost: "203.0.113.5", VerifyPrefix: "V", IVRAddress: "198.51.100.7:5080"}
	o503 := o302
	o503.Method = 503
	tests := []struct {
		name string
		d    engine.Decision
		o    AnswerOptions
		want Answer
		ok   bool
	}{
		{"approve 302", engine.Decision{Result: engine.Approve, Code: engine.A00}, o302, Answer{302, "Moved Temporarily", "sip:A00+4420794600@203.0.113.5", "A00"}, true},
		{"approve unchecked 302 still A00 for TFPS scripts", engine.Decision{Result: engine.Approve, Code: engine.A01}, o302, Answer{302, "Moved Temporarily", "sip:A00+4420794600@203.0.113.5", "A01"}, true},
		{"reject 302", engine.Decision{Result: engine.Reject, Code: engine.R06}, o302, Answer{302, "Moved Temporarily", "sip:R06+4420794600@203.0.113.5", "R06"}, true},
		{"reject dependency 302", engine.Decision{Result: engine.Reject, Code: engine.R19}, o302, Answer{302, "Moved Temporarily", "sip:R19+4420794600@203.0.113.5", "R19"}, true},
		{"verify 302", engine.Decision{Result: engine.Verify, Code: engine.V03, Ticket: "0123456789012345"}, o302, Answer{302, "Moved Temporarily", "sip:V0123456789012345@198.51.100.7:5080", "V03"}, true},
		{"approve 503 is 503", engine.Decision{Result: engine.Approve, Code: engine.A00}, o503, Answer{503, "Service Unavailable", "", "A00"}, true},
		{"reject 503 is 603", engine.Decision{Result: engine.Reject, Code: engine.R01}, o503, Answer{603, "Declined", "", "R01"}, true},
		{"verify 503 still redirects", engine.Decision{Result: engine.Verify, Code: engine.V01, Ticket: "42"}, o503, Answer{302, "Moved Temporarily", "sip:V42@198.51.100.7:5080", "V01"}, true},
		{"verify without ticket is a bug, never 503", engine.Decision{Result: engine.Verify, Code: engine.V01}, o503, Answer{500, "Server Internal Error", "", "V01"}, false},
		{"monitor: would-be reject 302 is A00 with the would-be code", monitored(engine.Reject, engine.R06), o302, Answer{302, "Moved Temporarily", "sip:A00+4420794600@203.0.113.5", "R06"}, true},
		{"monitor: would-be reject 503 is 503 (approved) with the would-be code", monitored(engine.Reject, engine.R06), o503, Answer{503, "Service Unavailable", "", "R06"}, true},
		{"monitor: would-be verify needs no ticket", monitored(engine.Verify, engine.V03), o302, Answer{302, "Moved Temporarily", "sip:A00+4420794600@203.0.113.5", "V03"}, true},
		{"monitor: would-be approve", monitored(engine.Approve, engine.A00), o503, Answer{503, "Service Unavailable", "", "A00"}, true},
		{"unknown result is a bug, never 503", engine.Decision{}, o503, Answer{500, "Server Internal Error", "", "Code(0)"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AnswerFor(tc.d, "+4420794600", tc.o)
			if got != tc.want || ok != tc.ok {
				t.Errorf("AnswerFor = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// monitored is a monitor-mode decision whose checks found result and code.
func monitored(result engine.Result, code engine.Code) engine.Decision {
	return engine.Decision{Result: engine.Approve, Code: engine.A00, WouldBe: &engine.Outcome{Result: result, Code: code}}
}
