package api

import (
	"net/http"

	"github.com/voipshield/tfps"
)

// openapi serves the OpenAPI 3.1 description of these routes
// (docs/openapi.json).
func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(tfps.OpenAPI())
}
