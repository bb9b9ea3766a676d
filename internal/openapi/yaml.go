package openapi

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
)

// The out* types mirror configs' types with omitempty, so the generated file
// holds only what was set, in the order a reader expects.

type outParam struct {
	Name        string      `yaml:"name,omitempty"`
	In          string      `yaml:"in,omitempty"`
	Type        string      `yaml:"type,omitempty"`
	Description string      `yaml:"description,omitempty"`
	Required    bool        `yaml:"required,omitempty"`
	Validate    string      `yaml:"validate,omitempty"`
	Enum        []any       `yaml:"enum,omitempty"`
	Default     any         `yaml:"default,omitempty"`
	Properties  []*outParam `yaml:"properties,omitempty"`
	Items       *outParam   `yaml:"items,omitempty"`
}

type outConfirm struct {
	Message string `yaml:"message"`
}

type outTool struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Method      string      `yaml:"method"`
	Path        string      `yaml:"path"`
	Params      []*outParam `yaml:"params,omitempty"`
	Confirm     *outConfirm `yaml:"confirm,omitempty"`

	comment string // the source operation, written above the tool
	op      string // "GET /pets/{petId} (getPetById)" for the summary
}

type outAuth struct {
	Type     string `yaml:"type"`
	Secret   string `yaml:"secret,omitempty"`
	Header   string `yaml:"header,omitempty"`
	Param    string `yaml:"param,omitempty"`
	Username string `yaml:"username,omitempty"`
}

type outIntegration struct {
	Name        string
	Description string
	BaseURL     string
	BaseComment []string
	Headers     map[string]string
	Auth        *outAuth
	AuthComment []string
	Tools       []*outTool
}

// block marshals v and indents every line.
func block(v any, indent string) (string, error) {
	b, err := yaml.MarshalWithOptions(v, yaml.UseLiteralStyleIfMultiline(false))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out.WriteString(indent)
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.String(), nil
}

func comment(b *strings.Builder, indent string, lines ...string) {
	for _, l := range lines {
		b.WriteString(indent)
		b.WriteString("# ")
		b.WriteString(oneLine(l))
		b.WriteByte('\n')
	}
}

// render writes the whole config file.
func render(header []string, in *outIntegration) ([]byte, error) {
	var b strings.Builder
	comment(&b, "", header...)
	b.WriteString("integrations:\n")
	head, err := block(map[string]any{"name": in.Name}, "  - ")
	if err != nil {
		return nil, err
	}
	b.WriteString(head)
	type desc struct {
		Type        string `yaml:"type"`
		Description string `yaml:"description,omitempty"`
	}
	s, err := block(desc{"http", in.Description}, "    ")
	if err != nil {
		return nil, err
	}
	b.WriteString(s)
	comment(&b, "    ", in.BaseComment...)
	if s, err = block(map[string]string{"base_url": in.BaseURL}, "    "); err != nil {
		return nil, err
	}
	b.WriteString(s)
	if len(in.Headers) > 0 {
		if s, err = block(map[string]any{"headers": in.Headers}, "    "); err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	comment(&b, "    ", in.AuthComment...)
	if in.Auth != nil {
		if s, err = block(map[string]any{"auth": in.Auth}, "    "); err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	b.WriteString("    tools:\n")
	for _, t := range in.Tools {
		comment(&b, "      ", t.comment)
		if s, err = block([]*outTool{t}, "      "); err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return []byte(b.String()), nil
}

// oneLine makes s safe to write on one comment line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// safeText reports whether s can be written into the config as it is: the
// loader expands ${VAR} anywhere in the file.
func safeText(s string) bool { return !strings.Contains(s, "${") }

// shortText cuts a description to its first sentence or two, at most max
// characters, on one line.
func shortText(s string, max int) string {
	s = strings.ReplaceAll(s, "${", "$ {")
	s = stripMarkdown(s)
	s = oneLine(s)
	if s == "" {
		return ""
	}
	// Up to two sentences.
	end, sentences := -1, 0
	for i := 0; i < len(s)-1; i++ {
		if (s[i] == '.' || s[i] == '!' || s[i] == '?') && s[i+1] == ' ' {
			sentences++
			end = i + 1
			if sentences == 2 || end > max/2 {
				break
			}
		}
	}
	if end > 0 && end < len(s) {
		s = s[:end]
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !isBoundary(s, cut) {
			cut--
		}
		if sp := strings.LastIndexByte(s[:cut], ' '); sp > max/2 {
			cut = sp
		}
		s = strings.TrimRight(s[:cut], " ,;:") + "…"
	}
	return s
}

func isBoundary(s string, i int) bool { return i >= len(s) || s[i] < 0x80 || s[i] >= 0xC0 }

// stripMarkdown drops the markup that reads badly when spoken or listed:
// links keep their text, emphasis and code marks go.
func stripMarkdown(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			// [text](url) → text
			if j := strings.Index(s[i:], "]("); j > 0 {
				if k := strings.IndexByte(s[i+j:], ')'); k > 0 && !strings.ContainsAny(s[i+1:i+j], "[]\n") {
					b.WriteString(s[i+1 : i+j])
					i += j + k
					continue
				}
			}
			b.WriteByte(c)
		case c == '*' || c == '`':
		case c == '_' && (i == 0 || !isWordByte(s[i-1]) || i+1 == len(s) || !isWordByte(s[i+1])):
			// _emphasis_ and __strong__, but not snake_case
		case c == '#' && (i == 0 || s[i-1] == '\n'):
			for i+1 < len(s) && (s[i+1] == '#' || s[i+1] == ' ') {
				i++
			}
		case c == '<':
			// drop simple HTML tags
			if j := strings.IndexByte(s[i:], '>'); j > 0 && j < 40 && !strings.ContainsAny(s[i+1:i+j], "<\n") {
				i += j
				b.WriteByte(' ')
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, b.String())
}

func quoteOp(method, path, id string) string {
	if id != "" {
		return fmt.Sprintf("%s %s (%s)", method, path, id)
	}
	return method + " " + path
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
