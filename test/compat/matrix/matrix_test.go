package matrix

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCommittedDocIsUpToDate(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "COMPATIBILITY.md")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	apis, err := Served()
	if err != nil {
		t.Fatal(err)
	}
	want, err := Document(got, apis)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/COMPATIBILITY.md is out of date with test/compat/matrix or the API keys served: run make compat-doc")
	}
}

// Every cell is filled in, and says what the document needs to say.
func TestMatrix_EveryCellComplete(t *testing.T) {
	for _, c := range Clients {
		for _, f := range Features {
			cell, ok := Expected[c.Name][f.Name]
			switch {
			case !ok:
				t.Errorf("%s, %s: no cell", c.Name, f.Name)
			case cell.Result < Works || cell.Result > NotInClient:
				t.Errorf("%s, %s: result %d", c.Name, f.Name, cell.Result)
			case (cell.Result == Refused || cell.Result == LoggedOnly) != (cell.Error != ""):
				t.Errorf("%s, %s: %s with error %q: a refusal names the error, nothing else does", c.Name, f.Name, cell.Result, cell.Error)
			}
		}
		if len(Expected[c.Name]) != len(Features) {
			t.Errorf("%s: %d cells for %d features", c.Name, len(Expected[c.Name]), len(Features))
		}
	}
	if len(Expected) != len(Clients) {
		t.Errorf("%d clients in the matrix, %d listed", len(Expected), len(Clients))
	}
}
