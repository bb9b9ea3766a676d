package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical JSON: one byte string per meaning, so that a confirmation binds
// to what the arguments say and not to how a client happened to encode them.
// Object keys are sorted; every number is written as <digits>e<exponent> with
// no leading or trailing zeros (1, 1.0, 1e0, 10e-1 and json.Number("1.00")
// all become 1e0, and -0 is 0); strings are JSON-escaped one way. The result
// is still valid JSON. Two values that differ in any way a JSON reader can
// see (a digit, a key, a type: 1 and "1") give different bytes.

// canonicalJSON renders v canonically. v is what a JSON decoder produces
// (map[string]any, []any, string, float64 or json.Number, bool, nil), Go
// integers, or anything encoding/json can marshal.
func canonicalJSON(v any) ([]byte, error) {
	return appendCanonical(nil, v, 0)
}

// maxDepth bounds nesting, as decoders do, so a hostile value cannot
// exhaust the stack.
const maxDepth = 1000

func appendCanonical(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("arguments nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x)
	case json.Number:
		return appendNumber(b, string(x))
	case float64:
		return appendFloat(b, x, 64)
	case float32:
		return appendFloat(b, float64(x), 32)
	case int:
		return appendNumber(b, strconv.FormatInt(int64(x), 10))
	case int8:
		return appendNumber(b, strconv.FormatInt(int64(x), 10))
	case int16:
		return appendNumber(b, strconv.FormatInt(int64(x), 10))
	case int32:
		return appendNumber(b, strconv.FormatInt(int64(x), 10))
	case int64:
		return appendNumber(b, strconv.FormatInt(x, 10))
	case uint:
		return appendNumber(b, strconv.FormatUint(uint64(x), 10))
	case uint8:
		return appendNumber(b, strconv.FormatUint(uint64(x), 10))
	case uint16:
		return appendNumber(b, strconv.FormatUint(uint64(x), 10))
	case uint32:
		return appendNumber(b, strconv.FormatUint(uint64(x), 10))
	case uint64:
		return appendNumber(b, strconv.FormatUint(x, 10))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendCanonical(b, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonical(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case json.RawMessage:
		return appendRaw(b, x, depth)
	}
	// Anything else (map[string]string, []string, a struct): through its
	// JSON form, read back with exact numbers.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	return appendRaw(b, raw, depth)
}

func appendRaw(b []byte, raw []byte, depth int) ([]byte, error) {
	v, err := decodeExact(raw)
	if err != nil {
		return nil, err
	}
	return appendCanonical(b, v, depth)
}

// decodeExact decodes JSON keeping every number as written.
func decodeExact(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	if dec.More() {
		return nil, errors.New("arguments: trailing data after JSON value")
	}
	return v, nil
}

func appendString(b []byte, s string) ([]byte, error) {
	// A decoder never produces invalid UTF-8, and the JSON encoder would
	// replace it, making two different strings equal.
	if !utf8.ValidString(s) {
		return nil, errors.New("arguments: a string is not valid UTF-8")
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errors.New("arguments: a number is NaN or infinite")
	}
	// The shortest decimal that reads back as f: float64(0.1) is "0.1", the
	// same number as json.Number("0.1").
	return appendNumber(b, strconv.FormatFloat(f, 'g', -1, bits))
}

// maxExponent bounds the decimal exponent; no argument needs more, and the
// arithmetic below then cannot overflow.
const maxExponent = 1 << 30

// appendNumber appends the canonical form of a JSON number literal.
func appendNumber(b []byte, s string) ([]byte, error) {
	bad := func() ([]byte, error) { return nil, fmt.Errorf("arguments: %q is not a JSON number", s) }
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimPrefix(s, "-")
	i := 0
	for i < len(rest) && isDigit(rest[i]) {
		i++
	}
	intPart := rest[:i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return bad()
	}
	rest = rest[i:]
	var frac string
	if strings.HasPrefix(rest, ".") {
		rest = rest[1:]
		i = 0
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		if i == 0 {
			return bad()
		}
		frac, rest = rest[:i], rest[i:]
	}
	exp := int64(0)
	if rest != "" {
		if rest[0] != 'e' && rest[0] != 'E' {
			return bad()
		}
		signed := rest[1:]
		digits := strings.TrimLeft(signed, "+-")
		if len(signed)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
			return bad()
		}
		e, err := strconv.ParseInt(strings.TrimPrefix(signed, "+"), 10, 64)
		if err != nil || e > maxExponent || e < -maxExponent {
			return nil, fmt.Errorf("arguments: number %q is out of range", s)
		}
		exp = e
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return append(b, "0"...), nil
	}
	exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	if neg {
		b = append(b, '-')
	}
	b = append(b, trimmed...)
	b = append(b, 'e')
	return strconv.AppendInt(b, exp, 10), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// argsDigest is the SHA-256 of the canonical arguments: what a confirmation
// is bound to.
func argsDigest(args map[string]any) ([32]byte, error) {
	if args == nil {
		args = map[string]any{}
	}
	b, err := canonicalJSON(args)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// auditHash is the hex SHA-256 of the canonical arguments with the values of
// sensitive params left out, so that equal calls have equal hashes in the
// audit log but a short secret (a PIN) cannot be found by hashing guesses.
func auditHash(args map[string]any, sensitive []string) string {
	if len(sensitive) > 0 {
		masked := make(map[string]any, len(args))
		for k, v := range args {
			masked[k] = v
		}
		for _, k := range sensitive {
			if _, ok := masked[k]; ok {
				masked[k] = "(sensitive)"
			}
		}
		args = masked
	}
	d, err := argsDigest(args)
	if err != nil {
		return ""
	}
	return hex.EncodeToString(d[:])
}
