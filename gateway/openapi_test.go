package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

type openAPIDoc struct {
	OpenAPI    string                                  `json:"openapi"`
	Paths      map[string]map[string]openAPIOp         `json:"paths"`
	Components struct{ Schemas map[string]jsonSchema } `json:"components"`
}

type openAPIOp struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
		Example  any    `json:"example"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Example json.RawMessage `json:"example"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema jsonSchema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type jsonSchema struct {
	Ref        string                `json:"$ref"`
	Type       string                `json:"type"`
	Items      *jsonSchema           `json:"items"`
	Properties map[string]jsonSchema `json:"properties"`
	Required   []string              `json:"required"`
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	b, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var d openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", d.OpenAPI)
	}
	return &d
}

// TestOpenAPIDescribesEveryRoute holds docs/openapi.json and the router
// together: a route added without its description, or a description of a
// route that is gone, fails here.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	d := loadOpenAPI(t)
	h, err := api.Handler(nil, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	if err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var described []string
	ids := map[string]bool{}
	for path, ops := range d.Paths {
		for method, op := range ops {
			described = append(described, strings.ToUpper(method)+" "+path)
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, op.OperationID)
			}
			ids[op.OperationID] = true
			for code, r := range op.Responses {
				for _, c := range r.Content {
					checkRefs(t, d, fmt.Sprintf("%s %s %s", method, path, code), c.Schema)
				}
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(described)
	if !slices.Equal(routes, described) {
		t.Fatalf("router and docs/openapi.json differ:\nrouter:    %q\ndescribed: %q", routes, described)
	}
}

func checkRefs(t *testing.T, d *openAPIDoc, where string, s jsonSchema) {
	t.Helper()
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		if _, ok := d.Components.Schemas[name]; !ok {
			t.Errorf("%s: $ref %s is not defined", where, s.Ref)
		}
	}
	if s.Items != nil {
		checkRefs(t, d, where, *s.Items)
	}
}

// exampleOrder runs the documented examples in an order that makes each
// meaningful (create before change, delete last). Every operation of the
// description must be listed.
var exampleOrder = []string{
	"openapi", "listCodes", "addRules", "listRules", "createAccount", "getAccount", "updateAccount", "listAccounts",
	"allowCountry", "disallowCountry", "blockAccount", "unblockAccount", "check", "endCall", "accountStats", "resetAccount",
	"listDecisions", "accountDecisions", "exportDecisions", "accountHistory", "setPIN", "clearPIN", "addBlacklist", "listBlacklists", "listBlacklist",
	"removeBlacklist", "putRanges", "listRanges", "removeRange", "removeRule", "updateDomain", "getDomain", "accountBlocks", "clearVerification", "clearPairs",
	"listOutbox", "retryOutbox", "dropOutbox", "deleteAccount",
}

// TestOpenAPIExamples sends every example of docs/openapi.json to a real
// gateway: each must get its documented success status, and each answer
// may only carry fields the description names.
func TestOpenAPIExamples(t *testing.T) {
	d := loadOpenAPI(t)
	const token = "openapi-token"
	m := gatewaytest.MustStart(t, gatewaytest.Vars(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": token}))
	base := "http://" + m.HTTPAddr()
	// The outbox examples act on failed rows: two notifications a worker
	// gave up on.
	for _, id := range []string{"n-failed-1", "n-failed-2"} {
		if err := m.Store.Enqueue(context.Background(), &tfps.Notification{ID: id, Kind: tfps.NotifyNewAccount, At: time.Now(), User: "1001", Domain: "pbx.example"}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := m.Store.ClaimOutbox(context.Background(), "openapi-test", time.Now(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := m.Store.FailOutbox(context.Background(), &rows[i], "openapi-test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	type opAt struct {
		method, path string
		op           openAPIOp
	}
	byID := map[string]opAt{}
	for path, ops := range d.Paths {
		for method, op := range ops {
			byID[op.OperationID] = opAt{strings.ToUpper(method), path, op}
		}
	}
	if len(byID) != len(exampleOrder) {
		t.Fatalf("exampleOrder lists %d operations, the description has %d: add the new one", len(exampleOrder), len(byID))
	}
	for _, id := range exampleOrder {
		o, ok := byID[id]
		if !ok {
			t.Fatalf("operation %s is not described", id)
		}
		path, q := o.path, url.Values{}
		for _, p := range o.op.Parameters {
			if p.Example == nil {
				if p.Required {
					t.Fatalf("%s: required parameter %s has no example", id, p.Name)
				}
				continue
			}
			v := fmt.Sprint(p.Example)
			switch p.In {
			case "path":
				path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
			case "query":
				q.Set(p.Name, v)
			}
		}
		if strings.Contains(path, "{") {
			t.Fatalf("%s: path %s has a parameter without example", id, path)
		}
		var body io.Reader
		if o.op.RequestBody != nil {
			ex := o.op.RequestBody.Content["application/json"].Example
			if len(ex) == 0 {
				t.Fatalf("%s: request body without example", id)
			}
			body = bytes.NewReader(ex)
		}
		u := base + path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, _ := http.NewRequest(o.method, u, body)
		req.Header.Set("Authorization", "Bearer "+token)
		if o.op.RequestBody != nil {
			// Other documented body types (a CSV range import) must be
			// accepted as well.
			for ctype, c := range o.op.RequestBody.Content {
				if ctype == "application/json" {
					continue
				}
				var text string
				if err := json.Unmarshal(c.Example, &text); err != nil || text == "" {
					t.Fatalf("%s: %s example is not a string: %s", id, ctype, c.Example)
				}
				r, _ := http.NewRequest(o.method, u, strings.NewReader(text))
				r.Header.Set("Authorization", "Bearer "+token)
				r.Header.Set("Content-Type", ctype)
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					t.Errorf("%s %s as %s: status %d: %s", o.method, u, ctype, resp.StatusCode, got)
				}
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var success string
		for code := range o.op.Responses {
			if strings.HasPrefix(code, "2") {
				success = code
			}
		}
		if fmt.Sprint(resp.StatusCode) != success {
			t.Errorf("%s %s: status %d, documented %s: %s", o.method, u, resp.StatusCode, success, got)
			continue
		}
		if id == "openapi" {
			if !bytes.Equal(got, mustRead(t, "../docs/openapi.json")) {
				t.Errorf("GET /v1/openapi.json differs from docs/openapi.json")
			}
			continue
		}
		if c, ok := o.op.Responses[success].Content["application/json"]; ok {
			var v any
			if err := json.Unmarshal(got, &v); err != nil {
				t.Errorf("%s: answer is not JSON: %v", id, err)
				continue
			}
			conforms(t, d, id, c.Schema, v)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conforms checks that v has the required fields of s and no field s does
// not name.
func conforms(t *testing.T, d *openAPIDoc, where string, s jsonSchema, v any) {
	t.Helper()
	if s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	switch x := v.(type) {
	case []any:
		if s.Items != nil {
			for _, e := range x {
				conforms(t, d, where+"[]", *s.Items, e)
			}
		}
	case map[string]any:
		if len(s.Properties) == 0 {
			return
		}
		for k, fv := range x {
			ps, ok := s.Properties[k]
			if !ok {
				t.Errorf("%s: answer has field %q the description does not name", where, k)
				continue
			}
			conforms(t, d, where+"."+k, ps, fv)
		}
		for _, k := range s.Required {
			if _, ok := x[k]; !ok {
				t.Errorf("%s: answer lacks required field %q", where, k)
			}
		}
	}
}
