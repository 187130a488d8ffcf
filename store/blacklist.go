package store

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/voipshield/tfps"
)

// NormalizeBlacklistValue checks and canonicalises a list value: a compiled
// regular expression for user agents, an address or CIDR (masked) for IPs,
// digits for number prefixes (a leading + or 00 is kept as written digits).
func NormalizeBlacklistValue(kind tfps.BlacklistKind, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", tfps.Errorf(tfps.EINVALID, "value: required")
	}
	if len(v) > 512 {
		return "", tfps.Errorf(tfps.EINVALID, "value: at most 512 characters")
	}
	switch kind {
	case tfps.BlacklistUserAgent:
		if _, err := regexp.Compile(v); err != nil {
			return "", tfps.Errorf(tfps.EINVALID, "value: %q is not a valid regular expression: %v", v, err)
		}
		return v, nil
	case tfps.BlacklistIP:
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return "", tfps.Errorf(tfps.EINVALID, "value: %q is not an IP address or CIDR", v)
			}
			return p.Masked().String(), nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", tfps.Errorf(tfps.EINVALID, "value: %q is not an IP address or CIDR", v)
		}
		return a.Unmap().String(), nil
	case tfps.BlacklistNumber:
		d := strings.TrimPrefix(v, "+")
		if d == "" || strings.Trim(d, "0123456789") != "" || len(d) > 32 {
			return "", tfps.Errorf(tfps.EINVALID, "value: %q is not a number prefix (digits, optional leading +)", v)
		}
		return d, nil
	default:
		return "", tfps.Errorf(tfps.EINVALID, "kind: %q is not one of user_agent, ip, number", kind)
	}
}

// AddBlacklist inserts an entry after validating it; a duplicate is ECONFLICT.
func (s *Store) AddBlacklist(ctx context.Context, e *tfps.BlacklistEntry) error {
	v, err := NormalizeBlacklistValue(e.Kind, e.Value)
	if err != nil {
		return err
	}
	e.Value = v
	e.CreatedAt = s.Now().UTC()
	err = s.db.QueryRowContext(ctx, `INSERT INTO blacklist (kind, value, note, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		string(e.Kind), e.Value, e.Note, ms(e.CreatedAt)).Scan(&e.ID)
	if isUnique(err) {
		return &tfps.Error{Code: tfps.ECONFLICT, Message: fmt.Sprintf("%s blacklist already has %q", e.Kind, e.Value), Err: err}
	}
	if err != nil {
		return fmt.Errorf("insert blacklist %s %q: %w", e.Kind, e.Value, err)
	}
	return nil
}

// RemoveBlacklist deletes the entry of that kind and value.
func (s *Store) RemoveBlacklist(ctx context.Context, kind tfps.BlacklistKind, value string) error {
	v, err := NormalizeBlacklistValue(kind, value)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM blacklist WHERE kind = $1 AND value = $2`, string(kind), v)
	if err != nil {
		return fmt.Errorf("delete blacklist %s %q: %w", kind, v, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tfps.Errorf(tfps.ENOTFOUND, "%s blacklist has no %q", kind, v)
	}
	return nil
}

// ListBlacklist returns the entries of one kind, or of every kind when kind is "".
func (s *Store) ListBlacklist(ctx context.Context, kind tfps.BlacklistKind) ([]tfps.BlacklistEntry, error) {
	q, args := `SELECT id, kind, value, note, created_at FROM blacklist ORDER BY kind, value`, []any{}
	if kind != "" {
		if !kind.Valid() {
			return nil, tfps.Errorf(tfps.EINVALID, "kind: %q is not one of user_agent, ip, number", kind)
		}
		q, args = `SELECT id, kind, value, note, created_at FROM blacklist WHERE kind = $1 ORDER BY value`, []any{string(kind)}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list blacklist: %w", err)
	}
	defer rows.Close()
	var out []tfps.BlacklistEntry
	for rows.Next() {
		var e tfps.BlacklistEntry
		var k string
		var created int64
		if err := rows.Scan(&e.ID, &k, &e.Value, &e.Note, &created); err != nil {
			return nil, fmt.Errorf("scan blacklist: %w", err)
		}
		e.Kind, e.CreatedAt = tfps.BlacklistKind(k), fromMS(created)
		out = append(out, e)
	}
	return out, rows.Err()
}
