package openapi

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

const placeholderBase = "https://api.example.invalid"

// baseURL picks the integration's base_url: --base-url, else servers[0] with
// its variables at their defaults, resolved against the document's URL when
// relative.
func (b *builder) baseURL(l *loaded) (string, []string) {
	if b.opt.BaseURL != "" {
		return strings.TrimRight(b.opt.BaseURL, "/"), nil
	}
	var raw string
	var comments []string
	if len(l.doc.Servers) > 0 && l.doc.Servers[0] != nil {
		s := l.doc.Servers[0]
		raw = s.URL
		for name, v := range s.Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		if len(s.Variables) > 0 {
			comments = append(comments, "servers[0] is "+s.URL+" with its variables at their defaults")
		}
		if len(l.doc.Servers) > 1 {
			var others []string
			for _, o := range l.doc.Servers[1:] {
				if o != nil {
					others = append(others, o.URL)
				}
			}
			comments = append(comments, "other servers: "+strings.Join(others, ", "))
		}
	}
	u, err := url.Parse(raw)
	if err == nil && !u.IsAbs() && l.location != nil && (l.location.Scheme == "http" || l.location.Scheme == "https") {
		u = l.location.ResolveReference(u)
	}
	if err != nil || u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.String(), "{}") || !safeText(raw) {
		p := ""
		if err == nil && u != nil && strings.HasPrefix(u.Path, "/") && !strings.ContainsAny(u.Path, "{}") {
			p = u.Path
		}
		why := "the document names no server"
		if raw != "" {
			why = fmt.Sprintf("the document's server %q is not an absolute http(s) URL", raw)
		}
		b.res.Notes = append(b.res.Notes, why+": edit base_url in the generated file, or pass --base-url")
		return strings.TrimRight(placeholderBase+p, "/"), append(comments, "EDIT: "+why+"; this is a placeholder (or pass --base-url)")
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), comments
}

// pickAuth turns the document's security schemes into the integration's
// auth: the first scheme of the first global requirement that switchboard
// can send, else the one most operations use.
func (b *builder) pickAuth() (*outAuth, []string) {
	if b.doc.Components == nil || len(b.doc.Components.SecuritySchemes) == 0 {
		return nil, nil
	}
	schemes := b.doc.Components.SecuritySchemes
	var candidates []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			candidates = append(candidates, n)
		}
	}
	// Alternatives of the global requirement: the kind that needs the least
	// editing first (a bearer token over a username and password).
	var global []string
	for _, req := range b.doc.Security {
		global = append(global, sortedKeys(req)...)
	}
	sort.SliceStable(global, func(i, j int) bool { return schemeRank(schemes[global[i]]) < schemeRank(schemes[global[j]]) })
	for _, n := range global {
		add(n)
	}
	uses := map[string]int{}
	if b.doc.Paths != nil {
		for _, item := range b.doc.Paths.Map() {
			for _, o := range item.Operations() {
				if o.Security == nil {
					continue
				}
				for _, req := range *o.Security {
					for n := range req {
						uses[n]++
					}
				}
			}
		}
	}
	byUse := sortedKeys(uses)
	sort.SliceStable(byUse, func(i, j int) bool { return uses[byUse[i]] > uses[byUse[j]] })
	for _, n := range byUse {
		add(n)
	}
	for _, n := range sortedKeys(schemes) {
		add(n)
	}
	var comments []string
	var chosen *outAuth
	var chosenName string
	var others []string
	for _, n := range candidates {
		ref := schemes[n]
		if ref == nil || ref.Value == nil {
			continue
		}
		s := ref.Value
		if chosen != nil {
			others = append(others, n+" ("+describeScheme(s)+")")
			continue
		}
		a, note := b.schemeAuth(n, s)
		if a == nil {
			others = append(others, n+" ("+describeScheme(s)+", not supported)")
			continue
		}
		chosen, chosenName = a, n
		comments = append(comments, fmt.Sprintf("auth from the security scheme %q (%s): store the credential in Vault at %s", n, describeScheme(s), strings.TrimPrefix(a.Secret, "vault:")))
		if note != "" {
			comments = append(comments, note)
		}
	}
	if len(others) > 0 {
		comments = append(comments, "the document also declares: "+strings.Join(others, "; ")+" (an integration sends one kind of auth)")
	}
	if chosen == nil {
		b.res.Notes = append(b.res.Notes, "none of the document's security schemes can be sent by switchboard: the integration has no auth")
		return nil, comments
	}
	b.res.Notes = append(b.res.Notes, fmt.Sprintf("auth %s from the security scheme %q uses the placeholder %s: edit it", chosen.Type, chosenName, chosen.Secret))
	return chosen, comments
}

func (b *builder) secretRef(field string) string {
	return "vault:secret/" + b.integ + "#" + field
}

func (b *builder) schemeAuth(name string, s *openapi3.SecurityScheme) (*outAuth, string) {
	switch strings.ToLower(s.Type) {
	case "http":
		switch strings.ToLower(s.Scheme) {
		case "bearer":
			return &outAuth{Type: "bearer", Secret: b.secretRef("token")}, ""
		case "basic":
			return &outAuth{Type: "basic", Username: "EDIT_ME", Secret: b.secretRef("password")}, "EDIT: set username; the password is read from the secret"
		}
	case "apikey":
		switch strings.ToLower(s.In) {
		case "header":
			if headerToken.MatchString(s.Name) {
				return &outAuth{Type: "header", Header: s.Name, Secret: b.secretRef("api_key")}, ""
			}
		case "query":
			if s.Name != "" && safeText(s.Name) {
				return &outAuth{Type: "query", Param: s.Name, Secret: b.secretRef("api_key")}, ""
			}
		}
	case "oauth2", "openidconnect":
		return &outAuth{Type: "bearer", Secret: b.secretRef("access_token")},
			"NOTE: " + s.Type + " is sent as a bearer token: obtain an access token through the provider's flow and store it (switchboard does not run the flow or refresh the token)"
	}
	return nil, ""
}

// schemeRank orders the kinds of auth switchboard sends, easiest first.
func schemeRank(ref *openapi3.SecuritySchemeRef) int {
	if ref == nil || ref.Value == nil {
		return 9
	}
	s := ref.Value
	switch strings.ToLower(s.Type) {
	case "http":
		if strings.EqualFold(s.Scheme, "bearer") {
			return 0
		}
		if strings.EqualFold(s.Scheme, "basic") {
			return 4
		}
	case "apikey":
		if strings.EqualFold(s.In, "header") {
			return 1
		}
		return 2
	case "oauth2", "openidconnect":
		return 3
	}
	return 9
}

func describeScheme(s *openapi3.SecurityScheme) string {
	switch strings.ToLower(s.Type) {
	case "http":
		return "http " + strings.ToLower(s.Scheme)
	case "apikey":
		return "apiKey in " + s.In + " " + s.Name
	}
	return s.Type
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Languages whose confirm messages switchboard can write, with words that
// give a document away.
var languages = []struct {
	code  string
	words []string
	ask   string // "%s" is the action
	thing string // the action when the operation has no summary
}{
	{"en", []string{"the", "and", "of", "to", "a", "an", "is", "for", "with", "get", "list", "create", "delete", "update", "returns"}, "Do you confirm: %s?", "delete this item"},
	{"es", []string{"el", "la", "los", "las", "de", "del", "un", "una", "y", "para", "por", "obtener", "crear", "eliminar", "borrar", "actualizar", "lista"}, "¿Confirmas: %s?", "eliminar este elemento"},
	{"fr", []string{"le", "la", "les", "des", "du", "un", "une", "et", "pour", "avec", "obtenir", "créer", "supprimer", "mettre", "liste"}, "Confirmez-vous : %s ?", "supprimer cet élément"},
	{"de", []string{"der", "die", "das", "den", "dem", "ein", "eine", "und", "für", "mit", "abrufen", "erstellen", "löschen", "aktualisieren", "liste"}, "Bestätigen Sie: %s?", "dieses Element löschen"},
	{"pt", []string{"o", "os", "as", "do", "da", "dos", "um", "uma", "e", "para", "com", "obter", "criar", "excluir", "apagar", "atualizar"}, "Confirma: %s?", "excluir este item"},
	{"it", []string{"il", "lo", "gli", "della", "di", "un", "una", "e", "per", "con", "ottenere", "creare", "eliminare", "aggiornare", "elenco"}, "Confermi: %s?", "eliminare questo elemento"},
}

// detectLanguage guesses the language of the document's summaries: English
// unless another language clearly dominates.
func detectLanguage(doc *openapi3.T) string {
	var text []string
	if doc.Info != nil {
		text = append(text, doc.Info.Title, doc.Info.Description)
	}
	if doc.Paths != nil {
		n := 0
		for _, k := range doc.Paths.InMatchingOrder() {
			for _, o := range doc.Paths.Value(k).Operations() {
				if n < 300 {
					text = append(text, o.Summary)
					n++
				}
			}
		}
	}
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(strings.ToLower(strings.Join(text, " ")), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r > 127)
	}) {
		for _, l := range languages {
			for _, lw := range l.words {
				if w == lw {
					counts[l.code]++
				}
			}
		}
	}
	best := "en"
	for _, l := range languages[1:] {
		if counts[l.code] >= 3 && counts[l.code] > 2*counts["en"] && counts[l.code] > counts[best] {
			best = l.code
		}
	}
	return best
}

// confirmMessage is the sentence read to the caller before a DELETE runs.
// It names the required path parameters, which the config checker allows
// in a message because they are always given.
func confirmMessage(lang, summary string, params []*outParam) string {
	l := languages[0]
	for _, c := range languages {
		if c.code == lang {
			l = c
		}
	}
	action := shortText(summary, 120)
	action = strings.NewReplacer("{{", "", "}}", "").Replace(action)
	action = strings.TrimRight(action, ".!?… ")
	if action == "" {
		action = l.thing
	} else if r := []rune(action); len(r) > 1 && r[1] >= 'a' && r[1] <= 'z' {
		action = strings.ToLower(string(r[0])) + string(r[1:])
	}
	var fields []string
	for _, p := range params {
		if p.In == "path" && p.Required && identifier.MatchString(p.Name) {
			fields = append(fields, p.Name+" {{."+p.Name+"}}")
		}
	}
	if len(fields) > 0 {
		action += " (" + strings.Join(fields, ", ") + ")"
	}
	return fmt.Sprintf(l.ask, action)
}
