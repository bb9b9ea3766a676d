package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/configs"
)

// callFlag collects `switchboard call --call name=value` into a call
// context, as a voice platform would send it in _meta["io.switchboard/call"].
type callFlag map[string]string

func (f callFlag) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k+"="+f[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (f callFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || value == "" {
		return fmt.Errorf("want name=value (caller_number=+34612345678), got %q", s)
	}
	if !configs.CallContextName.MatchString(name) {
		return fmt.Errorf("call context name %q must match [a-z0-9_]+", name)
	}
	f[name] = value
	return nil
}

func (f callFlag) orNil() map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}
