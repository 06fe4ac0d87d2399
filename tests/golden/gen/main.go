// SPDX-License-Identifier: Apache-2.0

// Command golden-gen writes the golden files of tests/golden with etcd 3.4's
// own Go code (raftpb and the rafthttp stream codecs), and verifies the
// files the C implementation writes back. See tests/golden/README.md and
// docs/json.md.
//
//	golden-gen gen -dir DIR [-seed S] [-n N]
//	golden-gen verify -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: golden-gen gen -dir DIR [-seed S] [-n N]\n       golden-gen verify -dir DIR")
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "golden-gen: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	dir := fs.String("dir", "", "golden directory")
	seed := fs.Int64("seed", 1, "random seed (gen)")
	n := fs.Int("n", 10000, "number of messages in message.stream (gen)")
	fs.Parse(os.Args[2:])
	if *dir == "" || fs.NArg() != 0 {
		usage()
	}
	defer func() {
		if r := recover(); r != nil {
			fail("%s: internal error: %v", mode, r)
		}
	}()
	switch mode {
	case "gen":
		if *n < 1 {
			fail("gen: -n must be >= 1")
		}
		gen(*dir, *seed, *n)
	case "verify":
		if err := verify(*dir); err != nil {
			fail("verify FAILED: %v", err)
		}
	default:
		usage()
	}
}

func gen(dir string, seed int64, n int) {
	start := time.Now()
	s := produce(seed, n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail("gen: %v", err)
	}
	// C-written files of an earlier run no longer match: drop them.
	for _, name := range []string{"c_message.stream", "c_msgappv2.stream", "c_other.bin"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			fail("gen: %v", err)
		}
	}
	total := 0
	for _, f := range s.files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			fail("gen: %v", err)
		}
		total += len(f.data)
	}
	var nb [3]int
	for _, f := range s.appFrames {
		nb[f]++
	}
	fmt.Printf("golden gen OK (seed %d) -> %s: message.stream %d messages, msgappv2.stream %d frames "+
		"(%d link heartbeat, %d AppEntries, %d MsgApp), other.bin %d records; %.1f MB in %.1fs\n",
		seed, dir, len(s.msgs), len(s.appIn), nb[0], nb[1], nb[2], len(s.others),
		float64(total)/1e6, time.Since(start).Seconds())
}
