// Package notify tells the admins about fraud and about every change the IVR
// made, by mail.
//
// A notification (tfps.Notification) is first stored in the SQL outbox, in
// the same transaction as the change that caused it where there is one. A
// Worker then claims due rows with a lease, applies the per-account, per-kind
// rate limit of threshold alerts (folding held-back alerts into the next
// mail), renders the mail from a template, and sends it through a Mailer
// (go-smtp with PLAIN or LOGIN over STARTTLS or implicit TLS). Retryable
// failures (SMTP 4xx, network) are tried again with exponential backoff; the
// next attempt time lives in the row, so retries survive restarts. Final
// failures (5xx, refused credentials, bad addresses, broken templates) are
// kept in the outbox with their error.
package notify
