// Package migrations embeds the SQL schema migrations, one folder per dialect,
// applied with pressly/goose by the store package. Versions are shared by both
// dialects: a change adds the same numbered file to sqlite/ and postgres/.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// FS returns the migrations of one dialect ("sqlite" or "postgres").
func FS(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}
