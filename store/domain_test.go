package store_test

import (
	"context"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

// A domain change moves the change version, whoever writes it, so every
// gateway reloads its domains; a bad policy is refused by the schema too.
func TestDomainsBumpChangeVersion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		v0, err := s.ChangeVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutDomain(ctx, &tfps.Domain{Domain: "sp.example", DefaultUser: "default"}); err != nil {
			t.Fatal(err)
		}
		v1, _ := s.ChangeVersion(ctx)
		if v1 <= v0 {
			t.Fatalf("change version %d after inserting a domain, was %d", v1, v0)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE domains SET unknown = 'reject' WHERE domain = 'sp.example'`); err != nil {
			t.Fatal(err)
		}
		v2, _ := s.ChangeVersion(ctx)
		if v2 <= v1 {
			t.Fatalf("change version %d after an operator's own UPDATE, was %d", v2, v1)
		}
		ds, err := s.Domains(ctx)
		if err != nil || len(ds) != 1 || ds[0].Effective() != tfps.UnknownReject || ds[0].DefaultUser != "default" {
			t.Fatalf("domains %+v, %v", ds, err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE domains SET unknown = 'maybe'`); err == nil {
			t.Fatal("the schema took unknown = 'maybe'")
		}
		if _, err := s.GetDomain(ctx, "other.example"); tfps.ErrorCode(err) != tfps.ENOTFOUND {
			t.Fatalf("unknown domain: %v", err)
		}
	})
}
