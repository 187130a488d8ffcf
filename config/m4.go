package config

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// m4DefineRE matches the start of a TFPS defines.m4 line: define(`NAME', ...
var m4DefineRE = regexp.MustCompile("^\\s*define\\(\\s*`([A-Za-z_][A-Za-z0-9_]*)'\\s*,\\s*(.*)$")

// ImportM4 reads a legacy TFPS defines.m4 and returns the equivalent TFPS_*
// assignments, in file order. A name defined twice keeps its last value (as
// m4 does) with a warning; names with no equivalent are reported, not lost:
// they come back as warnings with their values so the operator can decide.
func ImportM4(r io.Reader) (kvs []KV, warnings []string, err error) {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k.Name] = true
	}
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "dnl") || strings.HasPrefix(trimmed, "divert(") {
			continue
		}
		m := m4DefineRE.FindStringSubmatch(line)
		if m == nil {
			warnings = append(warnings, fmt.Sprintf("line %d: not a define(`NAME', `value') line, skipped: %q", n, trimmed))
			continue
		}
		name, rest := m[1], m[2]
		value, ok := m4Value(rest)
		if !ok {
			return nil, warnings, fmt.Errorf("line %d: cannot read the value of %s in %q: expected `value')", n, name, trimmed)
		}
		key := "TFPS_" + strings.ToUpper(name)
		if !known[key] {
			warnings = append(warnings, fmt.Sprintf("line %d: %s has no equivalent setting; value %q not imported", n, name, value))
			continue
		}
		if i, dup := index[key]; dup {
			warnings = append(warnings, fmt.Sprintf("line %d: %s defined again (first on line %d); the last value wins, as in m4", n, name, kvs[i].Line))
			kvs[i] = KV{Key: key, Value: value, Line: n}
			continue
		}
		index[key] = len(kvs)
		kvs = append(kvs, KV{Key: key, Value: value, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, warnings, fmt.Errorf("read defines.m4: %w", err)
	}
	if len(kvs) == 0 {
		return nil, warnings, fmt.Errorf("no define(`NAME', `value') lines found: is this a TFPS defines.m4?")
	}
	return kvs, warnings, nil
}

// m4Value reads the quoted value that starts rest: `value') followed by an
// optional # comment. The value may itself contain # (passwords do). A value
// quoted with a plain ' instead of ` (a typo present in TFPS's own example)
// is accepted too.
func m4Value(rest string) (string, bool) {
	rest = strings.TrimSpace(rest)
	if rest == "" || (rest[0] != '`' && rest[0] != '\'') {
		return "", false
	}
	body := rest[1:]
	// The value ends at the last "')" on the line, so a # or ' inside stays.
	end := -1
	for i := len(body) - 1; i >= 0; i-- {
		if body[i] == ')' {
			j := i - 1
			for j >= 0 && (body[j] == ' ' || body[j] == '\t') {
				j--
			}
			if j >= 0 && body[j] == '\'' {
				tail := strings.TrimSpace(body[i+1:])
				if tail == "" || strings.HasPrefix(tail, "#") || strings.HasPrefix(tail, "dnl") {
					end = j
					break
				}
			}
		}
	}
	if end < 0 {
		return "", false
	}
	return body[:end], true
}
