package sipfront

import (
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// allowHeader lists what the front answers.
const allowHeader = "INVITE, ACK, CANCEL, BYE, OPTIONS"

type header struct{ name, value string }

// toTag derives the To tag from the request, as Kamailio's sl module does,
// so a retransmission is answered with the same tag even without state.
func toTag(req *sip.Request) string {
	h := fnv.New64a()
	h.Write([]byte(req.CallID().Value()))
	if tag, ok := req.From().Params.Get("tag"); ok {
		h.Write([]byte(tag))
	}
	if b, ok := req.Via().Params.Get("branch"); ok {
		h.Write([]byte(b))
	}
	h.Write([]byte(strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)))
	return "tfps" + strconv.FormatUint(h.Sum64(), 36)
}

// response serialises a stateless final response to req (RFC 3261 8.2.6):
// the Vias (the top one with received/rport per RFC 3581), From, To with
// our tag, Call-ID, CSeq.
func (s *Server) response(req *sip.Request, src netip.AddrPort, status int, reason string, extra []header) []byte {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("SIP/2.0 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\n")
	for i, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if i == 0 {
			v = v.Clone()
			if val, has := v.Params.Get("rport"); has && val == "" {
				v.Params.Remove("rport")
				v.Params.Add("rport", strconv.Itoa(int(src.Port())))
				if !v.Params.Has("received") {
					v.Params.Add("received", src.Addr().String())
				}
			} else if a, err := netip.ParseAddr(strings.Trim(v.Host, "[]")); (err != nil || a != src.Addr()) && !v.Params.Has("received") {
				v.Params.Add("received", src.Addr().String())
			}
		}
		b.WriteString("Via: ")
		b.WriteString(v.Value())
		b.WriteString("\r\n")
	}
	b.WriteString("From: ")
	b.WriteString(req.From().Value())
	b.WriteString("\r\nTo: ")
	to := req.To()
	b.WriteString(to.Value())
	if !to.Params.Has("tag") && status != 100 {
		b.WriteString(";tag=")
		b.WriteString(toTag(req))
	}
	b.WriteString("\r\nCall-ID: ")
	b.WriteString(req.CallID().Value())
	b.WriteString("\r\nCSeq: ")
	b.WriteString(req.CSeq().Value())
	b.WriteString("\r\n")
	for _, h := range extra {
		b.WriteString(h.name)
		b.WriteString(": ")
		b.WriteString(h.value)
		b.WriteString("\r\n")
	}
	b.WriteString("Server: ")
	b.WriteString(s.opts.ServerName)
	b.WriteString("\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}
