package systest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// GetJSON decodes the JSON body of GET http://hostport+path into v; a status
// other than 200 is an error carrying the body, which says why.
func GetJSON(c *http.Client, hostport, path string, v any) error {
	body, err := get(c, hostport, path, 16<<20)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// Ready returns nil when the node at hostport answers GET /readyz with 200,
// else why not.
func Ready(c *http.Client, hostport string) error {
	_, err := get(c, hostport, "/readyz", 4096)
	return err
}

func get(c *http.Client, hostport, path string, limit int64) ([]byte, error) {
	resp, err := c.Get("http://" + hostport + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s%s: %s: %s", hostport, path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}
