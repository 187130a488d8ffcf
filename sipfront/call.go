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

// Indexes in identityHeaders.
const (
	hPTFPS = iota
	hXTFPS
	hPReceived
	hPUA
	hPCalls
)

// identity is what an INVITE's identity headers and User-Agent say, read
// in one pass over its headers: sipgo's lookups by name lower-case each
// custom header name they pass, an allocation per header and lookup.
type identity struct {
	value     [len(identityHeaders)]string // the first of each
	count     [len(identityHeaders)]int
	userAgent string // the first User-Agent
}

func readIdentity(req *sip.Request) identity {
	var id identity
	seenUA := false
	for _, h := range req.Headers() {
		name := h.Name()
		if strings.EqualFold(name, "User-Agent") {
			if !seenUA {
				id.userAgent, seenUA = h.Value(), true
			}
			continue
		}
		for i, n := range identityHeaders {
			if strings.EqualFold(name, n) {
				if id.count[i] == 0 {
					id.value[i] = h.Value()
				}
				id.count[i]++
				break
			}
		}
	}
	return id
}

// repeated returns the name of an identity header the request carries
// more than once, or "".
func (id *identity) repeated() string {
	for i, n := range id.count {
		if n > 1 {
			return identityHeaders[i]
		}
	}
	return ""
}

// any reports whether the request carries an identity header.
func (id *identity) any() bool {
	for _, n := range id.count {
		if n > 0 {
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
// extra is the backing array of the call's Extra fields.
func callOf(req *sip.Request, id *identity, extra []engine.Field, src netip.Addr, now time.Time, trusted bool) engine.Call {
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
	c.Extra = append(extra[:0], engine.Field{Name: "request_host", Value: req.Recipient.Host}, engine.Field{Name: "from_host", Value: from.Address.Host})
	if ct := req.Contact(); ct != nil {
		c.Extra = append(c.Extra, engine.Field{Name: "contact_user", Value: ct.Address.User}, engine.Field{Name: "contact_host", Value: ct.Address.Host})
	}
	c.UserAgent = id.userAgent
	if !trusted {
		return c
	}
	if id.count[hPTFPS] > 0 {
		if p, ok := ParsePTFPS(id.value[hPTFPS]); ok {
			c.User = p.User
			if p.Domain != "" {
				c.Domain = p.Domain
			}
			if p.SourceIP.IsValid() {
				c.SourceIP = p.SourceIP
			}
			if p.UserAgent != "" {
				c.UserAgent = p.UserAgent
			}
			if p.Calls > 0 {
				c.ConcurrentCalls = p.Calls
			}
			return c
		}
	}
	if id.count[hXTFPS] > 0 {
		if u, d, ok := ParseXTFPS(id.value[hXTFPS]); ok {
			c.User, c.Domain = u, d
		}
	}
	if id.count[hPReceived] > 0 {
		if a := parseAddr(id.value[hPReceived]); a.IsValid() {
			c.SourceIP = a
		}
	}
	if v := id.value[hPUA]; v != "" {
		c.UserAgent = v
	}
	if id.count[hPCalls] > 0 {
		if n := parseCalls(id.value[hPCalls]); n > 0 {
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
