// Package sipfront is the TFPS-compatible SIP face of the gateway: a PBX or
// proxy sends each outbound call attempt as an INVITE, the front reads the
// identity headers exactly as TFPS did, asks the engine (through the
// one-method Decider), and answers:
//
//   - TFPS_AUTHORIZE_METHOD=302: 302 with Contact sip:A00<number>@host
//     (approved) or sip:Rnn<number>@host (rejected, Rnn the engine's code);
//   - TFPS_AUTHORIZE_METHOD=503: 503 approved (the PBX fails over to its
//     carrier), 603 rejected;
//   - verify (either method): 302 to sip:<prefix><ticket>@<IVR Asterisk>.
//
// Before the engine, requests pass TFPS's pre-admission: the allow list
// (TFPS_SIP_ALLOW, 403 or silent drop), a per-source flood limit (silent
// drop), loop detection (482), method (405), empty request user (484) and
// Max-Forwards (483). Injection-looking From, Request-URI or Contact is the
// engine's R12 (the front hands the hosts and the Contact over in
// engine.Call.Extra), logged and counted like every other code.
//
// Files: listen.go owns sockets, TCP connections and admission (allow
// list, flood limit); exchange.go follows one request from parse to
// answer; call.go turns an INVITE into the engine's Call; wire.go writes
// responses; cache.go keeps answers for retransmissions.
// OPTIONS from allowed sources get 200 so proxies can health-check us.
//
// The front is a stateless redirect server, like Kamailio's sl module: it
// owns its UDP socket (4 MiB read buffer) and TCP listener, parses with
// sipgo's parser, and keeps no SIP transactions. Instead a small answer
// cache keyed by Call-ID + top Via branch re-sends the very same bytes to a
// retransmitted INVITE (the To tag is derived from the request, so even an
// expired entry would produce the same tag), swallows ACKs, answers CANCEL
// (487 to the INVITE when the decision was still running), and keeps every
// request to exactly one final answer. A retried INVITE in a new
// transaction (same Call-ID and From tag) is replayed by the engine without
// being counted twice.
package sipfront
