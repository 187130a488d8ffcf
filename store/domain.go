package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voipshield/tfps"
)

// PutDomain inserts or replaces the settings of d.Domain.
func (s *Store) PutDomain(ctx context.Context, d *tfps.Domain) error {
	if d.Domain == "" {
		return tfps.Errorf(tfps.EINVALID, "domain: required")
	}
	if !d.Unknown.Valid() {
		return tfps.Errorf(tfps.EINVALID, "unknown: %q is not default, onboarding, reject or empty", d.Unknown)
	}
	d.UpdatedAt = s.Now().UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO domains (domain, default_user, unknown, profile, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (domain) DO UPDATE SET default_user = excluded.default_user, unknown = excluded.unknown, profile = excluded.profile, updated_at = excluded.updated_at`,
		d.Domain, d.DefaultUser, string(d.Unknown), d.Profile, ms(d.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put domain %s: %w", d.Domain, err)
	}
	return nil
}

// GetDomain returns the settings of domain; tfps.ENOTFOUND when it has none.
func (s *Store) GetDomain(ctx context.Context, domain string) (*tfps.Domain, error) {
	var d tfps.Domain
	var unknown string
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT domain, default_user, unknown, profile, updated_at FROM domains WHERE domain = $1`, domain).
		Scan(&d.Domain, &d.DefaultUser, &unknown, &d.Profile, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tfps.Errorf(tfps.ENOTFOUND, "domain %q has no settings", domain)
	}
	if err != nil {
		return nil, fmt.Errorf("get domain %s: %w", domain, err)
	}
	d.Unknown, d.UpdatedAt = tfps.UnknownPolicy(unknown), fromMS(updated)
	return &d, nil
}

// Domains returns every domain's settings in domain order (engine.Domains:
// the engine keeps them in memory until the change version moves).
func (s *Store) Domains(ctx context.Context) ([]tfps.Domain, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT domain, default_user, unknown, profile, updated_at FROM domains ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []tfps.Domain
	for rows.Next() {
		var d tfps.Domain
		var unknown string
		var updated int64
		if err := rows.Scan(&d.Domain, &d.DefaultUser, &unknown, &d.Profile, &updated); err != nil {
			return nil, fmt.Errorf("scan domain: %w", err)
		}
		d.Unknown, d.UpdatedAt = tfps.UnknownPolicy(unknown), fromMS(updated)
		out = append(out, d)
	}
	return out, rows.Err()
}
