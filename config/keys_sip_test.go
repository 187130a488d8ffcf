package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestSIPKeys(t *testing.T) {
	cfg, _, err := Load(Options{Lookup: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.SIP
	if len(s.Allow) != 2 || !s.Allow[0].Contains(netip.MustParseAddr("127.0.0.1")) || s.DenyAction != DenyDrop ||
		s.TrustHeaders != nil || s.TCPOnly || s.VerifyPrefix != "V" || s.ErrorCode != 500 || s.FloodLimit != 2000 {
		t.Errorf("defaults: %+v", s)
	}
	cfg, _, err = Load(Options{Lookup: env(map[string]string{
		"TFPS_SIP_ALLOW": "192.0.2.10, 10.0.0.0/8", "TFPS_SIP_DENY_ACTION": "403", "TFPS_SIP_VERIFY_PREFIX": "Q9",
		"TFPS_IVR_SIP_ADDRESS": "ivr.example.com:5080", "TFPS_SIP_CONTACT_HOST": "203.0.113.5", "TFPS_SIP_ERROR_CODE": "603",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.SIP; len(s.Allow) != 2 || !s.Allow[1].Contains(netip.MustParseAddr("10.9.8.7")) || s.DenyAction != DenyForbidden ||
		s.VerifyPrefix != "Q9" || s.IVRAddress != "ivr.example.com:5080" || s.ContactHost != "203.0.113.5" || s.ErrorCode != 603 {
		t.Errorf("set: %+v", s)
	}
	// Each bad value is refused at start-up with the reason.
	for key, bad := range map[string]string{
		"TFPS_SIP_ALLOW":         "10.0.0.0/33",
		"TFPS_SIP_DENY_ACTION":   "reject",
		"TFPS_SIP_VERIFY_PREFIX": "A",
		"TFPS_SIP_ERROR_CODE":    "503",
		"TFPS_IVR_SIP_ADDRESS":   "ivr box:5080",
	} {
		_, _, err := Load(Options{Lookup: env(map[string]string{key: bad})})
		var fe Errors
		if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Key != key {
			t.Errorf("%s=%q: error %v, want one error on %s", key, bad, err, key)
		}
	}
	_, _, err = Load(Options{Lookup: env(map[string]string{"TFPS_SIP_ERROR_CODE": "503"})})
	if err == nil || !strings.Contains(err.Error(), "approved") {
		t.Errorf("503 as error code: %v, want an explanation that 503 reads as approved", err)
	}
}
