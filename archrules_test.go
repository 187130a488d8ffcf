package tfps_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/voipshield/tfps"

// listed is the part of `go list -json` the import rules read. Imports
// are those of the package's non-test files only.
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// goList runs `go list -json` with args and decodes every package.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// The layering of the packages: the engine decides with no knowledge of
// configuration, SQL or any transport; the IVR talks to its ports, not to
// Redis or SQL; only the store sees database/sql; test helpers live in
// packages of their own (*test), never in the product's.
func TestImportRules(t *testing.T) {
	all := goList(t, "./...")

	t.Run("engine", func(t *testing.T) {
		deps := goList(t, "-deps", "./engine")
		forbidden := []string{"config", "reputation", "store", "state", "sipfront", "api", "gateway", "console", "asterisk", "ivr", "journal"}
		for _, p := range deps {
			rel, ours := strings.CutPrefix(p.ImportPath, module+"/")
			if !ours {
				continue
			}
			for _, f := range forbidden {
				if rel == f || strings.HasPrefix(rel, f+"/") {
					t.Errorf("the engine depends on %s", p.ImportPath)
				}
			}
			// net/http reaches the engine only through the Prometheus
			// client it registers its metrics with; no package of ours
			// on its side speaks HTTP (or SQL).
			for _, imp := range p.Imports {
				if imp == "net/http" || imp == "database/sql" {
					t.Errorf("%s, a dependency of the engine, imports %s", p.ImportPath, imp)
				}
			}
		}
	})

	t.Run("ivr", func(t *testing.T) {
		for _, p := range goList(t, "-deps", "./ivr") {
			switch p.ImportPath {
			case module + "/state", module + "/store", "database/sql":
				t.Errorf("the IVR depends on %s", p.ImportPath)
			}
		}
	})

	t.Run("sql only in store", func(t *testing.T) {
		for _, p := range all {
			if p.ImportPath != module+"/store" && slices.Contains(p.Imports, "database/sql") {
				t.Errorf("%s imports database/sql outside its tests; only package store does", p.ImportPath)
			}
		}
	})

	t.Run("testing only in tests", func(t *testing.T) {
		for _, p := range all {
			name := p.ImportPath[strings.LastIndexByte(p.ImportPath, '/')+1:]
			if !strings.HasSuffix(name, "test") && slices.Contains(p.Imports, "testing") {
				t.Errorf("%s imports testing outside its tests; test helpers go in a *test package", p.ImportPath)
			}
		}
	})
}
