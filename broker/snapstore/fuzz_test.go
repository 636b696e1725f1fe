package snapstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzReceive feeds a receiving sink bytes a peer could send: it refuses
// what is not a snapshot with an error, never panics, and a snapshot it
// accepts reads back as the bytes it received.
func FuzzReceive(f *testing.F) {
	src, err := New(f.TempDir(), 2, nil)
	if err != nil {
		f.Fatal(err)
	}
	k := create(f, src, 1)
	p := f.TempDir() + "/seg"
	os.WriteFile(p, []byte("segment bytes"), 0o644)
	k.Attach([]Attachment{{File: File{Name: "t/0/00000000000000000000.log", Length: 13, CRC32C: crc([]byte("segment bytes"))}, Path: p}})
	k.Write([]byte("RLSNAP2\nhead"))
	if err := k.Close(); err != nil {
		f.Fatal(err)
	}
	_, rc, err := src.Open(k.ID())
	if err != nil {
		f.Fatal(err)
	}
	valid, _ := io.ReadAll(rc)
	rc.Close()
	f.Add(valid)
	f.Add([]byte(frameMagic))
	f.Add(append([]byte(frameMagic), 0, 0, 0, 2, '{', '}'))

	dst, err := New(f.TempDir(), 1, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		if len(stream) > 1<<16 {
			return
		}
		k := create(t, dst, 1)
		_, werr := io.Copy(k, bytes.NewReader(stream))
		if werr != nil {
			k.Cancel()
			return
		}
		if err := k.Close(); err != nil {
			if !errors.Is(err, ErrBadStream) {
				t.Fatalf("a stream was refused with %v, not ErrBadStream", err)
			}
			return
		}
		_, rc, err := dst.Open(k.ID())
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		fr, _, err := ReadFrame(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("an accepted snapshot does not read back: %v", err)
		}
		if wfr, _, _ := ReadFrame(bytes.NewReader(stream)); len(fr.Files) != len(wfr.Files) || fr.HeadLength != wfr.HeadLength {
			t.Fatalf("read back %+v, received %+v", fr, wfr)
		}
	})
}
