// SPDX-License-Identifier: Apache-2.0

// Go side of the codec benchmark: etcd 3.4's gogoproto raftpb marshaller and
// unmarshaller on the same three MsgApp messages as bench_codec.c.
//
// Build (GOPATH mode, see ../run.sh):
//
//	GOPATH=$BUILD/gopath:/usr/share/gocode GO111MODULE=off go build -o bench_codec_go .
//
// Flags: -seconds S (default 1, env BENCH_SECONDS), -ops LIST, -case NAME.
// Prints one JSON line per (case, op) on stdout, same keys as the C side.
// -dump DIR instead writes each case's encoded bytes to DIR/<case>.bin and
// runs no benchmark, so the C side can check that its encoding is
// byte-identical.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/raft/raftpb"
)

// ---- the messages (keep in step with bench_codec.c) -----------------------

type benchCase struct {
	name    string
	nEnt    int
	entSize int
	seed    uint64
}

var cases = []benchCase{
	{"1x64B", 1, 64, 1},
	{"1x4KiB", 1, 4096, 2},
	{"64x128B", 64, 128, 3},
}

// splitmix64; byte k of a case's data stream is the top byte of the k-th
// output, entries take consecutive slices of that stream.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func buildMsg(c benchCase) raftpb.Message {
	r := splitmix{c.seed}
	m := raftpb.Message{
		Type: raftpb.MsgApp, To: 2, From: 1, Term: 5, LogTerm: 5,
		Index: 1000, Commit: 999,
	}
	m.Entries = make([]raftpb.Entry, c.nEnt)
	for i := range m.Entries {
		d := make([]byte, c.entSize)
		for k := range d {
			d[k] = byte(r.next() >> 56)
		}
		m.Entries[i] = raftpb.Entry{Term: 5, Index: 1001 + uint64(i),
			Type: raftpb.EntryNormal, Data: d}
	}
	return m
}

func fnv64(b []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	return h
}

// ---- timing -----------------------------------------------------------------

var sink uint64 // checksum, printed at the end so no work is dead

// run calls f(batch) repeatedly for warm, then for dur; f runs batch
// iterations. Returns iterations and seconds of the measured part.
func run(dur, warm time.Duration, f func(n int)) (int64, float64) {
	batch := 1
	t0 := time.Now()
	for time.Since(t0) < warm {
		f(batch)
		if time.Since(t0) < warm/50 {
			batch *= 2
		}
	}
	// batch now takes ~1/50 of warm or more; aim for ~1 ms batches
	for {
		s := time.Now()
		f(batch)
		if time.Since(s) >= time.Millisecond || batch >= 1<<30 {
			break
		}
		batch *= 2
	}
	var iters int64
	start := time.Now()
	var el time.Duration
	for {
		f(batch)
		iters += int64(batch)
		el = time.Since(start)
		if el >= dur {
			break
		}
	}
	return iters, el.Seconds()
}

func emit(c benchCase, op string, msgBytes int, sum uint64, iters int64, secs float64) {
	mps := float64(iters) / secs
	fmt.Printf("{\"impl\":\"go\",\"case\":\"%s\",\"op\":\"%s\",\"msg_bytes\":%d,"+
		"\"fnv64\":\"%016x\",\"iters\":%d,\"seconds\":%.6f,"+
		"\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
		c.name, op, msgBytes, sum, iters, secs, mps, mps*float64(msgBytes)/1e6)
}

func main() {
	seconds := flag.Float64("seconds", 1.0, "measured wall time per (case, op)")
	dump := flag.String("dump", "", "write <case>.bin (encoded bytes) here and exit")
	opsFlag := flag.String("ops", "", "comma-separated ops to run (default all): "+
		"encode, decode, encode-alloc, stream-encode, stream-decode")
	caseFlag := flag.String("case", "", "run only this case")
	flag.Parse()
	if v := os.Getenv("BENCH_SECONDS"); v != "" && !isFlagSet("seconds") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			*seconds = f
		}
	}
	dur := time.Duration(*seconds * float64(time.Second))
	warm := dur / 5
	if warm > 200*time.Millisecond {
		warm = 200 * time.Millisecond
	}

	for _, c := range cases {
		if *caseFlag != "" && *caseFlag != c.name {
			continue
		}
		m := buildMsg(c)
		enc, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		// sanity: decode gives back the same encoding
		var back raftpb.Message
		if err := back.Unmarshal(enc); err != nil {
			panic(err)
		}
		if again, _ := back.Marshal(); !bytes.Equal(again, enc) {
			panic("round trip mismatch for " + c.name)
		}
		if *dump != "" {
			p := filepath.Join(*dump, c.name+".bin")
			if err := os.WriteFile(p, enc, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			continue
		}
		h := fnv64(enc)
		size := len(enc)
		want := func(op string) bool { return *opsFlag == "" || inList(*opsFlag, op) }

		if want("encode") {
			// Size() + MarshalTo into a reused buffer: etcd's encoders.
			buf := make([]byte, size)
			it, s := run(dur, warm, func(n int) {
				for i := 0; i < n; i++ {
					sz := m.Size()
					k, err := m.MarshalTo(buf[:sz])
					if err != nil {
						panic(err)
					}
					sink += uint64(k) + uint64(buf[k-1])
				}
			})
			emit(c, "encode", size, h, it, s)
		}
		if want("decode") {
			// var m raftpb.Message; m.Unmarshal(buf): etcd's decoders.
			it, s := run(dur, warm, func(n int) {
				for i := 0; i < n; i++ {
					var d raftpb.Message
					if err := d.Unmarshal(enc); err != nil {
						panic(err)
					}
					sink += d.Commit + uint64(len(d.Entries)) +
						uint64(len(d.Entries[len(d.Entries)-1].Data))
				}
			})
			emit(c, "decode", size, h, it, s)
		}
		if want("encode-alloc") {
			// m.Marshal(): allocates a fresh buffer per message
			// (pbutil.MustMarshal in etcd's message stream encoder).
			it, s := run(dur, warm, func(n int) {
				for i := 0; i < n; i++ {
					b, err := m.Marshal()
					if err != nil {
						panic(err)
					}
					sink += uint64(len(b)) + uint64(b[len(b)-1])
				}
			})
			emit(c, "encode-alloc", size, h, it, s)
		}
		if want("stream-encode") {
			// etcd 3.4 rafthttp messageEncoder.encode: 8-byte BE length,
			// then pbutil.MustMarshal(m), into a writer (here a reused
			// bytes.Buffer).
			var w bytes.Buffer
			w.Grow(size + 8)
			it, s := run(dur, warm, func(n int) {
				for i := 0; i < n; i++ {
					w.Reset()
					if err := binary.Write(&w, binary.BigEndian, uint64(m.Size())); err != nil {
						panic(err)
					}
					b, err := m.Marshal()
					if err != nil {
						panic(err)
					}
					w.Write(b)
					sink += uint64(w.Len())
				}
			})
			emit(c, "stream-encode", size, h, it, s)
		}
		if want("stream-decode") {
			// etcd 3.4 rafthttp messageDecoder.decodeLimit: read the
			// length, make([]byte, l), io.ReadFull, Unmarshal.
			frame := make([]byte, 8+size)
			binary.BigEndian.PutUint64(frame, uint64(size))
			copy(frame[8:], enc)
			var r bytes.Reader
			it, s := run(dur, warm, func(n int) {
				for i := 0; i < n; i++ {
					r.Reset(frame)
					var l uint64
					if err := binary.Read(&r, binary.BigEndian, &l); err != nil {
						panic(err)
					}
					b := make([]byte, int(l))
					if _, err := io.ReadFull(&r, b); err != nil {
						panic(err)
					}
					var d raftpb.Message
					if err := d.Unmarshal(b); err != nil {
						panic(err)
					}
					sink += d.Commit + uint64(len(d.Entries))
				}
			})
			emit(c, "stream-decode", size, h, it, s)
		}
	}
	if *dump == "" {
		fmt.Fprintf(os.Stderr, "go checksum %d\n", sink)
	}
}

func inList(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
