package engine

import "github.com/voipshield/tfps"

// rangeSet is the compiled copy of the high-risk number ranges and of the
// ranges each account verified. Longest prefix match: at most 15 map
// lookups (an E.164 number has at most 15 digits), no allocation.
type rangeSet struct {
	levels  map[string]tfps.RangeLevel
	maxLen  int
	allowed map[accountKey]map[string]struct{}
}

func compileRanges(ranges []tfps.NumberRange, allowed []tfps.RangeAllowance) *rangeSet {
	if len(ranges) == 0 && len(allowed) == 0 {
		return nil
	}
	rs := &rangeSet{levels: make(map[string]tfps.RangeLevel, len(ranges)), allowed: map[accountKey]map[string]struct{}{}}
	for _, r := range ranges {
		rs.levels[r.Prefix] = r.Level
		rs.maxLen = max(rs.maxLen, len(r.Prefix))
	}
	for _, a := range allowed {
		k := accountKey{a.User, a.Domain}
		m := rs.allowed[k]
		if m == nil {
			m = map[string]struct{}{}
			rs.allowed[k] = m
		}
		m[a.Prefix] = struct{}{}
	}
	return rs
}

// match returns the longest range prefix of the E.164 digits d.
func (rs *rangeSet) match(d string) (string, tfps.RangeLevel, bool) {
	for n := min(len(d), rs.maxLen); n > 0; n-- {
		if l, ok := rs.levels[d[:n]]; ok {
			return d[:n], l, true
		}
	}
	return "", "", false
}

// allows reports whether user@domain verified the range prefix.
func (rs *rangeSet) allows(user, domain, prefix string) bool {
	_, ok := rs.allowed[accountKey{user, domain}][prefix]
	return ok
}
