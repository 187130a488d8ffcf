package engine_test

import (
	"testing"

	"github.com/voipshield/tfps/engine"
)

// TestCodeTable holds the published table stable: a code never changes its
// number, result or meaning. Adding a code appends a row here and in
// docs/engine.md; changing a row is a breaking change for every PBX dialplan
// and report that reads the codes.
func TestCodeTable(t *testing.T) {
	want := []struct {
		code, result, flow string
		reserved           bool
	}{
		{"A00", "approve", "", false},
		{"A01", "approve", "", false},
		{"R01", "reject", "", false},
		{"R02", "reject", "", false},
		{"R03", "reject", "", false},
		{"R04", "", "", true},
		{"R05", "reject", "", false},
		{"R06", "reject", "", false},
		{"R07", "reject", "", false},
		{"R08", "reject", "", false},
		{"R09", "", "", true},
		{"R10", "reject", "", false},
		{"R11", "", "", true},
		{"R12", "reject", "", false},
		{"R13", "reject", "", false},
		{"R14", "reject", "", false},
		{"R15", "reject", "", false},
		{"R16", "reject", "", false},
		{"R17", "reject", "", false},
		{"R18", "reject", "", false},
		{"R19", "reject", "", false},
		{"R20", "reject", "", false},
		{"R21", "reject", "", false},
		{"R22", "reject", "", false},
		{"R23", "reject", "", false},
		{"V01", "verify", "onboarding", false},
		{"V02", "verify", "source_country", false},
		{"V03", "verify", "destination_country", false},
		{"V04", "verify", "quota", false},
		{"V05", "verify", "quota_off", false},
		{"V06", "verify", "risky_range", false},
		{"V07", "verify", "range_hopping", false},
		{"V08", "verify", "concurrent", false},
		{"V09", "verify", "concurrent_off", false},
		{"V10", "verify", "destination_confirm", false},
		{"V11", "verify", "rule_warning", false},
	}
	got := engine.Codes()
	if len(got) != len(want) {
		t.Fatalf("published table has %d codes, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		result := ""
		if g.Result != 0 {
			result = g.Result.String()
		}
		if g.Code.String() != w.code || result != w.result || string(g.Flow) != w.flow || g.Reserved != w.reserved || g.Meaning == "" {
			t.Errorf("row %d = %s %q %q reserved=%v meaning=%q; want %s %q %q reserved=%v", i, g.Code, result, g.Flow, g.Reserved, g.Meaning, w.code, w.result, w.flow, w.reserved)
		}
		p, err := engine.ParseCode(w.code)
		if err != nil || p != g.Code {
			t.Errorf("ParseCode(%q) = %v, %v", w.code, p, err)
		}
		b, err := g.Code.MarshalText()
		if err != nil || string(b) != w.code {
			t.Errorf("MarshalText(%s) = %q, %v", w.code, b, err)
		}
	}
	if _, err := engine.ParseCode("R99"); err == nil {
		t.Error("ParseCode(R99) accepted a code outside the table")
	}
}

func TestFlowTFPSPrefix(t *testing.T) {
	for flow, want := range map[engine.Flow]string{
		engine.FlowOnboarding: "o", engine.FlowSourceCountry: "iBR", engine.FlowDestinationCountry: "dBR",
		engine.FlowQuota: "q", engine.FlowQuotaOff: "n",
	} {
		if got := flow.TFPSPrefix("BR"); got != want {
			t.Errorf("%s.TFPSPrefix(BR) = %q, want %q", flow, got, want)
		}
	}
}
