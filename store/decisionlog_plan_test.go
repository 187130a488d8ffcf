package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// Reading a page of an account's history, of a call id, or tailing after an
// id, walks an index in id order: no query sorts the matching rows, which
// for a busy account would be its whole history on every page.
func TestDecisionQueriesNeedNoSort(t *testing.T) {
	filters := map[string]store.DecisionFilter{
		"account":      {User: "1001", Domain: "pbx.example", Limit: 50},
		"account tail": {User: "1001", Domain: "pbx.example", AfterID: 10, Limit: 50},
		"call id":      {CallID: "a84b4c76e66710@pc33.atlanta.com"},
		"all":          {Limit: 50},
		"all tail":     {AfterID: 10},
	}
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.MustOpen(t, dialect)
			conn, err := s.DB().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			explain, sorted := "EXPLAIN QUERY PLAN ", "TEMP B-TREE"
			if dialect == store.Postgres {
				// An empty table would be scanned whatever the indexes: ask
				// for the plan PostgreSQL takes once the table is large.
				if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
				explain, sorted = "EXPLAIN ", "Sort"
			}
			for name, f := range filters {
				if dialect == store.Postgres && f.User == "" && f.CallID == "" {
					// The primary key serves these; on an empty table the
					// planner's estimates pick a bitmap scan and a sort.
					continue
				}
				q, args := store.DecisionQuery(f)
				rows, err := conn.QueryContext(ctx, explain+q, args...)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var plan []string
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					for i := range vals {
						vals[i] = new(any)
					}
					if err := rows.Scan(vals...); err != nil {
						t.Fatal(err)
					}
					for _, v := range vals {
						plan = append(plan, fmt.Sprint(*v.(*any)))
					}
				}
				rows.Close()
				if p := strings.Join(plan, " | "); strings.Contains(p, sorted) {
					t.Errorf("%s: plan sorts: %s", name, p)
				}
			}
		})
	}
}
