package tfps

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// RangeLevel says what a high-risk number range does to a call.
type RangeLevel string

const (
	RangeReject RangeLevel = "reject" // rejected (R21)
	RangeVerify RangeLevel = "verify" // voice verification (V06) until the account verified the range
)

// NumberRange is one operator-loaded high-risk range: E.164 digits (country
// code first, no "+") that every number of the range starts with.
type NumberRange struct {
	Prefix    string
	Level     RangeLevel
	Source    string // who reported it (a carrier, a fraud feed)
	Comment   string
	CreatedAt time.Time
}

// RangeAllowance is a range an account verified (risky_range flow).
type RangeAllowance struct {
	User, Domain, Prefix string
}

// MaxRangePrefix bounds a range prefix: an E.164 number has at most 15 digits.
const MaxRangePrefix = 15

// NormalizeRange checks r and writes its prefix as digits. The error names
// the field: "prefix: ...", "level: ...".
func NormalizeRange(r *NumberRange) error {
	p := strings.TrimPrefix(strings.TrimSpace(r.Prefix), "+")
	switch {
	case p == "":
		return Errorf(EINVALID, "prefix: required (E.164 digits, with or without a leading +)")
	case strings.Trim(p, "0123456789") != "":
		return Errorf(EINVALID, "prefix: %q is not E.164 digits (with or without a leading +)", r.Prefix)
	case p[0] == '0':
		return Errorf(EINVALID, "prefix: %q starts with 0; write the country code first (E.164, e.g. +44...)", r.Prefix)
	case len(p) > MaxRangePrefix:
		return Errorf(EINVALID, "prefix: %q is longer than %d digits", r.Prefix, MaxRangePrefix)
	}
	r.Prefix = p
	switch RangeLevel(strings.ToLower(strings.TrimSpace(string(r.Level)))) {
	case RangeReject:
		r.Level = RangeReject
	case RangeVerify:
		r.Level = RangeVerify
	default:
		return Errorf(EINVALID, "level: %q is not reject or verify", r.Level)
	}
	r.Source, r.Comment = strings.TrimSpace(r.Source), strings.TrimSpace(r.Comment)
	if len(r.Source) > 200 {
		return Errorf(EINVALID, "source: longer than 200 characters")
	}
	if len(r.Comment) > 1000 {
		return Errorf(EINVALID, "comment: longer than 1000 characters")
	}
	for _, f := range [...]struct{ name, v string }{{"source", r.Source}, {"comment", r.Comment}} {
		if !utf8.ValidString(f.v) {
			return Errorf(EINVALID, "%s: not valid UTF-8", f.name)
		}
		if strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return Errorf(EINVALID, "%s: %q contains a control character (a line break?)", f.name, f.v)
		}
	}
	return nil
}

// ParseRangesCSV reads ranges as CSV rows prefix,level,source,comment
// (source and comment optional). A first row whose prefix column reads
// "prefix" is a header. Every bad row is reported with its row number and
// field; nothing is returned unless every row is good.
func ParseRangesCSV(r io.Reader) ([]NumberRange, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var out []NumberRange
	var errs []string
	seen := map[string]int{}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, fmt.Sprintf("row %d: %v", pe.Line, pe.Err))
				break
			}
			return nil, fmt.Errorf("read ranges: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if row == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "prefix") {
			continue
		}
		if len(rec) < 2 || len(rec) > 4 {
			errs = append(errs, fmt.Sprintf("row %d: %d fields, want prefix,level[,source[,comment]]", line, len(rec)))
			continue
		}
		nr := NumberRange{Prefix: rec[0], Level: RangeLevel(rec[1])}
		if len(rec) > 2 {
			nr.Source = rec[2]
		}
		if len(rec) > 3 {
			nr.Comment = rec[3]
		}
		if err := NormalizeRange(&nr); err != nil {
			errs = append(errs, fmt.Sprintf("row %d: %s", line, ErrorMessage(err)))
			continue
		}
		if first, dup := seen[nr.Prefix]; dup {
			errs = append(errs, fmt.Sprintf("row %d: prefix: %s repeats row %d", line, nr.Prefix, first))
			continue
		}
		seen[nr.Prefix] = line
		out = append(out, nr)
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("... and %d more bad rows", len(errs)-20))
		}
		return nil, Errorf(EINVALID, "%d bad row(s), nothing imported:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return out, nil
}
