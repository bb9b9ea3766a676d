package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/app"
)

// The examples in docs/deploy/ are checked against the binary: the container's
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
		Replicas int `json:"replicas"`
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
	cfg, dep := checkKubernetes(t, "../../docs/deploy/kubernetes")
	if cfg.State.Backend != "memory" || dep.Spec.Replicas != 1 {
		t.Fatalf("the single-server example runs %d replicas with state %s; its state is in memory, so one", dep.Spec.Replicas, cfg.State.Backend)
	}
}

// The replicas variant: three replicas sharing state in the Redis the
// example runs, the shared confirmation key from Vault, a disruption
// budget that keeps two serving, and affinity for legacy SSE.
func TestDeployKubernetesReplicas(t *testing.T) {
	dir := "../../docs/deploy/kubernetes/replicas"
	cfg, dep := checkKubernetes(t, dir)
	if dep.Spec.Replicas != 3 {
		t.Fatalf("replicas %d, want 3", dep.Spec.Replicas)
	}
	if cfg.State.Backend != "redis" || !strings.HasPrefix(cfg.State.Redis.Password, "vault:") || !strings.HasPrefix(cfg.Policy.Confirmation.Key, "vault:") {
		t.Fatalf("state %+v, confirmation key %q: want Redis, its password and the shared key from Vault", cfg.State, cfg.Policy.Confirmation.Key)
	}
	var redisSvc struct {
		Kind     string
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			Ports []struct {
				Port int `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	for _, d := range readDocs(t, dir+"/redis.yaml") {
		var k struct{ Kind string }
		unmarshal(t, d, &k)
		if k.Kind == "Service" {
			unmarshal(t, d, &redisSvc)
		}
	}
	u, err := url.Parse(cfg.State.Redis.URL)
	if err != nil || u.Hostname() != redisSvc.Metadata.Name || len(redisSvc.Spec.Ports) != 1 || u.Port() != strconv.Itoa(redisSvc.Spec.Ports[0].Port) {
		t.Fatalf("state.redis.url %q does not name the example's Redis service %+v", cfg.State.Redis.URL, redisSvc)
	}
	var pdb struct {
		Kind string
		Spec struct {
			MinAvailable int `json:"minAvailable"`
			Selector     struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	unmarshal(t, readDocs(t, dir+"/pdb.yaml")[0], &pdb)
	if pdb.Kind != "PodDisruptionBudget" || pdb.Spec.MinAvailable < 1 || pdb.Spec.MinAvailable >= dep.Spec.Replicas ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "switchboard" {
		t.Fatalf("disruption budget %+v for %d replicas", pdb.Spec, dep.Spec.Replicas)
	}
	var svc struct {
		Spec struct {
			SessionAffinity string `json:"sessionAffinity"`
		} `json:"spec"`
	}
	unmarshal(t, readDocs(t, dir+"/service.yaml")[0], &svc)
	if svc.Spec.SessionAffinity != "ClientIP" {
		t.Fatalf("service affinity %q: legacy SSE needs it", svc.Spec.SessionAffinity)
	}
}

// checkKubernetes checks the ConfigMap, Deployment and Service of dir
// against the binary and returns the config and the Deployment.
func checkKubernetes(t *testing.T, dir string) (*configs.Config, k8sDeployment) {
	t.Helper()
	var cm struct {
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	unmarshal(t, readDocs(t, dir+"/configmap.yaml")[0], &cm)
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
	for _, d := range readDocs(t, dir+"/deployment.yaml") {
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
	unmarshal(t, readDocs(t, dir+"/service.yaml")[0], &svc)
	if len(svc.Spec.Ports) != 1 || (svc.Spec.Ports[0].TargetPort != c.Ports[0].Name && svc.Spec.Ports[0].TargetPort != float64(port)) {
		t.Fatalf("service targetPort %+v", svc.Spec.Ports)
	}
	checkRoutes(t, "/readyz", "/healthz")
	return cfg, dep
}

func TestDeploySystemd(t *testing.T) {
	b, err := os.ReadFile("../../docs/deploy/systemd/switchboard.service")
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
