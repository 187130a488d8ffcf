package state

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/voipshield/tfps/engine"
)

// The ticket codec: how an engine.Ticket is kept in Redis, as JSON, from
// the decision that stores it to the IVR that claims it. The decide script
// adds the rule-warning fields in front of an encoded ticket (decideScript),
// so the names below are the script's too.

// ticketWire is the JSON form of a ticket, for decoding.
type ticketWire struct {
	ID            string    `json:"id"`
	Flow          string    `json:"flow"`
	Code          string    `json:"code,omitempty"`
	User          string    `json:"user"`
	Domain        string    `json:"domain"`
	Country       string    `json:"country,omitempty"`
	Range         string    `json:"range,omitempty"`
	DefaultOf     string    `json:"default_of,omitempty"`
	Number        string    `json:"number,omitempty"`
	Caller        string    `json:"caller,omitempty"`
	SourceIP      string    `json:"source_ip,omitempty"`
	SourceCountry string    `json:"source_country,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	CallID        string    `json:"call_id,omitempty"`
	Observed      int       `json:"observed,omitempty"`
	Rule          int64     `json:"rule,omitempty"`
	RuleStat      string    `json:"rule_stat,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// decodeTicket reads a stored ticket. A code this build does not know (a
// newer gateway's) is left zero: the IVR runs the ticket's flow, not its
// code.
func decodeTicket(b []byte) (engine.Ticket, error) {
	var w ticketWire
	if err := json.Unmarshal(b, &w); err != nil {
		return engine.Ticket{}, err
	}
	code, _ := engine.ParseCode(w.Code)
	return engine.Ticket{
		ID: w.ID, Code: code, Flow: engine.Flow(w.Flow), Country: w.Country, Range: w.Range, DefaultOf: w.DefaultOf,
		User: w.User, Domain: w.Domain, Number: w.Number, Caller: w.Caller, SourceIP: w.SourceIP,
		SourceCountry: w.SourceCountry, UserAgent: w.UserAgent, CallID: w.CallID, Observed: w.Observed,
		Rule: w.Rule, RuleStat: w.RuleStat, Created: w.CreatedAt, Expires: w.ExpiresAt,
	}, nil
}

// appendTicketJSON appends t in its JSON form (ticketWire's). Every
// approving decision sends a candidate quota ticket to Redis (the script
// stores it only if the quota trips, so the decision stays one round trip);
// json.Marshal of it cost about 3 µs and 10 allocations per decision, this
// a fraction of that.
func appendTicketJSON(b []byte, t *engine.Ticket) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"flow":`...)
	b = appendJSONString(b, string(t.Flow))
	if t.Code.Info().Code != 0 { // a published code; the zero Code has none
		b = appendJSONString(append(b, `,"code":`...), t.Code.String())
	}
	b = append(b, `,"user":`...)
	b = appendJSONString(b, t.User)
	b = append(b, `,"domain":`...)
	b = appendJSONString(b, t.Domain)
	b = appendOptional(b, `,"country":`, t.Country)
	b = appendOptional(b, `,"range":`, t.Range)
	b = appendOptional(b, `,"default_of":`, t.DefaultOf)
	b = appendOptional(b, `,"number":`, t.Number)
	b = appendOptional(b, `,"caller":`, t.Caller)
	b = appendOptional(b, `,"source_ip":`, t.SourceIP)
	b = appendOptional(b, `,"source_country":`, t.SourceCountry)
	b = appendOptional(b, `,"user_agent":`, t.UserAgent)
	b = appendOptional(b, `,"call_id":`, t.CallID)
	if t.Observed != 0 {
		b = strconv.AppendInt(append(b, `,"observed":`...), int64(t.Observed), 10)
	}
	if t.Rule != 0 {
		b = strconv.AppendInt(append(b, `,"rule":`...), t.Rule, 10)
	}
	b = appendOptional(b, `,"rule_stat":`, t.RuleStat)
	b = append(b, `,"created_at":"`...)
	b = t.Created.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","expires_at":"`...)
	b = t.Expires.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

func appendOptional(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(b, name...), v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD (as
// encoding/json does), everything else as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
