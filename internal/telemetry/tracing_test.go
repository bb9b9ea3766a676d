package telemetry

import (
	"context"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "sb"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"VAULT_ADDR": "http://v"}, false},
	} {
		if got := Enabled(env(tc.env)); got != tc.want {
			t.Errorf("%v: %v", tc.env, got)
		}
	}
}

func TestSetupOff(t *testing.T) {
	tr, err := Setup(context.Background(), env(nil), "v")
	if err != nil || tr != nil || tr.Tracer() != nil {
		t.Fatalf("tracing is on without OTEL_*: %v %v", tr, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestParseList(t *testing.T) {
	got := parseList("a=1, b = x%20y ,broken,c=")
	if got["a"] != "1" || got["b"] != "x y" || len(got) != 3 {
		t.Fatalf("%v", got)
	}
}
