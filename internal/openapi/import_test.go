package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
)

// importDoc writes doc (and the other files) into a temp dir and imports it.
func importDoc(t *testing.T, doc string, opt Options, files ...string) (*Result, *configs.Config) {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "api.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Import(context.Background(), p, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r, mustLoad(t, "api.yaml", r.YAML)
}

func tools(cfg *configs.Config) map[string]configs.Tool {
	out := map[string]configs.Tool{}
	for _, tl := range cfg.Integrations[0].Tools.List {
		out[tl.Name] = tl
	}
	return out
}

func param(t *testing.T, tl configs.Tool, name string) configs.Param {
	t.Helper()
	for _, p := range tl.Params {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("tool %s has no param %s: %+v", tl.Name, name, tl.Params)
	return configs.Param{}
}

func prop(t *testing.T, p configs.Param, name string) configs.Param {
	t.Helper()
	for _, c := range p.Properties {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("param %s has no property %s", p.Name, name)
	return configs.Param{}
}

func hasParam(tl configs.Tool, name string) bool {
	for _, p := range tl.Params {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestExternalRefs: $refs into other files for parameters, request bodies
// and schemas; allOf merged; recursion cut; readOnly left out.
func TestExternalRefs(t *testing.T) {
	r, err := Import(context.Background(), "testdata/extref/api.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, "extref", r.YAML)
	in := cfg.Integrations[0]
	if in.Name != "pet_clinic" || in.BaseURL != "https://clinic.example.com/v1" {
		t.Errorf("integration %s at %s", in.Name, in.BaseURL)
	}
	ts := tools(cfg)
	get := ts["get_pet_by_id"]
	if get.Method != "GET" || get.Path != "/pets/{petId}" || get.Description != "Get one pet by its id." {
		t.Errorf("get_pet_by_id: %+v", get)
	}
	if p := param(t, get, "petId"); p.In != "path" || !p.Required || p.Validate != "uuid" || p.Description != "The pet's id." {
		t.Errorf("petId from the path-level $ref in another file: %+v", p)
	}
	if p := param(t, get, "verbose"); p.In != "query" || p.Type != "boolean" || p.Default != false {
		t.Errorf("verbose: %+v", p)
	}
	if !strings.Contains(string(r.YAML), "      # GET /pets/{petId} (getPetById)\n      - name: get_pet_by_id\n") {
		t.Error("no comment naming the source operation")
	}
	create := ts["create_pet"]
	name := param(t, create, "name") // from the first allOf part, in another file
	if name.In != "body" || !name.Required || name.Validate != "min=1,max=80" {
		t.Errorf("name: %+v", name)
	}
	if kind := param(t, create, "kind"); !kind.Required || !reflect.DeepEqual(kind.Enum, []any{"cat", "dog"}) {
		t.Errorf("kind: %+v", kind)
	}
	if hasParam(create, "id") {
		t.Error("the readOnly id is asked of the model")
	}
	owner := param(t, create, "owner")
	if owner.Type != "object" || prop(t, owner, "email").Validate != "email" || prop(t, owner, "age").Validate != "gte=0,lte=150" {
		t.Errorf("owner: %+v", owner)
	}
	// Pet.parent is a Pet: cut off as an open object at once.
	if parent := param(t, create, "parent"); parent.Type != "object" || len(parent.Properties) != 0 {
		t.Errorf("recursive parent not cut off: %+v", parent)
	}
	if items := prop(t, owner, "pets").Items; items == nil || items.Type != "object" || len(items.Properties) != 0 {
		t.Errorf("owner.pets items (Pets inside a Pet) not cut off: %+v", items)
	}
	del := ts["delete_pet"]
	if del.Confirm == nil || del.Confirm.Message != "Do you confirm: delete a pet (petId {{.petId}})?" {
		t.Errorf("delete confirm: %+v", del.Confirm)
	}
	if get.Confirm != nil || create.Confirm != nil {
		t.Error("only DELETE gets a confirm block")
	}
}

// TestSwagger2: YAML 2.0 with an external file, apiKey auth, body
// parameter, formData upload, Spanish summaries.
func TestSwagger2(t *testing.T) {
	r, err := Import(context.Background(), "testdata/swagger2/api.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, "swagger2", r.YAML)
	in := cfg.Integrations[0]
	if in.BaseURL != "https://tienda.example.com/api" {
		t.Errorf("base_url %s", in.BaseURL)
	}
	if in.Auth.Type != "header" || in.Auth.Header != "X-Api-Key" || in.Auth.Secret != "vault:secret/inventario#api_key" {
		t.Errorf("auth %+v", in.Auth)
	}
	ts := tools(cfg)
	if p := param(t, ts["listar_productos"], "limite"); p.Type != "integer" || fmt.Sprint(p.Default) != "20" || p.Validate != "lte=100" {
		t.Errorf("limite: %#v", p)
	}
	crear := ts["crear_producto"]
	if p := param(t, crear, "precio"); p.Validate != "gt=0" || !p.Required {
		t.Errorf("precio: %+v", p)
	}
	if v := param(t, crear, "variantes"); v.Items == nil || len(v.Items.Properties) != 0 {
		t.Errorf("variantes (a list of Productos in a Producto) not cut off: %+v", v.Items)
	}
	if msg := ts["eliminar_producto"].Confirm.Message; msg != "¿Confirmas: elimina un producto del inventario (id {{.id}})?" {
		t.Errorf("confirm in Spanish: %q", msg)
	}
	if _, ok := ts["subir_foto"]; ok || len(r.LeftOut["multipart body (multipart/form-data)"]) != 1 {
		t.Errorf("the multipart upload is not left out with its reason: %v", r.LeftOut)
	}
}

const doc31 = `openapi: 3.1.0
info: {title: Things, version: "1"}
servers:
  - url: https://{region}.things.example/{version}
    variables:
      region: {default: eu, enum: [eu, us]}
      version: {default: v2}
security:
  - oauth: [read]
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: https://auth.example/token, scopes: {read: read}}}
    key: {type: apiKey, in: query, name: api_key}
  schemas:
    Node:
      type: object
      properties:
        label: {type: [string, "null"]}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
paths:
  /things:
    post:
      operationId: things/create
      summary: Create a thing. It is stored for ever. Really for ever.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [kind, size]
              properties:
                kind: {const: box}
                size: {type: integer, exclusiveMinimum: 0, maximum: 10}
                tree: {$ref: "#/components/schemas/Node"}
                shape:
                  oneOf:
                    - {type: object, required: [r], properties: {r: {type: number}}}
                    - {type: object, required: [w, h], properties: {w: {type: number}, h: {type: number}}}
                id_or_name:
                  anyOf: [{type: integer}, {type: string}]
                link: {type: string, format: uri, pattern: "^https://"}
`

func TestOpenAPI31(t *testing.T) {
	r, cfg := importDoc(t, doc31, Options{})
	in := cfg.Integrations[0]
	if in.BaseURL != "https://eu.things.example/v2" {
		t.Errorf("server variables at their defaults: %s", in.BaseURL)
	}
	if in.Auth.Type != "bearer" || in.Auth.Secret != "vault:secret/things#access_token" || !strings.Contains(string(r.YAML), "# NOTE: oauth2 is sent as a bearer token") {
		t.Errorf("oauth2 as bearer with a note: %+v\n%s", in.Auth, r.YAML)
	}
	if !strings.Contains(string(r.YAML), "key (apiKey in query api_key)") {
		t.Error("the other security scheme is not mentioned")
	}
	tl := tools(cfg)["things_create"]
	if tl.Description != "Create a thing. It is stored for ever." {
		t.Errorf("description cut to two sentences: %q", tl.Description)
	}
	if p := param(t, tl, "kind"); !reflect.DeepEqual(p.Enum, []any{"box"}) || !p.Required {
		t.Errorf("const as a one-value enum: %+v", p)
	}
	if p := param(t, tl, "size"); p.Validate != "gt=0,lte=10" {
		t.Errorf("3.1 exclusiveMinimum: %+v", p)
	}
	tree := param(t, tl, "tree")
	if prop(t, tree, "label").Type != "string" {
		t.Error("type [string, null] is not a string")
	}
	if c := prop(t, tree, "children"); c.Items == nil || c.Items.Type != "object" || len(c.Items.Properties) != 0 {
		t.Errorf("recursive children not cut off: %+v", c.Items)
	}
	// oneOf of objects: every property, none required (no property is in all).
	shape := param(t, tl, "shape")
	if len(shape.Properties) != 3 {
		t.Errorf("oneOf objects merged: %+v", shape.Properties)
	}
	for _, p := range shape.Properties {
		if p.Required {
			t.Errorf("%s is required in only one alternative", p.Name)
		}
	}
	if p := param(t, tl, "id_or_name"); p.Type != "integer" {
		t.Errorf("anyOf of scalars takes the first: %+v", p)
	}
	if p := param(t, tl, "link"); p.Validate != "uri" {
		t.Errorf("format uri (pattern has no validator tag): %+v", p)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"getPetById":        "get_pet_by_id",
		"issues/get":        "issues_get",
		"repos/create-fork": "repos_create_fork",
		"HTTPServerStatus":  "http_server_status",
		"get_/pets/{id}":    "get_pets_id",
		"v2Users":           "v2_users",
		"  ":                "",
		"Crear Categoría":   "crear_categor_a",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNamesShortenedAndUnique(t *testing.T) {
	long := strings.Repeat("veryLong", 10)
	doc := `openapi: 3.0.0
info: {title: A rather long integration title, version: "1"}
servers: [{url: https://x.example}]
paths:
  /a: {get: {operationId: ` + long + `, responses: {"200": {description: ok}}}}
  /b: {get: {operationId: ` + long + `X, responses: {"200": {description: ok}}}}
  /c: {get: {operationId: listThings, responses: {"200": {description: ok}}}}
  /d: {get: {operationId: list_things, responses: {"200": {description: ok}}}}
  /e/{id}: {get: {responses: {"200": {description: ok}}}}
`
	r, cfg := importDoc(t, doc, Options{})
	in := cfg.Integrations[0]
	if in.Name != "a_rather_long" {
		t.Errorf("name from the title, cut at a word: %s", in.Name)
	}
	seen := map[string]bool{}
	for _, tl := range in.Tools.List {
		full := in.Name + "_" + tl.Name
		if !configs.ExposedName.MatchString(full) || seen[full] {
			t.Errorf("bad or duplicate exposed name %s", full)
		}
		seen[full] = true
	}
	ts := tools(cfg)
	if _, ok := ts["list_things"]; !ok {
		t.Error("the first list_things keeps its name")
	}
	if _, ok := ts["get_e_id"]; !ok {
		t.Errorf("no operationId: method and path: %v", ts)
	}
	if len(r.Shortened) != 3 {
		t.Errorf("shortened: %v", r.Shortened)
	}
	// Deterministic: the same document gives the same names.
	r2, _ := importDoc(t, doc, Options{})
	if string(r.YAML[strings.Index(string(r.YAML), "integrations:"):]) != string(r2.YAML[strings.Index(string(r2.YAML), "integrations:"):]) {
		t.Error("two imports differ")
	}
}

const petsDoc = `openapi: 3.0.0
info: {title: Pets, version: "1"}
servers: [{url: https://pets.example}]
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
security: [{bearer: []}]
paths:
  /pets:
    parameters:
      - {name: limit, in: query, description: path-level, schema: {type: string}}
    get:
      operationId: listPets
      tags: [pets]
      parameters:
        - {name: limit, in: query, description: operation-level, schema: {type: integer}}
        - {name: Authorization, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
      responses: {"200": {description: ok}}
    post:
      operationId: createPet
      tags: [pets]
      parameters:
        - {name: q, in: query, schema: {type: string}}
        - {name: "bad header", in: header, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                q: {type: string}
                name: {type: string}
                confirmation_token: {type: string}
      responses: {"201": {description: ok}}
  /pets/{id}:
    put:
      operationId: replacePet
      tags: [admin]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [id], properties: {id: {type: string}}}
      responses: {"200": {description: ok}}
    delete:
      operationId: deletePet
      tags: [admin]
      responses: {"204": {description: ok}}
  /pets/{id}/photo:
    post:
      operationId: uploadPhoto
      requestBody:
        content: {image/png: {schema: {type: string, format: binary}}}
      responses: {"200": {description: ok}}
  /login:
    post:
      operationId: login
      parameters: [{name: sid, in: cookie, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
    head:
      operationId: ping
      responses: {"200": {description: ok}}
`

func TestParamsAndCollisions(t *testing.T) {
	r, cfg := importDoc(t, petsDoc, Options{})
	ts := tools(cfg)
	list := ts["list_pets"]
	if p := param(t, list, "limit"); p.Type != "integer" || p.Description != "operation-level" {
		t.Errorf("the operation's parameter wins over the path's: %+v", p)
	}
	if hasParam(list, "Authorization") || hasParam(list, "session") {
		t.Error("the auth header or the cookie is a param")
	}
	create := ts["create_pet"]
	if p := param(t, create, "q"); p.In != "query" {
		t.Errorf("the query param keeps the name, the body property is dropped: %+v", p)
	}
	if hasParam(create, "confirmation_token") || hasParam(create, "bad header") || !hasParam(create, "name") {
		t.Errorf("create_pet params: %+v", create.Params)
	}
	// A required body property named like the path parameter: left out.
	if _, ok := ts["replace_pet"]; ok {
		t.Error("replace_pet should be left out (required body id vs path id)")
	}
	if _, ok := ts["upload_photo"]; ok {
		t.Error("a binary upload is imported")
	}
	if _, ok := ts["login"]; ok {
		t.Error("an operation with a required cookie is imported")
	}
	if d := ts["delete_pet"]; d.Confirm == nil || !strings.Contains(d.Confirm.Message, "{{.id}}") || !hasParam(d, "id") {
		t.Errorf("undeclared path placeholder: %+v", d)
	}
	wantLeft := map[string]int{
		"binary body (image/png)":                                1,
		"method HEAD is not supported":                           1,
		"required cookie parameter":                              1,
		"required body property whose name a path parameter has": 1,
	}
	for k, n := range wantLeft {
		if len(r.LeftOut[k]) != n {
			t.Errorf("left out for %q: %v (all: %v)", k, r.LeftOut[k], r.LeftOut)
		}
	}
	var sum strings.Builder
	r.Summary(&sum)
	for _, want := range []string{"7 operation(s) found, 3 imported", "left out, binary body (image/png) (1):", "POST /pets/{id}/photo (uploadPhoto)", "pets_create_pet: q", "POST /login (login): sid"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

func TestSelection(t *testing.T) {
	for _, c := range []struct {
		opt  Options
		want []string
	}{
		{Options{Tags: []string{"PETS"}}, []string{"list_pets", "create_pet"}},
		{Options{Include: []string{"*_pet"}}, []string{"create_pet", "delete_pet"}},
		{Options{Include: []string{"pets_list_*"}}, []string{"list_pets"}},
		{Options{Exclude: []string{"create_*", "list_*"}}, []string{"delete_pet"}},
		{Options{Tags: []string{"admin"}, Exclude: []string{"replace_pet"}}, []string{"delete_pet"}},
	} {
		_, cfg := importDoc(t, petsDoc, c.opt)
		var got []string
		for _, tl := range cfg.Integrations[0].Tools.List {
			got = append(got, tl.Name)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.opt, got, c.want)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "api.yaml")
	_ = os.WriteFile(p, []byte(petsDoc), 0o644)
	if _, err := Import(context.Background(), p, Options{Tags: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "none of its 7 operations matches") {
		t.Errorf("nothing selected: %v", err)
	}
	if _, err := Import(context.Background(), p, Options{Name: "Bad-Name"}); err == nil {
		t.Error("a bad --name is accepted")
	}
	if _, err := Import(context.Background(), p, Options{Include: []string{"["}}); err == nil {
		t.Error("a bad glob is accepted")
	}
	_, cfg := importDoc(t, petsDoc, Options{Name: "zoo", BaseURL: "http://127.0.0.1:9/v1/"})
	if in := cfg.Integrations[0]; in.Name != "zoo" || in.BaseURL != "http://127.0.0.1:9/v1" {
		t.Errorf("--name/--base-url: %s %s", in.Name, in.BaseURL)
	}
}

func TestAuthSchemes(t *testing.T) {
	for scheme, want := range map[string]configs.Auth{
		`{type: http, scheme: bearer}`:            {Type: "bearer", Secret: "vault:secret/a#token"},
		`{type: http, scheme: basic}`:             {Type: "basic", Username: "EDIT_ME", Secret: "vault:secret/a#password"},
		`{type: apiKey, in: header, name: X-Key}`: {Type: "header", Header: "X-Key", Secret: "vault:secret/a#api_key"},
		`{type: apiKey, in: query, name: key}`:    {Type: "query", Param: "key", Secret: "vault:secret/a#api_key"},
		`{type: openIdConnect, openIdConnectUrl: https://id.example/.well-known/openid-configuration}`: {Type: "bearer", Secret: "vault:secret/a#access_token"},
		`{type: apiKey, in: cookie, name: sid}`:                                                        {},
		`{type: http, scheme: digest}`:                                                                 {},
	} {
		doc := `openapi: 3.0.0
info: {title: a, version: "1"}
servers: [{url: https://a.example}]
components: {securitySchemes: {s: ` + scheme + `}}
paths: {/x: {get: {security: [{s: []}], responses: {"200": {description: ok}}}}}
`
		_, cfg := importDoc(t, doc, Options{})
		if got := cfg.Integrations[0].Auth; got != want && !(want.Type == "" && got.Type == "none") {
			t.Errorf("%s: got %+v, want %+v", scheme, got, want)
		}
	}
}

func TestRelativeServer(t *testing.T) {
	doc := `openapi: 3.0.0
info: {title: a, version: "1"}
servers: [{url: /api/v1}]
paths: {/x: {get: {responses: {"200": {description: ok}}}}}
`
	r, cfg := importDoc(t, doc, Options{})
	if cfg.Integrations[0].BaseURL != "https://api.example.invalid/api/v1" || len(r.Notes) == 0 || !strings.Contains(string(r.YAML), "# EDIT:") {
		t.Errorf("placeholder base_url: %s %v", cfg.Integrations[0].BaseURL, r.Notes)
	}
	// Fetched from a URL, a relative server is relative to the document.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(doc)) }))
	defer srv.Close()
	r, err := Import(context.Background(), srv.URL+"/spec/openapi.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := mustLoad(t, "url", r.YAML); cfg.Integrations[0].BaseURL != srv.URL+"/api/v1" {
		t.Errorf("base_url %s", cfg.Integrations[0].BaseURL)
	}
}

// TestURLWithExternalRefs serves the external-ref fixture over HTTP.
func TestURLWithExternalRefs(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	defer srv.Close()
	r, err := Import(context.Background(), srv.URL+"/extref/api.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := tools(mustLoad(t, "url", r.YAML))
	if p := param(t, ts["get_pet_by_id"], "petId"); p.Validate != "uuid" {
		t.Errorf("petId: %+v", p)
	}
	if p := param(t, ts["create_pet"], "name"); !p.Required {
		t.Errorf("name: %+v", p)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	remoteFile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"openapi":"3.0.0","info":{"title":"a","version":"1"},"paths":{"/x":{"get":{"parameters":[{"$ref":"/etc/hostname"}],"responses":{"200":{"description":"ok"}}}}}}`))
	}))
	defer remoteFile.Close()

	for _, c := range []struct {
		name, spec string
		want       []string
	}{
		{"not openapi", write("cfg.yaml", "server:\n  name: x\n"), []string{"cfg.yaml is not an OpenAPI document", `neither an "openapi" nor a "swagger" key`}},
		{"a list", write("list.json", `[1, 2]`), []string{"list.json is not an OpenAPI document"}},
		{"broken JSON", write("broken.json", "{\n  \"openapi\": \"3.0.0\",\n  \"info\": {\n}}}"), []string{"broken.json is not valid JSON: line 4"}},
		{"broken YAML", write("broken.yaml", "openapi: 3.0.0\ninfo:\n  title: [unclosed\n  version: 1\n"), []string{"broken.yaml is not valid YAML: line"}},
		{"version 4", write("v4.yaml", "openapi: 4.0.0\n"), []string{`OpenAPI version "4.0.0" is not supported`}},
		{"swagger 1.2", write("v1.yaml", "swagger: \"1.2\"\n"), []string{`Swagger version "1.2" is not supported`}},
		{"missing file", filepath.Join(dir, "nope.yaml"), []string{"nope.yaml does not exist"}},
		{"missing external ref", write("ext.yaml", "openapi: 3.0.0\ninfo: {title: a, version: '1'}\npaths:\n  /x:\n    get:\n      parameters: [{$ref: 'gone.yaml#/P'}]\n      responses: {'200': {description: ok}}\n"), []string{"ext.yaml cannot be loaded", "gone.yaml does not exist"}},
		{"bad pointer", write("ptr.yaml", "openapi: 3.0.0\ninfo: {title: a, version: '1'}\npaths:\n  /x:\n    get:\n      parameters: [{$ref: '#/components/parameters/Nope'}]\n      responses: {'200': {description: ok}}\n"), []string{"ptr.yaml cannot be loaded", "#/components/parameters/Nope"}},
		{"no operations", write("empty.yaml", "openapi: 3.1.0\ninfo: {title: a, version: '1'}\n"), []string{"empty.yaml has no operations to import"}},
		{"unreachable URL", closedURL + "/openapi.json", []string{"cannot fetch " + closedURL + "/openapi.json"}},
		{"404 URL", missing.URL + "/openapi.json", []string{"the server answered 404"}},
		{"slow URL", slow.URL + "/openapi.json", []string{"no answer within the timeout"}},
		{"remote doc, local ref", remoteFile.URL + "/openapi.json", []string{"may not refer to the local file /etc/hostname"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Import(context.Background(), c.spec, Options{Timeout: 300 * time.Millisecond})
			if err == nil {
				t.Fatal("no error")
			}
			var ierr *Error
			if !errors.As(err, &ierr) {
				t.Errorf("not an *Error: %T %v", err, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("more than one line: %q", err)
			}
			t.Logf("%s", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestShortText(t *testing.T) {
	for in, want := range map[string]string{
		"_NOTE_: Only users with **push** access. See [the docs](https://x.example). More.": "NOTE: Only users with push access. See the docs.",
		"Uses snake_case names like `user_id`.":                                             "Uses snake_case names like user_id.",
		"Line one\nline two.\n\n## Header\nmore":                                            "Line one line two.",
		"Costs ${AMOUNT} today":                                                             "Costs $ {AMOUNT} today",
		strings.Repeat("word ", 60):                                                         strings.TrimSpace(strings.Repeat("word ", 32)) + "…",
	} {
		if got := shortText(in, 160); got != want {
			t.Errorf("shortText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestValidateTags(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		v    view
		typ  string
		want string
	}{
		{view{min: f(1.1), max: f(5)}, "integer", "gte=2,lte=5"},
		{view{min: f(-19.5), max: f(-3.2)}, "integer", "gte=-19,lte=-4"},
		{view{min: f(0), exMin: true, max: f(1e30)}, "integer", "gt=0"},
		{view{min: f(0.5), max: f(99999999.999999)}, "number", ""},
		{view{min: f(0), exMin: true, max: f(500)}, "number", "gt=0,lte=500"},
		{view{format: "email", minLen: 3, maxLen: func() *uint64 { n := uint64(9); return &n }()}, "string", "email,min=3,max=9"},
		{view{format: "date-time"}, "string", "datetime=2006-01-02T15:04:05Z07:00"},
		{view{format: "binary"}, "string", ""},
	} {
		got := validateTag(c.v, c.typ)
		if got != c.want {
			t.Errorf("%+v %s: got %q, want %q", c.v, c.typ, got, c.want)
		}
		if got != "" {
			if err := validatorCompiles(got); err != nil {
				t.Errorf("%q: %v", got, err)
			}
		}
	}
}
