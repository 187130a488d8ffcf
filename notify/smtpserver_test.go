package notify

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/voipshield/tfps/notify/smtptest"
)

// The relay the notify tests talk to is smtptest's real go-smtp server.
type (
	received   = smtptest.Received
	testServer = smtptest.Server
)

func newTestServer(t testing.TB) *testServer { return smtptest.NewServer(t) }

func testCert(t *testing.T) (*tls.Config, *x509.CertPool) { return smtptest.Cert(t) }
