package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/voipshield/tfps/api"
)

// tfpsctl ranges: a file with a bad row is refused whole, naming the line
// and field; a good one is imported, listed, and a range removed.
func TestTfpsctlRanges(t *testing.T) {
	m := startGateway(t)
	c := ctl{t: t, env: map[string]string{"TFPS_API_URL": "http://" + m.HTTPAddr(), "TFPS_API_TOKEN": token}}
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	bad := file("bad.csv", "prefix,level,source,comment\n+4420794,verify,carrier A\n44207x,reject,carrier A\n882345,never\n")
	c.fail(exitError, `row 3: prefix: "44207x" is not E.164 digits`, "ranges", "import", bad)
	c.fail(exitError, `row 4: level: "never" is not reject or verify`, "ranges", "import", bad)
	if out := c.ok("ranges", "list", "--json"); out != "[]\n" {
		t.Fatalf("a refused file wrote ranges: %s", out)
	}

	good := file("good.csv", "prefix,level,source,comment\n+4420794,verify,carrier A,IRSF reports\n882345,reject,carrier A\n")
	contains(t, "ranges import", c.ok("ranges", "import", good), "imported 2 range(s)")
	contains(t, "ranges list", c.ok("ranges", "list"), "PREFIX", "+4420794", "verify", "carrier A", "IRSF reports", "+882345", "reject")
	var l []api.Range
	if err := json.Unmarshal([]byte(c.ok("ranges", "list", "--json")), &l); err != nil || len(l) != 2 || l[1].Prefix != "882345" {
		t.Fatalf("ranges list --json: %+v %v", l, err)
	}

	contains(t, "ranges remove", c.ok("ranges", "remove", "+882345"), "removed range +882345")
	c.fail(exitError, `no range "882345" (not_found)`, "ranges", "remove", "882345")
	c.fail(exitError, "no such file", "ranges", "import", filepath.Join(dir, "missing.csv"))
	c.fail(exitUsage, "ranges: expected list, import FILE.csv or remove PREFIX", "ranges", "import")
}
