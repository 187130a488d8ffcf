package sipfront

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"

	"github.com/voipshield/tfps/engine"
)

// identityHeaders are the headers through which a proxy tells who is
// calling; only a trusted source may send them, and each at most once.
var identityHeaders = [...]string{"P-tfps", "X-tfps", "P-Received", "P-UA", "P-Calls"}

// repeatedIdentityHeader returns the name of an identity header the request
// carries more than once, or "".
func repeatedIdentityHeader(req *sip.Request) string {
	for _, name := range identityHeaders {
		if len(req.GetHeaders(name)) > 1 {
			return name
		}
	}
	return ""
}

// hasIdentityHeader reports whether the request carries any identity header.
func hasIdentityHeader(req *sip.Request) bool {
	for _, name := range identityHeaders {
		if req.GetHeader(name) != nil {
			return true
		}
	}
	return false
}

// callOf builds the engine's Call from the request, reading the identity
// headers exactly as TFPS did: P-tfps, else X-tfps + P-Received + P-UA +
// P-Calls, else From user/domain, the packet's source, User-Agent, 1 call.
// trusted is false for a source outside TrustHeaders: its identity headers
// are not read.
func callOf(req *sip.Request, src netip.Addr, now time.Time, trusted bool) engine.Call {
	from := req.From()
	c := engine.Call{
		User:            from.Address.User,
		Domain:          from.Address.Host,
		SourceIP:        src,
		ConcurrentCalls: 1,
		Number:          req.Recipient.User,
		Caller:          from.Address.User,
		CallID:          req.CallID().Value(),
		Time:            now,
		Transport:       "sip",
	}
	c.FromTag, _ = from.Params.Get("tag")
	// The rest of what the caller wrote about itself and its target, for
	// the engine's injection check (R12).
	c.Extra = []engine.Field{{Name: "request_host", Value: req.Recipient.Host}, {Name: "from_host", Value: from.Address.Host}}
	if ct := req.Contact(); ct != nil {
		c.Extra = append(c.Extra, engine.Field{Name: "contact_user", Value: ct.Address.User}, engine.Field{Name: "contact_host", Value: ct.Address.Host})
	}
	if h := req.GetHeader("User-Agent"); h != nil {
		c.UserAgent = h.Value()
	}
	if !trusted {
		return c
	}
	if h := req.GetHeader("P-tfps"); h != nil {
		if id, ok := ParsePTFPS(h.Value()); ok {
			c.User = id.User
			if id.Domain != "" {
				c.Domain = id.Domain
			}
			if id.SourceIP.IsValid() {
				c.SourceIP = id.SourceIP
			}
			if id.UserAgent != "" {
				c.UserAgent = id.UserAgent
			}
			if id.Calls > 0 {
				c.ConcurrentCalls = id.Calls
			}
			return c
		}
	}
	if h := req.GetHeader("X-tfps"); h != nil {
		if u, d, ok := ParseXTFPS(h.Value()); ok {
			c.User, c.Domain = u, d
		}
	}
	if h := req.GetHeader("P-Received"); h != nil {
		if a := parseAddr(h.Value()); a.IsValid() {
			c.SourceIP = a
		}
	}
	if h := req.GetHeader("P-UA"); h != nil && h.Value() != "" {
		c.UserAgent = h.Value()
	}
	if h := req.GetHeader("P-Calls"); h != nil {
		if n := parseCalls(h.Value()); n > 0 {
			c.ConcurrentCalls = n
		}
	}
	return c
}

// repairedField is a call field that carried invalid UTF-8 or NUL, as received.
type repairedField struct{ name, raw string }

// repairCall replaces invalid UTF-8 and NUL bytes in c's text fields by
// U+FFFD and returns the fields it changed, with their raw values. The raw
// value of a repaired identity field goes to c.Extra, so the engine's
// injection check still sees a NUL the log will not.
func repairCall(c *engine.Call) []repairedField {
	var out []repairedField
	for i, f := range [...]struct {
		name string
		v    *string
	}{{"user", &c.User}, {"domain", &c.Domain}, {"number", &c.Number}, {"caller", &c.Caller}, {"user_agent", &c.UserAgent}, {"call_id", &c.CallID}, {"from_tag", &c.FromTag}} {
		if utf8.ValidString(*f.v) && strings.IndexByte(*f.v, 0) < 0 {
			continue
		}
		out = append(out, repairedField{f.name, *f.v})
		if i < 4 {
			c.Extra = append(c.Extra, engine.Field{Name: f.name, Value: *f.v})
		}
		*f.v = strings.ReplaceAll(strings.ToValidUTF8(*f.v, "\uFFFD"), "\x00", "\uFFFD")
	}
	return out
}
