//go:build unix && !linux

package process

import "errors"

// nodePid needs Linux's /proc.
func nodePid(parent, id int) (int, error) {
	return 0, errors.New("finding a dev node's process needs /proc (Linux)")
}
