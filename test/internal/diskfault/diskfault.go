//go:build linux

// Package diskfault gives a node's data directory a real filesystem of its
// own that a test can break while the node runs: a small tmpfs to fill
// (ENOSPC), or an ext4 image on a loop device that the kernel remounts
// read-only after an error (EROFS), each mounted in the node's own mount
// namespace, so nothing outside the node sees it and the mount dies with
// the process. test/process and test/chaos share it; both run as root.
//
// Why not `mount -o remount,ro` for the read-only fault: the kernel refuses
// it (EBUSY, "mount point is busy") while any file on the filesystem is
// open for writing, and a running node always has its Raft log open. An
// ext4 filesystem mounted errors=remount-ro goes read-only under its
// writers when it meets an error, as a failing disk makes it do in
// production; /sys/fs/ext4/<dev>/trigger_fs_error raises such an error on
// purpose.
package diskfault

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Disk is a filesystem a node's data directory is mounted on.
type Disk struct {
	// Dir is the mount point: the node's --data-dir.
	Dir string
	// source and options of the mount; image is the ext4 image file.
	kind, options, image string
}

// Tmpfs is a tmpfs of size bytes at dir (made now, if missing).
func Tmpfs(dir string, size int64) (Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Disk{}, err
	}
	return Disk{Dir: dir, kind: "tmpfs", options: fmt.Sprintf("size=%d", size)}, nil
}

// Ext4 is an ext4 filesystem of size bytes, mounted errors=remount-ro at
// dir (made now, if missing) from the image file (made now, sparse, with
// mkfs.ext4).
func Ext4(dir, image string, size int64) (Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Disk{}, err
	}
	if err := os.WriteFile(image, nil, 0o644); err != nil {
		return Disk{}, err
	}
	if err := os.Truncate(image, size); err != nil {
		return Disk{}, err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", image).CombinedOutput(); err != nil {
		return Disk{}, fmt.Errorf("mkfs.ext4 %s: %v: %s", image, err, out)
	}
	return Disk{Dir: dir, kind: "ext4", options: "loop,errors=remount-ro", image: image}, nil
}

// Wrap returns the command line that runs name with args inside a new
// mount namespace where the disk is mounted at Dir. The process keeps the
// pid of the returned command (unshare and sh exec into it), so a
// parent-death signal and the tests' signals reach the node itself. The
// loop device of an ext4 image is released when the namespace, and with it
// the mount, goes.
func (d Disk) Wrap(name string, args ...string) (string, []string) {
	source := d.kind
	if d.image != "" {
		source = d.image
	}
	script := `mount -t "$0" -o "$1" "$2" "$3" && shift 3 && exec "$@"`
	return "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script,
		d.kind, d.options, source, d.Dir, name}, args...)
}

// Usage is how many bytes of the disk the process pid sees at dir are used,
// and its size.
func Usage(pid int, dir string) (used, size int64, err error) {
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "stat", "-f", "-c", "%b %f %S", dir).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("stat -f %s in pid %d's mounts: %v: %s", dir, pid, err, out)
	}
	var blocks, free, bsize int64
	if _, err := fmt.Sscan(string(out), &blocks, &free, &bsize); err != nil {
		return 0, 0, fmt.Errorf("stat -f printed %q: %v", out, err)
	}
	return (blocks - free) * bsize, blocks * bsize, nil
}

// Shrink resizes the tmpfs the process pid has at dir to what it uses now
// plus headroom bytes, so that the node's next writes fill it. It returns
// the new size.
func Shrink(pid int, dir string, headroom int64) (int64, error) {
	used, _, err := Usage(pid, dir)
	if err != nil {
		return 0, err
	}
	size := (used + headroom + 4095) &^ 4095
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m",
		"mount", "-o", fmt.Sprintf("remount,size=%d", size), dir).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("remount %s with size %d in pid %d's mounts: %v: %s", dir, size, pid, err, out)
	}
	return size, nil
}

// FailExt4 raises an ext4 error on the filesystem the process pid has at
// dir, which the kernel answers by remounting it read-only
// (errors=remount-ro); every later write there fails with EROFS. It returns
// the device.
func FailExt4(pid int, dir string) (string, error) {
	m, err := findMount(pid, dir)
	if err != nil {
		return "", err
	}
	if m.fstype != "ext4" {
		return "", fmt.Errorf("%s is %s in pid %d's mounts, not ext4", dir, m.fstype, pid)
	}
	dev := m.source
	knob := filepath.Join("/sys/fs/ext4", filepath.Base(dev), "trigger_fs_error")
	if err := os.WriteFile(knob, []byte("raftline test: injected disk error\n"), 0o200); err != nil {
		return "", fmt.Errorf("raising an ext4 error on %s: %w", dev, err)
	}
	return dev, nil
}

// ReadOnly reports whether the filesystem the process pid has at dir is
// read-only now, as its mountinfo says: the mount (ro), or the filesystem
// itself (an error remount changes the superblock's options, not the
// mount's: ro, or emergency_ro, as ext4 reports it on recent kernels).
func ReadOnly(pid int, dir string) (bool, error) {
	m, err := findMount(pid, dir)
	if err != nil {
		return false, err
	}
	for _, o := range strings.Split(m.options+","+m.superOptions, ",") {
		if o == "ro" || o == "emergency_ro" {
			return true, nil
		}
	}
	return false, nil
}

type mountEntry struct{ source, fstype, options, superOptions string }

// findMount reads /proc/<pid>/mountinfo for the last mount at dir.
func findMount(pid int, dir string) (mountEntry, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return mountEntry{}, err
	}
	defer f.Close()
	var found *mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 6 || len(b) < 3 || a[4] != dir {
			continue
		}
		found = &mountEntry{source: b[1], fstype: b[0], options: a[5], superOptions: b[2]}
	}
	if err := sc.Err(); err != nil {
		return mountEntry{}, err
	}
	if found == nil {
		return mountEntry{}, fmt.Errorf("nothing is mounted at %s in pid %d's mounts", dir, pid)
	}
	return *found, nil
}

// Check says what is missing for this package to work here: root, and the
// programs it runs (util-linux's unshare, nsenter, mount; e2fsprogs'
// mkfs.ext4). scripts/ensure-tools.sh installs them.
func Check() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("mounting a filesystem for a node needs root"))
	}
	for _, p := range []string{"unshare", "nsenter", "mount", "mkfs.ext4", "stat"} {
		if _, err := exec.LookPath(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
