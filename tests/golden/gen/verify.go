// SPDX-License-Identifier: Apache-2.0

package main

// verify mode: check the C-written files against etcd's own decoders.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/raft/raftpb"
)

type meta struct {
	Seed     int64  `json:"seed"`
	Messages int    `json:"messages"`
	Local    uint64 `json:"local"`
	Remote   uint64 `json:"remote"`
}

func readMeta(dir string) (meta, error) {
	var m meta
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("meta.json: %v", err)
	}
	return m, nil
}

func firstByteDiff(a, b []byte) int {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// decode calls a decoder, turning its panics (pbutil.MustUnmarshal) into errors.
func decode(dec func() (raftpb.Message, error)) (m raftpb.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return dec()
}

func be64(b []byte, off int) (uint64, bool) {
	if len(b)-off < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[off:]), true
}

// scanMessageStream checks the framing of a message stream before etcd's
// decoder sees it, so that a corrupt size cannot make it allocate wildly.
func scanMessageStream(b []byte) error {
	off := 0
	for i := 0; off < len(b); i++ {
		size, ok := be64(b, off)
		if !ok {
			return fmt.Errorf("message %d at offset %d: truncated size", i, off)
		}
		if size > uint64(len(b)-off-8) {
			return fmt.Errorf("message %d at offset %d: size %d exceeds the %d bytes left", i, off, size, len(b)-off-8)
		}
		off += 8 + int(size)
	}
	return nil
}

// scanMsgAppV2Stream: the same for a msgappv2 stream.
func scanMsgAppV2Stream(b []byte) error {
	off := 0
	need := func(i, at int, what string) (uint64, error) {
		v, ok := be64(b, off)
		if !ok {
			return 0, fmt.Errorf("frame %d at offset %d: truncated %s at offset %d", i, at, what, off)
		}
		off += 8
		return v, nil
	}
	for i := 0; off < len(b); i++ {
		at := off
		t := b[off]
		off++
		switch t {
		case 0:
		case 1:
			n, err := need(i, at, "entry count")
			if err != nil {
				return err
			}
			if n > uint64(len(b)-off)/8 {
				return fmt.Errorf("frame %d at offset %d: entry count %d impossible with %d bytes left", i, at, n, len(b)-off)
			}
			for k := uint64(0); k < n; k++ {
				size, err := need(i, at, fmt.Sprintf("size of entry %d", k))
				if err != nil {
					return err
				}
				if size > uint64(len(b)-off) {
					return fmt.Errorf("frame %d at offset %d: entry %d size %d exceeds the %d bytes left", i, at, k, size, len(b)-off)
				}
				off += int(size)
			}
			if _, err := need(i, at, "commit"); err != nil {
				return err
			}
		case 2:
			size, err := need(i, at, "message size")
			if err != nil {
				return err
			}
			if size > uint64(len(b)-off) {
				return fmt.Errorf("frame %d at offset %d: message size %d exceeds the %d bytes left", i, at, size, len(b)-off)
			}
			off += int(size)
		default:
			return fmt.Errorf("frame %d at offset %d: unknown frame type %d", i, at, t)
		}
	}
	return nil
}

func readCFile(dir, name string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s missing in %s (the C golden test writes it; run it first)", name, dir)
		}
		return nil, err
	}
	return data, nil
}

// checkStream decodes the C stream and the Go one with the same etcd decoder
// and compares message by message, then byte by byte.
func checkStream(name, what string, cdata, godata []byte, want []raftpb.Message,
	newDec func(io.Reader) func() (raftpb.Message, error)) error {
	r := bytes.NewReader(cdata)
	dec := newDec(r)
	for i := 0; ; i++ {
		off := len(cdata) - r.Len()
		m, err := decode(dec)
		if err == io.EOF {
			if i != len(want) {
				return fmt.Errorf("%s: ends after %d %ss, want %d", name, i, what, len(want))
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %s %d at offset %d: etcd's decoder: %v", name, what, i, off, err)
		}
		if i >= len(want) {
			return fmt.Errorf("%s: extra %s %d at offset %d (want only %d)", name, what, i, off, len(want))
		}
		if !reflect.DeepEqual(&m, &want[i]) {
			return fmt.Errorf("%s: %s %d (line %d of the jsonl) at offset %d differs from Go's: %s",
				name, what, i, i+1, off, diff(&want[i], &m))
		}
	}
	if !bytes.Equal(cdata, godata) {
		return fmt.Errorf("%s: decodes equal to Go's but bytes differ: first difference at offset %d (C %d bytes, Go %d bytes)",
			name, firstByteDiff(cdata, godata), len(cdata), len(godata))
	}
	return nil
}

func checkOther(cdata, godata []byte, want []otherRec) error {
	const name = "c_other.bin"
	off := 0
	i := 0
	for ; off < len(cdata); i++ {
		at := off
		if len(cdata)-off < 9 {
			return fmt.Errorf("%s: record %d at offset %d: truncated header", name, i, at)
		}
		kind := cdata[off]
		size := binary.BigEndian.Uint64(cdata[off+1:])
		off += 9
		if size > uint64(len(cdata)-off) {
			return fmt.Errorf("%s: record %d at offset %d: size %d exceeds the %d bytes left", name, i, at, size, len(cdata)-off)
		}
		body := cdata[off : off+int(size)]
		off += int(size)
		if i >= len(want) {
			return fmt.Errorf("%s: extra record %d at offset %d (want only %d)", name, i, at, len(want))
		}
		if kind != want[i].kind {
			return fmt.Errorf("%s: record %d at offset %d: kind %d, want %d (%s)", name, i, at, kind, want[i].kind, otherKindNames[want[i].kind])
		}
		v := newOfKind(kind)
		if err := v.Unmarshal(body); err != nil {
			return fmt.Errorf("%s: record %d (%s) at offset %d: Go Unmarshal: %v", name, i, otherKindNames[kind], at, err)
		}
		if !reflect.DeepEqual(v, want[i].v) {
			return fmt.Errorf("%s: record %d (%s, line %d of other.jsonl) at offset %d differs from Go's: %s",
				name, i, otherKindNames[kind], i+1, at, diff(want[i].v, v))
		}
	}
	if i != len(want) {
		return fmt.Errorf("%s: ends after %d records, want %d", name, i, len(want))
	}
	if !bytes.Equal(cdata, godata) {
		return fmt.Errorf("%s: decodes equal to Go's but bytes differ: first difference at offset %d (C %d bytes, Go %d bytes)",
			name, firstByteDiff(cdata, godata), len(cdata), len(godata))
	}
	return nil
}

func verify(dir string) error {
	mt, err := readMeta(dir)
	if err != nil {
		return err
	}
	s := produce(mt.Seed, mt.Messages)
	if s.local != mt.Local || s.remote != mt.Remote {
		return fmt.Errorf("meta.json local/remote do not match seed %d: golden dir is stale, rerun gen", mt.Seed)
	}
	// The Go files on disk must be exactly what the seed generates.
	gofiles := map[string][]byte{}
	for _, f := range s.files {
		disk, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if !bytes.Equal(disk, f.data) {
			return fmt.Errorf("%s does not match what seed %d generates (first difference at offset %d): golden dir is stale, rerun gen",
				f.name, mt.Seed, firstByteDiff(disk, f.data))
		}
		gofiles[f.name] = f.data
	}

	cmsg, err := readCFile(dir, "c_message.stream")
	if err != nil {
		return err
	}
	if err := scanMessageStream(cmsg); err != nil {
		return fmt.Errorf("c_message.stream: %v", err)
	}
	if err := checkStream("c_message.stream", "message", cmsg, gofiles["message.stream"], s.msgs,
		rafthttp.GoldenNewMessageDecoder); err != nil {
		return err
	}

	capp, err := readCFile(dir, "c_msgappv2.stream")
	if err != nil {
		return err
	}
	if err := scanMsgAppV2Stream(capp); err != nil {
		return fmt.Errorf("c_msgappv2.stream: %v", err)
	}
	newV2 := func(r io.Reader) func() (raftpb.Message, error) {
		return rafthttp.GoldenNewMsgAppV2Decoder(r, s.local, s.remote)
	}
	if err := checkStream("c_msgappv2.stream", "frame", capp, gofiles["msgappv2.stream"], s.appOut, newV2); err != nil {
		return err
	}

	cother, err := readCFile(dir, "c_other.bin")
	if err != nil {
		return err
	}
	if err := checkOther(cother, gofiles["other.bin"], s.others); err != nil {
		return err
	}

	fmt.Printf("golden verify OK (seed %d): c_message.stream %d messages, c_msgappv2.stream %d frames, "+
		"c_other.bin %d records: all decode equal to and are byte-identical with Go's\n",
		mt.Seed, len(s.msgs), len(s.appOut), len(s.others))
	return nil
}
