package telemetry

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, cgroup, file, content string
		want                        float64
		ok                          bool
	}{
		{"v2 limit", "0::/system.slice/raftline.service\n", "system.slice/raftline.service/memory.max", "1073741824\n", 1 << 30, true},
		{"v2 unlimited", "0::/\n", "memory.max", "max\n", 0, false},
		{"v1 limit", "12:cpu,cpuacct:/x\n7:memory:/docker/abc\n", "memory/docker/abc/memory.limit_in_bytes", "536870912\n", 1 << 29, true},
		{"v1 unlimited", "7:memory:/\n", "memory/memory.limit_in_bytes", "9223372036854771712\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "cgroup")
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, tc.file)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			proc := filepath.Join(dir, "proc-cgroup")
			if err := os.WriteFile(proc, []byte(tc.cgroup), 0o644); err != nil {
				t.Fatal(err)
			}
			got, ok := cgroupMemoryLimit(proc, root)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cgroupMemoryLimit = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
