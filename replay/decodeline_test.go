package replay

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A line reads the same as encoding/json reads it (the API's decoder),
// odd spellings included, and a line it refuses is refused the same way.
func TestDecodeLineReadsAsEncodingJSON(t *testing.T) {
	lines := []string{
		`{"time":"2025-03-03T09:12:00+01:00","user":"1001","domain":"pbx.example.com","source_ip":"10.0.0.5","number":"+34911234567","caller":"1001","call_id":"a1","ivr":"pass","label":"legit","scenario":"office"}`,
		`{"TIME":"2025-03-03T09:12:00Z","User":"1001","Domain":"d","Source_IP":"10.0.0.5","NUMBER":"+1"}`, // names without case
		`{"time":"t","user":"a","user":"b"}`,                                    // the last duplicate wins
		`{"time":"t","user":"caf\u00e9 \ud83d\ude00","number":"\"+1\""}`,        // escapes
		"{\"time\":\"t\",\"user\":\"bad \xff utf-8\"}",                          // invalid UTF-8 is replaced
		`{"time":"t","concurrent_calls":3,"extra":{"nested":[1,2,{"x":null}]}}`, // unknown fields ignored
		`{"time":null,"user":null,"concurrent_calls":null}`,
		`{"time":"t","concurrent_calls":0}`,
		`{"time":"t","concurrent_calls":"3"}`, // refused: a string
		`{"time":"t","concurrent_calls":1.5}`, // refused: not an integer
		`{"time":"t","user":1001}`,            // refused: a number
		`{"time":"t"`,                         // refused: not JSON
		`[1,2]`,                               // refused: not an object
		`{"time":"t"} trailing`,               // refused
	}
	for _, l := range lines {
		var want, got jsonLine
		wantErr := json.Unmarshal([]byte(l), &want)
		gotErr := decodeLine([]byte(l), &got)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Errorf("%s: error %v, encoding/json's %v", l, gotErr, wantErr)
			continue
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %+v, encoding/json reads %+v", l, got, want)
		}
	}
}
