package sipfront

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// allowHeader lists what the front answers.
const allowHeader = "INVITE, ACK, CANCEL, BYE, OPTIONS"

type header struct{ name, value string }

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, s []byte) uint64 {
	for _, c := range s {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// writeToTag writes the To tag derived from the request, as Kamailio's sl
// module does, so a retransmission is answered with the same tag even
// without state: "tfps" and the base-36 FNV-1a hash of the Call-ID, the
// From tag, the top Via branch and the CSeq number.
func writeToTag(b *bytes.Buffer, req *sip.Request) {
	h := fnvString(fnvOffset, req.CallID().Value())
	if tag, ok := req.From().Params.Get("tag"); ok {
		h = fnvString(h, tag)
	}
	if br, ok := req.Via().Params.Get("branch"); ok {
		h = fnvString(h, br)
	}
	var num [20]byte
	h = fnvBytes(h, strconv.AppendUint(num[:0], uint64(req.CSeq().SeqNo), 10))
	b.WriteString("tfps")
	b.Write(strconv.AppendUint(num[:0], h, 36))
}

// response serialises a stateless final response to req (RFC 3261 8.2.6):
// the Vias (the top one with received/rport per RFC 3581), From, To with
// our tag, Call-ID, CSeq.
func (s *Server) response(b *bytes.Buffer, req *sip.Request, src netip.AddrPort, status int, reason string, extra []header) {
	var num [20]byte
	b.WriteString("SIP/2.0 ")
	b.Write(strconv.AppendInt(num[:0], int64(status), 10))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\n")
	first := true
	for _, h := range req.Headers() {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if first {
			first = false
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
		v.StringWrite(b)
		b.WriteString("\r\n")
	}
	req.From().StringWrite(b)
	b.WriteString("\r\n")
	to := req.To()
	to.StringWrite(b)
	if !to.Params.Has("tag") && status != 100 {
		b.WriteString(";tag=")
		writeToTag(b, req)
	}
	b.WriteString("\r\nCall-ID: ")
	b.WriteString(req.CallID().Value())
	b.WriteString("\r\n")
	req.CSeq().StringWrite(b)
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
}
