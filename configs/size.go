package configs

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Size is a byte count written as a number or with a unit (4096, 4KiB, 8MiB, 1MB).
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// UnmarshalYAML accepts an integer or a string with a unit. A bad size is a
// type error with its line, so decoding goes on and every problem is shown.
func (s *Size) UnmarshalYAML(node *yaml.Node) error {
	v, err := ParseSize(node.Value)
	if node.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a byte size such as 4096, 64KiB or 8MiB", node.Line, node.Value)}}
	}
	*s = v
	return nil
}

// ParseSize parses "4096", "64KiB", "8MiB", "1MB".
func ParseSize(str string) (Size, error) {
	t := strings.TrimSpace(str)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a byte size such as 4096, 64KiB or 8MiB", str)
	}
	return Size(n * mult), nil
}
