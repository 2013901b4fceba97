package admin

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// TestOpenAPIDocumentValidates checks the document against the OpenAPI 3.1
// schema (libopenapi-validator's copy of it).
func TestOpenAPIDocumentValidates(t *testing.T) {
	doc, err := libopenapi.NewDocument(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("version %q", v)
	}
	val, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := val.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("model: %v", err)
	}
}

// TestOpenAPIMatchesRouter walks both the document and the router: every
// route is documented with its method and path parameters, and every
// documented operation is routed; every $ref resolves.
func TestOpenAPIMatchesRouter(t *testing.T) {
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("servers %+v", doc.Servers)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		var shared []param
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &shared)
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			key := strings.ToUpper(method) + " /api/v1" + path
			documented[key] = true
			var op struct {
				OperationID string `json:"operationId"`
				Parameters  []param
				Responses   map[string]json.RawMessage
				Security    *[]any
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s: operationId and responses are required", key)
			}
			// Each {x} of the path is a declared path parameter.
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(append(shared, op.Parameters...), func(p param) bool { return p.Name == m[1] && p.In == "path" && p.Required }) {
					t.Errorf("%s: path parameter %s not declared", key, m[1])
				}
			}
			_, has401 := op.Responses["401"]
			public := op.Security != nil && len(*op.Security) == 0
			if has401 == public {
				t.Errorf("%s: public=%v but 401 documented=%v", key, public, has401)
			}
		}
	}
	routed := map[string]bool{}
	for _, r := range Routes() {
		key := r.Method + " " + r.Pattern
		routed[key] = true
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for key := range documented {
		if !routed[key] {
			t.Errorf("the OpenAPI document has %s, the router does not", key)
		}
	}
	// Every $ref resolves.
	var all map[string]any
	_ = json.Unmarshal(OpenAPI(), &all)
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(OpenAPI()), -1) {
		var cur any = all
		for _, part := range strings.Split(ref[1], "/") {
			m, _ := cur.(map[string]any)
			cur = m[part]
		}
		if cur == nil {
			t.Errorf("$ref #/%s does not resolve", ref[1])
		}
	}
}

type param struct {
	Name, In string
	Required bool
}
