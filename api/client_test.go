package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

// An answer that is not the API's JSON (a proxy's 502 page, a plain 404)
// still gives a coded error with the status and the start of the body.
func TestClientNonAPIAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/codes":
			http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
		default:
			http.Error(w, "404 page not found", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := api.NewClient(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Codes(context.Background())
	if tfps.ErrorCode(err) != tfps.EUNAVAILABLE || !strings.Contains(tfps.ErrorMessage(err), "502") || !strings.Contains(tfps.ErrorMessage(err), "Bad Gateway") {
		t.Errorf("502 page: %v (code %s)", err, tfps.ErrorCode(err))
	}
	_, err = c.GetAccount(context.Background(), "1001", "pbx.example")
	if tfps.ErrorCode(err) != tfps.ENOTFOUND {
		t.Errorf("plain 404: %v (code %s)", err, tfps.ErrorCode(err))
	}
	srv.Close()
	_, err = c.Codes(context.Background())
	if tfps.ErrorCode(err) != tfps.EUNAVAILABLE {
		t.Errorf("closed server: %v (code %s)", err, tfps.ErrorCode(err))
	}
}

func TestClientValidatesLocally(t *testing.T) {
	if _, err := api.NewClient("ftp://x", "", nil); tfps.ErrorCode(err) != tfps.EINVALID {
		t.Errorf("ftp URL: %v", err)
	}
	c, _ := api.NewClient("http://127.0.0.1:1", "", nil)
	if _, err := c.GetAccount(context.Background(), "", "pbx.example"); tfps.ErrorCode(err) != tfps.EINVALID || !strings.Contains(err.Error(), "user: required") {
		t.Errorf("empty user: %v", err)
	}
}
