// SPDX-License-Identifier: Apache-2.0

// gorafthttp-bench: the cases of `rafthttp bench` through etcd 3.4's Go
// rafthttp, for bench/run.sh to put beside the C transport. Two
// transports in one process over loopback TCP, members 1 and 2; member 1
// sends, member 2's Process counts. The pacing, warm-up and JSON are those
// of src/cli/cli_bench.c (see its header comment).
//
// Go's Raft interface does not say by which channel a message came, so the
// warm-up waits until both peers are active and a probe message arrives,
// then sends paced traffic for half a second before measuring: by then the
// stream writers are attached (they attach within milliseconds).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	stats "go.etcd.io/etcd/etcdserver/api/v2stats"
	"go.etcd.io/etcd/pkg/transport"
	"go.etcd.io/etcd/pkg/types"
	"go.etcd.io/etcd/raft"
	"go.etcd.io/etcd/raft/raftpb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	sendBatch   = 256
	windowMax   = 1024
	windowBytes = 64 << 20
	warmup      = 500 * time.Millisecond
)

type bench struct {
	kase    string
	size    int
	window  uint64
	payload []byte
	t1, t2  *rafthttp.Transport

	sent, delivered, dropped uint64 // atomics
	stop                     int32
	waiting                  int32
	notify                   chan struct{}

	measuring int32
	pingNs    int64
	mu        sync.Mutex
	samples   []int64 // [mu] round trips of the measured window, ns
	pongs     uint64
	seq       uint64 // the ping in flight carries it as Commit, the pong echoes it; 0 before the chain
}

// dropCore counts rafthttp's "dropped ..." log entries at every level:
// Go's rafthttp reports drops only through its logger.
type dropCore struct{ b *bench }

func (c *dropCore) Enabled(zapcore.Level) bool        { return true }
func (c *dropCore) With([]zapcore.Field) zapcore.Core { return c }
func (c *dropCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if strings.HasPrefix(e.Message, "dropped") {
		return ce.AddCore(e, c)
	}
	return ce
}
func (c *dropCore) Write(zapcore.Entry, []zapcore.Field) error {
	atomic.AddUint64(&c.b.dropped, 1)
	return nil
}
func (c *dropCore) Sync() error { return nil }

type member struct {
	b  *bench
	id uint64
}

func (r *member) Process(ctx context.Context, m raftpb.Message) error {
	b := r.b
	if r.id == 1 {
		if b.kase != "rtt" || m.Type != raftpb.MsgHeartbeatResp {
			return nil
		}
		if seq := atomic.LoadUint64(&b.seq); seq == 0 || m.Commit != seq {
			return nil // a warm-up probe's pong, not the chain's
		}
		now := time.Now().UnixNano()
		if atomic.LoadInt32(&b.measuring) == 1 {
			b.mu.Lock()
			b.samples = append(b.samples, now-atomic.LoadInt64(&b.pingNs))
			b.mu.Unlock()
		}
		atomic.AddUint64(&b.pongs, 1)
		if atomic.LoadInt32(&b.stop) == 0 {
			b.ping()
		}
		return nil
	}
	if m.Type != caseType(b.kase) {
		return nil
	}
	if b.kase == "rtt" {
		b.t2.Send([]raftpb.Message{{Type: raftpb.MsgHeartbeatResp, To: 1, From: 2, Term: 1, Commit: m.Commit}})
	}
	d := atomic.AddUint64(&b.delivered, 1)
	if atomic.LoadInt32(&b.waiting) == 1 {
		s := atomic.LoadUint64(&b.sent)
		if s-d <= b.window-b.window/4 {
			select {
			case b.notify <- struct{}{}:
			default:
			}
		}
	}
	return nil
}
func (r *member) IsIDRemoved(uint64) bool                    { return false }
func (r *member) ReportUnreachable(uint64)                   {}
func (r *member) ReportSnapshot(uint64, raft.SnapshotStatus) {}

func caseType(k string) raftpb.MessageType {
	switch k {
	case "msgappv2":
		return raftpb.MsgApp
	case "message":
		return raftpb.MsgProp
	}
	return raftpb.MsgHeartbeat
}

func (b *bench) msg(i uint64) raftpb.Message {
	switch b.kase {
	case "msgappv2":
		return raftpb.Message{Type: raftpb.MsgApp, To: 2, From: 1, Term: 1, LogTerm: 1,
			Index: i - 1, Commit: i - 1,
			Entries: []raftpb.Entry{{Term: 1, Index: i, Data: b.payload}}}
	case "message":
		return raftpb.Message{Type: raftpb.MsgProp, To: 2, From: 1,
			Entries: []raftpb.Entry{{Data: b.payload}}}
	}
	return raftpb.Message{Type: raftpb.MsgHeartbeat, To: 2, From: 1, Term: 1}
}

// ping sends the next heartbeat of the one chain: only the pong of the ping
// in flight (same sequence) sends another.
func (b *bench) ping() {
	seq := atomic.AddUint64(&b.seq, 1)
	atomic.StoreInt64(&b.pingNs, time.Now().UnixNano())
	atomic.AddUint64(&b.sent, 1)
	b.t1.Send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, To: 2, From: 1, Term: 1, Commit: seq}})
}

func (b *bench) sender(done chan struct{}) {
	defer close(done)
	next := atomic.LoadUint64(&b.sent) + 1
	msgs := make([]raftpb.Message, 0, sendBatch)
	for atomic.LoadInt32(&b.stop) == 0 {
		s := atomic.LoadUint64(&b.sent)
		d := atomic.LoadUint64(&b.delivered)
		var free uint64
		if s-d < b.window {
			free = b.window - (s - d)
		}
		if free < (b.window+3)/4 {
			atomic.StoreInt32(&b.waiting, 1)
			d = atomic.LoadUint64(&b.delivered)
			if s-d > b.window-b.window/4 {
				select {
				case <-b.notify:
				case <-time.After(20 * time.Millisecond):
				}
			}
			atomic.StoreInt32(&b.waiting, 0)
			continue
		}
		for free > 0 {
			n := free
			if n > sendBatch {
				n = sendBatch
			}
			msgs = msgs[:0]
			for i := uint64(0); i < n; i++ {
				msgs = append(msgs, b.msg(next))
				next++
			}
			atomic.AddUint64(&b.sent, n)
			b.t1.Send(msgs)
			free -= n
		}
	}
}

// newTransport makes member id's transport and its listener: plain, or
// with tlsDir (tests/tls/make-certs.sh's files) mutual TLS as an etcd
// member started with --peer-cert-file, --peer-key-file,
// --peer-trusted-ca-file and --peer-client-cert-auth has it.
func newTransport(b *bench, lg *zap.Logger, id uint64, tlsDir string) (*rafthttp.Transport, string) {
	var tlsInfo transport.TLSInfo
	scheme := "http"
	var ln net.Listener
	var err error
	if tlsDir != "" {
		scheme = "https"
		tlsInfo = transport.TLSInfo{
			CertFile:       fmt.Sprintf("%s/m%d.pem", tlsDir, id),
			KeyFile:        fmt.Sprintf("%s/m%d-key.pem", tlsDir, id),
			TrustedCAFile:  tlsDir + "/ca.pem",
			ClientCertAuth: true,
			Logger:         lg,
		}
		ln, err = transport.NewListener("127.0.0.1:0", "https", &tlsInfo)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fail("listen: %v", err)
	}
	url := scheme + "://" + ln.Addr().String()
	us, err := types.NewURLs([]string{url})
	if err != nil {
		fail("url: %v", err)
	}
	tid := types.ID(id)
	tr := &rafthttp.Transport{
		Logger:      lg,
		DialTimeout: time.Second,
		ID:          tid,
		URLs:        us,
		ClusterID:   types.ID(0x1000),
		Raft:        &member{b: b, id: id},
		ServerStats: stats.NewServerStats("bench", tid.String()),
		LeaderStats: stats.NewLeaderStats(tid.String()),
		ErrorC:      make(chan error, 16),
		TLSInfo:     tlsInfo,
	}
	if err := tr.Start(); err != nil {
		fail("transport start: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(rafthttp.RaftPrefix, tr.Handler())
	mux.Handle(rafthttp.RaftPrefix+"/", tr.Handler())
	go (&http.Server{Handler: mux}).Serve(ln)
	return tr, url
}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gorafthttp-bench: "+f+"\n", a...)
	os.Exit(1)
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func peakRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

func pct(v []int64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	k := (p*len(v) + 99) / 100
	if k < 1 {
		k = 1
	}
	if k > len(v) {
		k = len(v)
	}
	return float64(v[k-1]) / 1000
}

func main() {
	kase := flag.String("case", "", "msgappv2|message|heartbeat|rtt")
	size := flag.Int("size", 64, "entry data size")
	seconds := flag.Float64("seconds", 3, "measured seconds")
	window := flag.Uint64("window", 0, "in-flight window")
	asJSON := flag.Bool("json", false, "JSON output")
	tlsDir := flag.String("tls", "", "peer TLS (https://, mutual) with DIR's ca.pem, m1.pem, m2.pem and keys")
	flag.Parse()
	switch *kase {
	case "msgappv2", "message", "heartbeat", "rtt":
	default:
		fmt.Fprintln(os.Stderr, "gorafthttp-bench: --case msgappv2|message|heartbeat|rtt")
		os.Exit(2)
	}
	b := &bench{kase: *kase, size: *size, window: *window, notify: make(chan struct{}, 1)}
	if b.kase == "heartbeat" || b.kase == "rtt" {
		b.size = 0
	}
	if b.window == 0 {
		w := uint64(windowMax)
		if b.size > 0 {
			w = uint64(windowBytes / b.size)
		}
		if w < 1 {
			w = 1
		}
		if w > windowMax {
			w = windowMax
		}
		b.window = w
	}
	if b.kase == "rtt" {
		b.window = 1
	}
	b.payload = make([]byte, b.size)
	for i := range b.payload {
		b.payload[i] = byte(i*131 + 7)
	}

	ec := zap.NewProductionEncoderConfig()
	stderr := zapcore.NewCore(zapcore.NewJSONEncoder(ec), zapcore.Lock(os.Stderr), zapcore.ErrorLevel)
	lg := zap.New(zapcore.NewTee(stderr, &dropCore{b: b}))

	var u1, u2 string
	b.t1, u1 = newTransport(b, lg, 1, *tlsDir)
	b.t2, u2 = newTransport(b, lg, 2, *tlsDir)
	b.t1.AddPeer(types.ID(2), []string{u2})
	b.t2.AddPeer(types.ID(1), []string{u1})

	deadline := time.Now().Add(10 * time.Second)
	for b.t1.ActiveSince(types.ID(2)).IsZero() || b.t2.ActiveSince(types.ID(1)).IsZero() {
		if time.Now().After(deadline) {
			fail("peers not active within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // both streams of both peers attach
	for i := uint64(1); atomic.LoadUint64(&b.delivered) == 0; i++ {
		if time.Now().After(deadline) {
			fail("no %s message arrived within 10 s", b.kase)
		}
		atomic.AddUint64(&b.sent, 1)
		b.t1.Send([]raftpb.Message{b.msg(i)})
		time.Sleep(10 * time.Millisecond)
	}
	for atomic.LoadUint64(&b.delivered) < atomic.LoadUint64(&b.sent) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	senderDone := make(chan struct{})
	if b.kase == "rtt" {
		close(senderDone)
		b.ping()
	} else {
		go b.sender(senderDone)
	}
	time.Sleep(warmup)

	var ms0, ms1 runtime.MemStats
	drop0 := atomic.LoadUint64(&b.dropped)
	count := func() uint64 {
		if b.kase == "rtt" {
			return atomic.LoadUint64(&b.pongs)
		}
		return atomic.LoadUint64(&b.delivered)
	}
	runtime.ReadMemStats(&ms0)
	d0 := count()
	cpu0 := cpuSeconds()
	t0 := time.Now()
	atomic.StoreInt32(&b.measuring, 1)
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	atomic.StoreInt32(&b.measuring, 0)
	t1 := time.Now()
	cpu1 := cpuSeconds()
	d1 := count()
	runtime.ReadMemStats(&ms1)
	drops := atomic.LoadUint64(&b.dropped) - drop0

	atomic.StoreInt32(&b.stop, 1)
	<-senderDone
	until := time.Now().Add(3 * time.Second)
	for b.kase != "rtt" && atomic.LoadUint64(&b.delivered) < atomic.LoadUint64(&b.sent) && time.Now().Before(until) {
		time.Sleep(5 * time.Millisecond)
	}
	b.mu.Lock()
	samples := append([]int64(nil), b.samples...)
	b.mu.Unlock()

	secs := t1.Sub(t0).Seconds()
	msgs := d1 - d0
	if msgs == 0 {
		fail("no message delivered in the measured window")
	}
	rate := float64(msgs) / secs
	cpu := cpu1 - cpu0
	out := map[string]interface{}{
		"impl": "go", "tls": *tlsDir != "", "case": b.kase, "size": b.size, "window": b.window,
		"seconds": secs, "msgs": msgs, "msgs_per_sec": rate,
		"mb_per_sec": rate * float64(b.size) / 1e6, "dropped": drops,
		"cpu_sec": cpu, "cpu_sec_per_million": cpu / float64(msgs) * 1e6,
		"peak_rss_kib":        peakRSS(),
		"allocs_per_msg":      float64(ms1.Mallocs-ms0.Mallocs) / float64(msgs),
		"alloc_bytes_per_msg": float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(msgs),
	}
	if b.kase == "rtt" {
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		out["p50_us"] = pct(samples, 50)
		out["p90_us"] = pct(samples, 90)
		out["p99_us"] = pct(samples, 99)
		out["max_us"] = pct(samples, 100)
		out["samples"] = len(samples)
	}
	if *asJSON {
		j, _ := json.Marshal(out)
		fmt.Println(string(j))
	} else {
		fmt.Printf("%v\n", out)
	}
	os.Exit(0)
}
