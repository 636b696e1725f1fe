package freespace

import (
	"io/fs"
	"path/filepath"
)

// DirBytes is the disk space the regular files under dir take (allocated
// blocks, so preallocated space counts once written), dir included and
// walked recursively; 0 when dir does not exist. A file that another
// directory entry links to as well is left out: its space is shared with
// files counted elsewhere (a snapshot that hard-links a partition's
// segments), and is counted here once the other link is gone.
func DirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil // a file removed during the walk, or not a file
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if b, shared := allocated(fi); !shared {
			n += b
		}
		return nil
	})
	return n
}
