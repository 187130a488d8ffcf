package tfps_test

import (
	"strings"
	"testing"

	"github.com/voipshield/tfps"
)

func TestParseRangesCSV(t *testing.T) {
	good := "prefix,level,source,comment\n+4420794,verify,carrier A,IRSF reports\n882345,reject\n"
	rs, err := tfps.ParseRangesCSV(strings.NewReader(good))
	if err != nil || len(rs) != 2 || rs[0].Prefix != "4420794" || rs[0].Level != tfps.RangeVerify || rs[0].Source != "carrier A" || rs[1].Level != tfps.RangeReject {
		t.Fatalf("good file: %+v, %v", rs, err)
	}
	bad := "prefix,level\n+4420794,verify\n44x1,reject\n882345,block\n,verify\n0044,reject\n4420794,reject\n1,2,3,4,5\n"
	_, err = tfps.ParseRangesCSV(strings.NewReader(bad))
	if tfps.ErrorCode(err) != tfps.EINVALID {
		t.Fatalf("bad file: %v, want EINVALID", err)
	}
	msg := tfps.ErrorMessage(err)
	for _, want := range []string{
		`row 3: prefix: "44x1" is not E.164 digits`,
		`row 4: level: "block" is not reject or verify`,
		`row 5: prefix: required`,
		`row 6: prefix: "0044" starts with 0`,
		`row 7: prefix: 4420794 repeats row 2`,
		`row 8: 5 fields`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "row 2:") {
		t.Errorf("the good row 2 is reported:\n%s", msg)
	}
}
