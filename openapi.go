package tfps

import (
	_ "embed"
	"slices"
)

//go:embed docs/openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 description of the HTTP API
// (docs/openapi.json, embedded so the gateway serves the file the
// repository documents).
func OpenAPI() []byte { return slices.Clone(openAPI) }
