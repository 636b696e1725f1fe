// Package compose tests the Docker Compose stack in compose/: the file and
// the configs it mounts are checked statically, and the raftline services of
// the same file are brought up for real with the Docker engine, built from the
// repository's Dockerfile.
//
// Only the raftline, tools and otelcol images can exist on a machine without
// registry access (they are built FROM scratch), so the live test starts the
// three raftline services and the collector by name, with a Jaeger built
// from source (tools/jaeger) in an image FROM scratch standing in for the
// jaeger service; Prometheus, Alertmanager and Grafana are covered by
// validating their configuration with docker compose, promtool and amtool.
//
// Docker is a requirement, not an option: without it the tests fail.
package compose

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/test/internal/systest"
)

// root is the repository root; composeDir holds compose.yaml.
var root, composeDir string

func TestMain(m *testing.M) {
	dir, err := systest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose tests:", err)
		os.Exit(1)
	}
	root, composeDir = dir, filepath.Join(dir, "compose")
	os.Exit(m.Run())
}

// composeCommand finds Docker Compose once: the docker CLI plugin when it is
// installed, else the standalone docker-compose, as compose/stack.sh does.
var composeCommand = sync.OnceValues(func() ([]string, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("docker is not installed: %w", err)
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}, nil
	}
	return nil, errors.New("neither the docker compose plugin nor docker-compose is installed")
})

// mustDocker fails the test unless Docker and Compose can be used.
func mustDocker(t testing.TB) []string {
	t.Helper()
	cmd, err := composeCommand()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("the Docker engine does not answer: %v\n%s", err, out)
	}
	return cmd
}

// hermeticEnv is the test's environment without the variables that
// compose.yaml and compose/stack.sh read, so a developer's shell cannot
// change what the tests start, plus extra.
func hermeticEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RAFTLINE_") || strings.HasPrefix(name, "COMPOSE_") || strings.HasPrefix(name, "DOCKER_DEFAULT_") ||
			strings.HasSuffix(name, "_PORT") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// run runs a command and returns its combined output; the error carries it.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// waitFor polls cond until it returns nil, failing the test with cond's last
// error once timeout has passed. On a loaded machine only a condition, never
// a fixed sleep, says when something has happened.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	systest.WaitEvery(t, timeout, 100*time.Millisecond, what, cond)
}

// The raftline HTTP API, as documented in broker/httpapi.

// The HTTP API's own types, so the tests read exactly what nodes serve.
type (
	partitionDigest = httpapi.PartitionDigest
	partitionsView  = httpapi.PartitionsView
)

var httpClient = &http.Client{Timeout: 3 * time.Second}

func getJSON(hostport, path string, v any) error {
	return systest.GetJSON(httpClient, hostport, path, v)
}
