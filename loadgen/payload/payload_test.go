package payload

import (
	"testing"
	"time"
)

func TestGenerator_ValueCarriesHeader(t *testing.T) {
	g, err := NewGenerator(100, Keys{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Unix(1700000000, 123456789)
	v := g.Value(Header{Run: 42, ID: 7, Sent: sent})
	if len(v) != 100 {
		t.Fatalf("len = %d, want 100", len(v))
	}
	h, ok := Parse(v)
	if !ok || h.Run != 42 || h.ID != 7 || !h.Sent.Equal(sent) {
		t.Fatalf("Parse = %+v, %v", h, ok)
	}
	if _, ok := Parse([]byte("some other producer's record....")); ok {
		t.Error("Parse accepted a foreign value")
	}
}

func TestGenerator_RejectsSizeBelowHeader(t *testing.T) {
	if _, err := NewGenerator(HeaderSize-1, Keys{}, 1); err == nil {
		t.Fatal("want an error")
	}
}

func TestParseKeys(t *testing.T) {
	for in, want := range map[string]Keys{"none": {}, "random": {Random: true}, "16": {Distinct: 16}} {
		got, err := ParseKeys(in)
		if err != nil || got != want {
			t.Errorf("ParseKeys(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	for _, bad := range []string{"0", "-1", "some", "1.5"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestGenerator_DistinctKeysStayInSet(t *testing.T) {
	g, _ := NewGenerator(HeaderSize, Keys{Distinct: 3}, 1)
	seen := map[string]bool{}
	for range 1000 {
		seen[string(g.Key())] = true
	}
	if len(seen) != 3 {
		t.Fatalf("saw %d distinct keys, want 3: %v", len(seen), seen)
	}
}
