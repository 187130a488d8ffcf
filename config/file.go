package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// KV is one assignment read from a config file.
type KV struct {
	Key   string
	Value string
	Line  int
}

// ReadFile reads an env-style config file: KEY=value per line, blank lines
// and # comments ignored, values optionally in double quotes (with \" and \\
// escapes) or single quotes (literal). An unquoted value ends at " #".
func ReadFile(path string) ([]KV, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open config file: %w", err)
	}
	defer f.Close()
	kvs, err := parseEnv(f)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return kvs, nil
}

var envKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func parseEnv(r io.Reader) ([]KV, error) {
	var out []KV
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !envKeyRE.MatchString(key) {
			return nil, fmt.Errorf("line %d: expected KEY=value, got %q", n, line)
		}
		v, err := unquote(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, key, err)
		}
		out = append(out, KV{Key: key, Value: v, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

func unquote(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		end := closingQuote(v)
		if end < 0 {
			return "", fmt.Errorf("unterminated double quote")
		}
		s, err := strconv.Unquote(v[:end+1])
		if err != nil {
			return "", fmt.Errorf("bad double-quoted value: %w", err)
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("unexpected text after the closing quote: %q", rest)
		}
		return s, nil
	case strings.HasPrefix(v, "'"):
		end := strings.Index(v[1:], "'")
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		return v[1 : end+1], nil
	default:
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		return strings.TrimSpace(v), nil
	}
}

func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// FormatValue quotes a value for a config file when it needs it.
func FormatValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t#\"'\\") {
		return strconv.Quote(v)
	}
	return v
}

// WriteFile writes assignments as a config file that ReadFile reads back
// to the same values.
func WriteFile(w io.Writer, header []string, kvs []KV) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintf(bw, "# %s\n", h)
	}
	if len(header) > 0 {
		bw.WriteString("\n")
	}
	help := map[string]string{}
	for _, k := range Keys() {
		help[k.Name] = k.Help
	}
	for _, kv := range kvs {
		if h := help[kv.Key]; h != "" {
			fmt.Fprintf(bw, "# %s\n", h)
		}
		fmt.Fprintf(bw, "%s=%s\n", kv.Key, FormatValue(kv.Value))
	}
	return bw.Flush()
}
