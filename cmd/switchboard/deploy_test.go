package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/app"
)

// The examples in deploy/ are checked against the binary: the container's
// and the unit's arguments are accepted by serve's flag parsing, ports and
// probe paths agree with each other and with the routes, and the
// ConfigMap's config passes the loader.

type k8sProbe struct {
	HTTPGet struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
}

type k8sDeployment struct {
	Kind string `json:"kind"`
	Spec struct {
		Template struct {
			Spec struct {
				ServiceAccountName string `json:"serviceAccountName"`
				Containers         []struct {
					Args  []string `json:"args"`
					Ports []struct {
						Name          string `json:"name"`
						ContainerPort int    `json:"containerPort"`
					} `json:"ports"`
					ReadinessProbe *k8sProbe `json:"readinessProbe"`
					LivenessProbe  *k8sProbe `json:"livenessProbe"`
					VolumeMounts   []struct {
						Name      string `json:"name"`
						MountPath string `json:"mountPath"`
						SubPath   string `json:"subPath"`
					} `json:"volumeMounts"`
				} `json:"containers"`
				Volumes []struct {
					Name      string `json:"name"`
					ConfigMap *struct {
						Name string `json:"name"`
					} `json:"configMap"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

func readDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range strings.Split(string(b), "\n---\n") {
		js, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, js)
	}
	return docs
}

func unmarshal(t *testing.T, js []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(js, v); err != nil {
		t.Fatal(err)
	}
}

func TestDeployKubernetes(t *testing.T) {
	var cm struct {
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	unmarshal(t, readDocs(t, "../../deploy/kubernetes/configmap.yaml")[0], &cm)
	cfg, err := configs.Parse([]byte(cm.Data["config.yaml"]), func(string) string { return "" })
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if cfg.Vault == nil || cfg.Vault.Auth.Method != "kubernetes" || cfg.Vault.Auth.Role == "" {
		t.Fatal("the ConfigMap does not use the Vault Kubernetes auth method")
	}

	var dep k8sDeployment
	var sa struct {
		Kind     string
		Metadata struct{ Name string } `json:"metadata"`
	}
	for _, d := range readDocs(t, "../../deploy/kubernetes/deployment.yaml") {
		var kind struct{ Kind string }
		unmarshal(t, d, &kind)
		switch kind.Kind {
		case "Deployment":
			unmarshal(t, d, &dep)
		case "ServiceAccount":
			unmarshal(t, d, &sa)
		}
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 || sa.Metadata.Name == "" || pod.ServiceAccountName != sa.Metadata.Name {
		t.Fatal("want one container running as the manifest's service account")
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("container args %q do not run serve", c.Args)
	}
	f, err := parseServe(c.Args[1:], func(string) string { return "" })
	if err != nil {
		t.Fatalf("serve rejects the container args: %v", err)
	}
	if f.transport != "http" {
		t.Fatalf("transport %q", f.transport)
	}
	port := portOf(t, f.listen)
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Fatalf("containerPort %+v, --listen %s", c.Ports, f.listen)
	}
	if cfgPort := portOf(t, cfg.Server.Listen); cfgPort != port {
		t.Fatalf("server.listen port %d, --listen port %d", cfgPort, port)
	}
	for probe, want := range map[*k8sProbe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
		if probe == nil || probe.HTTPGet.Path != want {
			t.Fatalf("probe %+v, want %s", probe, want)
		}
		if p := probe.HTTPGet.Port; p != c.Ports[0].Name && p != float64(port) {
			t.Fatalf("probe port %v is not the container's", p)
		}
	}
	// The config file is the ConfigMap's key, mounted as a directory (a
	// subPath mount would never see an edit, so no reload).
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name &&
				f.config == strings.TrimSuffix(m.MountPath, "/")+"/config.yaml" && m.SubPath == "" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Fatalf("--config %s is not the ConfigMap's config.yaml mounted as a directory", f.config)
	}

	var svc struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
			Ports    []struct {
				TargetPort any `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	unmarshal(t, readDocs(t, "../../deploy/kubernetes/service.yaml")[0], &svc)
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != c.Ports[0].Name && svc.Spec.Ports[0].TargetPort != float64(port)) {
		t.Fatalf("service targetPort %+v", svc.Spec.Ports)
	}
	checkRoutes(t, "/readyz", "/healthz")
}

func TestDeploySystemd(t *testing.T) {
	b, err := os.ReadFile("../../deploy/systemd/switchboard.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	if keys["ExecReload"] != "/bin/kill -HUP $MAINPID" {
		t.Fatalf("ExecReload = %q", keys["ExecReload"])
	}
	args := strings.Fields(keys["ExecStart"])
	if len(args) < 2 || args[1] != "serve" {
		t.Fatalf("ExecStart = %q", keys["ExecStart"])
	}
	f, err := parseServe(args[2:], func(string) string { return "" })
	if err != nil {
		t.Fatalf("serve rejects ExecStart's args: %v", err)
	}
	if f.transport != "http" || f.config == "" {
		t.Fatalf("ExecStart serves %q with config %q", f.transport, f.config)
	}
	portOf(t, f.listen)
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	p, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("address %q has no port", addr)
	}
	return p
}

// checkRoutes asks the binary's own HTTP surface for each path.
func checkRoutes(t *testing.T, paths ...string) {
	t.Helper()
	a, err := app.Open(context.Background(), app.Source{YAML: []byte(`
integrations:
  - name: x
    type: http
    base_url: http://127.0.0.1:1
    tools: [{name: t, description: d, method: GET, path: /t}]
`)}, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h, err := a.HTTP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", p, rec.Code)
		}
	}
}
