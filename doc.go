// Package tfps holds the domain types shared by every part of the fraud
// prevention service: accounts, blacklist entries, decision-log records,
// verification events and the application error codes.
//
// It imports only the standard library. Implementations live in packages
// named for their dependency (store for SQL, state for Redis), and the
// transports (HTTP API, SIP front, ARI IVR) translate at the edges, following
// the layout of benbjohnson/wtf.
package tfps
