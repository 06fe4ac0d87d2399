// SPDX-License-Identifier: Apache-2.0

// gopeer: one etcd 3.4 rafthttp member (Debian's etcd source, the real Go
// rafthttp.Transport) behind the JSON Lines interface of `rafthttp node`
// (docs/node-cli.md, docs/json.md), as the Go side of interop tests.
//
//	gopeer --id HEX --cluster-id HEX --listen URL [--listen URL]...
//	       [--advertise URL]... [--peer ID=URL[,URL...]]... [--snap-dir DIR]
//	       [--reply none|echo-resp] [--dial-timeout D] [--dial-retry D]
//	       [--server-version V] [--min-cluster-version V]
//	       [--log-level debug|info|warn|error]
//	       [--peer-cert-file F --peer-key-file F] [--peer-trusted-ca-file F]
//	       [--peer-client-cert-auth] [--peer-cert-allowed-cn CN]
//	       [--peer-cert-allowed-hostname H] [--peer-crl-file F]
//
// Raft is a fake that reports what the transport hands it. Standard output
// carries events, standard input commands; logs (zap JSON) go to standard
// error. See README.md next to this file.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-semver/semver"
	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/etcdserver/api/snap"
	stats "go.etcd.io/etcd/etcdserver/api/v2stats"
	"go.etcd.io/etcd/pkg/transport"
	"go.etcd.io/etcd/pkg/types"
	"go.etcd.io/etcd/raft"
	"go.etcd.io/etcd/raft/raftpb"
	"go.etcd.io/etcd/version"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"rafthttptest/msgjson"
)

// ------------------------------------------------------------------ output

type output struct {
	mu sync.Mutex
	w  *bufio.Writer
}

var stdout = &output{w: bufio.NewWriterSize(os.Stdout, 64*1024)}

// jw builds one event line: the JSON writers and MSG printer shared with the
// golden generator (tests/go/msgjson), plus typeValue below.
type jw struct{ msgjson.Writer }

// event starts an event line: {"event":NAME,"time":NOW
func event(name string) *jw {
	w := &jw{msgjson.Writer{B: make([]byte, 0, 256)}}
	w.S(`{"event":`)
	w.Str(name)
	w.S(`,"time":`)
	w.Str(time.Now().UTC().Format(time.RFC3339Nano))
	return w
}

// emit closes the object and writes it as one line.
func emit(w *jw) {
	w.S("}\n")
	stdout.mu.Lock()
	stdout.w.Write(w.B)
	stdout.w.Flush()
	stdout.mu.Unlock()
}

func emitError(msg string) {
	w := event("error")
	w.S(`,"error":`)
	w.Str(msg)
	emit(w)
}

// typeValue writes a message type as rafthttp logs it (String(): a name,
// or a number for values raftpb 3.4 does not know) in our MSG convention.
func (w *jw) typeValue(s string) {
	if _, ok := msgTypeByName[s]; ok {
		w.Str(s)
	} else if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		w.I(n)
	} else {
		w.Str(s)
	}
}

// -------------------------------------------------------------------- node

type node struct {
	local   uint64
	reply   bool
	snapDir string
	tr      *rafthttp.Transport
	track   *recvTracker

	mu      sync.Mutex
	peers   map[uint64][]string // added with --peer / addPeer, for status
	removed map[uint64]bool     // IsIDRemoved answers (markRemoved)
	paused  map[uint64]bool     // peers paused by cutPeer/pause (Go drops silently)

	stopOnce sync.Once
	stopc    chan struct{}
}

func (n *node) stop() { n.stopOnce.Do(func() { close(n.stopc) }) }

// fakeRaft is the Raft given to the Transport.
type fakeRaft struct{ n *node }

func (r *fakeRaft) Process(ctx context.Context, m raftpb.Message) error {
	n := r.n
	p := n.track.match(&m)
	via := viaUnknown
	if p != nil {
		via = p.via
	}
	w := event("recv")
	w.S(`,"via":`)
	w.Str(via)
	w.S(`,"msg":`)
	// Fields 13/14 that do not parse are left out of MSG; not an error here.
	_ = w.Msg(&m)
	if m.Type == raftpb.MsgSnap && p != nil && p.snapBytes != nil {
		w.S(`,"snapshotFile":`)
		w.Str(filepath.Join(n.snapDir, fmt.Sprintf("%016x.snap.db", m.Snapshot.Metadata.Index)))
		w.S(`,"snapshotBytes":`)
		w.I(atomic.LoadInt64(p.snapBytes))
	}
	emit(w)
	if n.reply {
		n.echo(&m)
	}
	return nil
}

func (r *fakeRaft) IsIDRemoved(id uint64) bool {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	return r.n.removed[id]
}

func (r *fakeRaft) ReportUnreachable(id uint64) {
	w := event("unreachable")
	w.S(`,"id":`)
	w.U(id)
	emit(w)
}

func (r *fakeRaft) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	w := event("snapshotStatus")
	w.S(`,"id":`)
	w.U(id)
	w.S(`,"status":`)
	switch status {
	case raft.SnapshotFinish:
		w.Str("finish")
	case raft.SnapshotFailure:
		w.Str("failure")
	default:
		w.Str(strconv.Itoa(int(status)))
	}
	emit(w)
}

// echo answers m as a passive follower would (--reply echo-resp).
func (n *node) echo(m *raftpb.Message) {
	var r raftpb.Message
	switch m.Type {
	case raftpb.MsgHeartbeat:
		r = raftpb.Message{Type: raftpb.MsgHeartbeatResp, Term: m.Term, Context: m.Context}
	case raftpb.MsgApp:
		idx := m.Index
		if l := len(m.Entries); l > 0 {
			idx = m.Entries[l-1].Index
		}
		r = raftpb.Message{Type: raftpb.MsgAppResp, Term: m.Term, Index: idx}
	case raftpb.MsgVote:
		r = raftpb.Message{Type: raftpb.MsgVoteResp, Term: m.Term}
	case raftpb.MsgPreVote:
		r = raftpb.Message{Type: raftpb.MsgPreVoteResp, Term: m.Term}
	case raftpb.MsgSnap:
		r = raftpb.Message{Type: raftpb.MsgAppResp, Term: m.Term, Index: m.Snapshot.Metadata.Index}
	default:
		return
	}
	r.To, r.From = m.From, n.local
	n.send(r)
}

func (n *node) send(m raftpb.Message) {
	if m.To == 0 {
		n.dropped(0, m.Type.String(), "to is 0: Transport.Send ignores it")
		return
	}
	n.mu.Lock()
	paused := n.paused[m.To]
	n.mu.Unlock()
	if paused {
		// A paused peer's send returns without a trace; say so.
		n.dropped(m.To, m.Type.String(), "peer paused (cutPeer/pause)")
	}
	n.tr.Send([]raftpb.Message{m})
}

func (n *node) dropped(id uint64, typ, reason string) {
	w := event("dropped")
	w.S(`,"id":`)
	w.U(id)
	w.S(`,"type":`)
	w.typeValue(typ)
	w.S(`,"reason":`)
	w.Str(reason)
	emit(w)
}

// onLog turns the hooked rafthttp log entries into events.
func (n *node) onLog(msg string, f map[string]string) {
	switch msg {
	case "peer became active":
		if id, ok := hexID(f["peer-id"]); ok {
			w := event("peerActive")
			w.S(`,"id":`)
			w.U(id)
			emit(w)
		}
	case "peer became inactive (message send to peer failed)":
		if id, ok := hexID(f["peer-id"]); ok {
			w := event("peerInactive")
			w.S(`,"id":`)
			w.U(id)
			w.S(`,"reason":`)
			w.Str(f["error"])
			emit(w)
		}
	case "dropped internal Raft message since sending buffer is full (overloaded network)":
		id, _ := hexID(f["remote-peer-id"])
		n.dropped(id, f["message-type"], "sending buffer full")
	case "dropped internal Raft message since receiving buffer is full (overloaded network)",
		"dropped Raft message since receiving buffer is full (overloaded network)":
		id, _ := hexID(f["from"])
		n.dropped(id, f["message-type"], "receiving buffer full")
	case "ignored message send request; unknown remote peer target":
		id, _ := hexID(f["unknown-target-peer-id"])
		n.dropped(id, f["type"], "unknown peer")
	}
}

// ---------------------------------------------------------------- commands

func (n *node) handleLine(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	o, err := decodeLine(line)
	if err != nil {
		emitError(err.Error())
		return
	}
	if c, ok := o["cmd"]; ok {
		cmd, ok := c.(string)
		if !ok {
			emitError(`"cmd" must be a string`)
			return
		}
		if err := n.command(cmd, o); err != nil {
			emitError(cmd + ": " + err.Error())
		}
		return
	}
	m, err := parseMsg(o)
	if err != nil {
		emitError("message: " + err.Error())
		return
	}
	if sf, ok := o["snapshotFile"]; ok && sf != nil {
		path, ok := sf.(string)
		if !ok || path == "" {
			emitError(`message: "snapshotFile" must be a non-empty string`)
			return
		}
		if err := n.sendSnapshot(m, path); err != nil {
			emitError("message: " + err.Error())
		}
		return
	}
	n.send(m)
}

func (n *node) sendSnapshot(m raftpb.Message, path string) error {
	if m.Type != raftpb.MsgSnap {
		return fmt.Errorf(`"snapshotFile" needs a MsgSnap, not %s`, m.Type)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if n.tr.Get(types.ID(m.To)) == nil {
		// SendSnapshot would only close the message (no ReportSnapshot).
		f.Close()
		n.dropped(m.To, m.Type.String(), "unknown peer")
		return nil
	}
	n.tr.SendSnapshot(*snap.NewMessage(m, f, st.Size()))
	return nil
}

func checkURLs(us []string) error {
	_, err := types.NewURLs(us)
	return err
}

func (n *node) command(cmd string, o obj) error {
	switch cmd {
	case "addPeer", "updatePeer", "addRemote":
		id, err := parseID(o, "id")
		if err != nil {
			return err
		}
		us, err := parseURLs(o, "urls")
		if err != nil {
			return err
		}
		if err := checkURLs(us); err != nil {
			return err
		}
		switch cmd {
		case "addPeer":
			if n.tr.Get(types.ID(id)) != nil {
				return fmt.Errorf("peer %s already added", types.ID(id))
			}
			n.tr.AddPeer(types.ID(id), us)
		case "updatePeer":
			if n.tr.Get(types.ID(id)) == nil {
				return fmt.Errorf("unknown peer %s", types.ID(id))
			}
			n.tr.UpdatePeer(types.ID(id), us)
		case "addRemote":
			n.tr.AddRemote(types.ID(id), us)
			return nil
		}
		n.mu.Lock()
		n.peers[id] = us
		n.mu.Unlock()
	case "removePeer":
		id, err := parseID(o, "id")
		if err != nil {
			return err
		}
		if n.tr.Get(types.ID(id)) == nil {
			// Transport.RemovePeer panics on an unknown ID.
			return fmt.Errorf("unknown peer %s", types.ID(id))
		}
		n.tr.RemovePeer(types.ID(id))
		n.mu.Lock()
		delete(n.peers, id)
		delete(n.paused, id)
		n.mu.Unlock()
	case "cutPeer", "mendPeer":
		id, err := parseID(o, "id")
		if err != nil {
			return err
		}
		n.mu.Lock()
		if cmd == "cutPeer" {
			n.tr.CutPeer(types.ID(id))
			if n.tr.Get(types.ID(id)) != nil {
				n.paused[id] = true
			}
		} else {
			n.tr.MendPeer(types.ID(id))
			delete(n.paused, id)
		}
		n.mu.Unlock()
	case "pause", "resume":
		n.mu.Lock()
		if cmd == "pause" {
			n.tr.Pause()
			for id := range n.peers {
				n.paused[id] = true
			}
		} else {
			n.tr.Resume()
			n.paused = map[uint64]bool{}
		}
		n.mu.Unlock()
	case "markRemoved", "unmarkRemoved":
		id, err := parseID(o, "id")
		if err != nil {
			return err
		}
		n.mu.Lock()
		if cmd == "markRemoved" {
			n.removed[id] = true
		} else {
			delete(n.removed, id)
		}
		n.mu.Unlock()
	case "status":
		n.status()
	case "stop":
		n.stop()
	default:
		return errors.New("unknown command")
	}
	return nil
}

func (n *node) status() {
	n.mu.Lock()
	ids := make([]uint64, 0, len(n.peers))
	urls := map[uint64][]string{}
	paused := map[uint64]bool{}
	for id, us := range n.peers {
		ids = append(ids, id)
		urls[id] = us
		paused[id] = n.paused[id]
	}
	n.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	w := event("status")
	w.S(`,"id":`)
	w.U(n.local)
	w.S(`,"activePeers":`)
	w.I(int64(n.tr.ActivePeers()))
	w.S(`,"peers":[`)
	for i, id := range ids {
		if i > 0 {
			w.S(",")
		}
		since := n.tr.ActiveSince(types.ID(id))
		w.S(`{"id":`)
		w.U(id)
		w.S(`,"active":`)
		w.Bool(!since.IsZero())
		w.S(`,"paused":`)
		w.Bool(paused[id])
		if !since.IsZero() {
			w.S(`,"activeSince":`)
			w.Str(since.UTC().Format(time.RFC3339Nano))
		}
		w.S(`,"urls":[`)
		for j, u := range urls[id] {
			if j > 0 {
				w.S(",")
			}
			w.Str(u)
		}
		w.S("]}")
	}
	w.S("]")
	emit(w)
}

// ------------------------------------------------------------------- flags

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gopeer: "+format+"\n", a...)
	os.Exit(2)
}

// tlsErrorLog is the http.Server's ErrorLog output: lines about refused TLS
// handshakes go to stderr as they are, prefixed "gopeer: "; every other
// line is discarded (etcd's peer server discards them all).
type tlsErrorLog struct{}

func (tlsErrorLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		os.Stderr.Write(append([]byte("gopeer: "), p...))
	}
	return len(p), nil
}

// handshakeFailure is TLSInfo.HandshakeFailure. etcd's TLS listener
// (pkg/transport) completes the handshake and its checks (client cert SAN
// against the remote address, CRL) before http.Server sees the connection,
// so net/http never logs a refusal itself. This logs it as etcd does with
// the zap logger (embed/config_logging.go, "rejected connection") and also
// as the line net/http would write ("http: TLS handshake error from ADDR:
// ERR") through errLog.
func handshakeFailure(lg *zap.Logger, errLog *log.Logger) func(*tls.Conn, error) {
	return func(conn *tls.Conn, err error) {
		state := conn.ConnectionState()
		remoteAddr := conn.RemoteAddr().String()
		if len(state.PeerCertificates) > 0 {
			cert := state.PeerCertificates[0]
			ips := make([]string, len(cert.IPAddresses))
			for i := range cert.IPAddresses {
				ips[i] = cert.IPAddresses[i].String()
			}
			lg.Warn("rejected connection",
				zap.String("remote-addr", remoteAddr),
				zap.String("server-name", state.ServerName),
				zap.Strings("ip-addresses", ips),
				zap.Strings("dns-names", cert.DNSNames),
				zap.Error(err),
			)
		} else {
			lg.Warn("rejected connection",
				zap.String("remote-addr", remoteAddr),
				zap.String("server-name", state.ServerName),
				zap.Error(err),
			)
		}
		errLog.Printf("http: TLS handshake error from %s: %v", remoteAddr, err)
	}
}

type peerFlag struct {
	id   uint64
	urls []string
}

func main() {
	fs := flag.NewFlagSet("gopeer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		idS, cidS, snapDir, reply, logLevel string
		serverVersion, minClusterVersion    string
		listens, advertise, peerS           multi
		dialTimeout, dialRetry              time.Duration
		tlsInfo                             transport.TLSInfo
	)
	fs.StringVar(&idS, "id", "", "local member ID (hex)")
	fs.StringVar(&cidS, "cluster-id", "", "cluster ID (hex)")
	fs.Var(&listens, "listen", "peer URL to serve on (repeatable)")
	fs.Var(&advertise, "advertise", "peer URL sent in X-PeerURLs (repeatable)")
	fs.Var(&peerS, "peer", "ID=URL[,URL...] (repeatable)")
	fs.StringVar(&snapDir, "snap-dir", "", "directory for received snapshots")
	fs.StringVar(&reply, "reply", "none", "none|echo-resp")
	fs.StringVar(&logLevel, "log-level", "info", "debug|info|warn|error")
	fs.StringVar(&serverVersion, "server-version", version.Version, "X-Server-Version")
	fs.StringVar(&minClusterVersion, "min-cluster-version", version.MinClusterVersion, "X-Min-Cluster-Version")
	fs.DurationVar(&dialTimeout, "dial-timeout", time.Second, "dial timeout")
	fs.DurationVar(&dialRetry, "dial-retry", 100*time.Millisecond, "minimum gap between stream redials")
	// Peer TLS: etcd's flags (etcdmain/config.go), into one TLSInfo used by
	// the https listeners and by the Transport's dialers, as in etcd.
	fs.StringVar(&tlsInfo.CertFile, "peer-cert-file", "", "Path to the peer server TLS cert file.")
	fs.StringVar(&tlsInfo.KeyFile, "peer-key-file", "", "Path to the peer server TLS key file.")
	fs.BoolVar(&tlsInfo.ClientCertAuth, "peer-client-cert-auth", false, "Enable peer client cert authentication.")
	fs.StringVar(&tlsInfo.TrustedCAFile, "peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file.")
	fs.StringVar(&tlsInfo.CRLFile, "peer-crl-file", "", "Path to the peer certificate revocation list file.")
	fs.StringVar(&tlsInfo.AllowedCN, "peer-cert-allowed-cn", "", "Allowed CN for inter peer authentication.")
	fs.StringVar(&tlsInfo.AllowedHostname, "peer-cert-allowed-hostname", "", "Allowed TLS hostname for inter peer authentication.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fail("%v", err)
	}
	if fs.NArg() > 0 {
		fail("unexpected argument %q", fs.Arg(0))
	}
	if idS == "" || cidS == "" || len(listens) == 0 {
		fail("--id, --cluster-id and --listen are required")
	}
	id, err := types.IDFromString(idS)
	if err != nil || id == 0 {
		fail("--id: %q is not a hex member ID", idS)
	}
	cid, err := types.IDFromString(cidS)
	if err != nil {
		fail("--cluster-id: %q is not a hex ID", cidS)
	}
	switch reply {
	case "none", "echo-resp":
	default:
		fail("--reply: %q is not none or echo-resp", reply)
	}
	var level zapcore.Level
	if err := level.Set(logLevel); err != nil {
		fail("--log-level: %v", err)
	}
	for _, v := range []struct{ name, val string }{{"--server-version", serverVersion}, {"--min-cluster-version", minClusterVersion}} {
		if _, err := semver.NewVersion(v.val); err != nil {
			fail("%s: %v", v.name, err)
		}
	}
	if dialTimeout <= 0 || dialRetry <= 0 {
		fail("--dial-timeout and --dial-retry must be positive")
	}
	var peers []peerFlag
	for _, p := range peerS {
		i := strings.IndexByte(p, '=')
		if i <= 0 {
			fail("--peer %q: want ID=URL[,URL...]", p)
		}
		pid, err := types.IDFromString(p[:i])
		if err != nil || pid == 0 {
			fail("--peer %q: %q is not a hex member ID", p, p[:i])
		}
		us := strings.Split(p[i+1:], ",")
		if err := checkURLs(us); err != nil {
			fail("--peer %q: %v", p, err)
		}
		peers = append(peers, peerFlag{uint64(pid), us})
	}

	n := &node{
		local:   uint64(id),
		reply:   reply == "echo-resp",
		track:   &recvTracker{},
		peers:   map[uint64][]string{},
		removed: map[uint64]bool{},
		paused:  map[uint64]bool{},
		stopc:   make(chan struct{}),
	}
	lg := newLogger(level, n.onLog)
	// The http.Servers' ErrorLog: only TLS handshake errors reach stderr.
	errLog := log.New(tlsErrorLog{}, "", 0)
	tlsInfo.HandshakeFailure = handshakeFailure(lg, errLog)
	if !tlsInfo.Empty() {
		lg.Info("starting with peer TLS", zap.String("tls-info", fmt.Sprintf("%+v", tlsInfo)),
			zap.Strings("cipher-suites", nil))
	}

	// Bind every listen URL first (port 0 picks a free port). As etcd's
	// configurePeerListeners: an https URL gets pkg/transport's TLS listener
	// (handshake, client cert SAN check, CRL check) on the TLSInfo, an http
	// URL ignores the TLS flags (with etcd's warnings).
	var lns []net.Listener
	var listenURLs []string
	for _, l := range listens {
		u, err := url.Parse(l)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			fail("--listen %q: want http://HOST:PORT or https://HOST:PORT", l)
		}
		var ln net.Listener
		if u.Scheme == "https" {
			ln, err = transport.NewListener(u.Host, u.Scheme, &tlsInfo)
		} else {
			if !tlsInfo.Empty() {
				lg.Warn("scheme is HTTP while key and cert files are present; ignoring key and cert files", zap.String("peer-url", u.String()))
			}
			if tlsInfo.ClientCertAuth {
				lg.Warn("scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL", zap.String("peer-url", u.String()))
			}
			ln, err = net.Listen("tcp", u.Host)
		}
		if err != nil {
			fail("--listen %q: %v", l, err)
		}
		host, _, _ := net.SplitHostPort(u.Host)
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		lns = append(lns, ln)
		listenURLs = append(listenURLs, u.Scheme+"://"+net.JoinHostPort(host, port))
	}
	if len(advertise) == 0 {
		advertise = listenURLs
	}
	adv, err := types.NewURLs(advertise)
	if err != nil {
		fail("--advertise: %v", err)
	}

	if snapDir == "" {
		if snapDir, err = os.MkdirTemp("", "gopeer-snap-"); err != nil {
			fail("--snap-dir: %v", err)
		}
	}
	if snapDir, err = filepath.Abs(snapDir); err != nil {
		fail("--snap-dir: %v", err)
	}
	if err := os.MkdirAll(snapDir, 0o755); err != nil {
		fail("--snap-dir: %v", err)
	}
	n.snapDir = snapDir

	// Headers rafthttp sends and checks come from these package variables.
	version.Version = serverVersion
	version.MinClusterVersion = minClusterVersion

	errc := make(chan error, 16)
	tr := &rafthttp.Transport{
		Logger:             lg,
		DialTimeout:        dialTimeout,
		DialRetryFrequency: rate.Every(dialRetry),
		TLSInfo:            tlsInfo, // dialers: TLS for https peer URLs (NewTimeoutTransport)
		ID:                 id,
		URLs:               adv,
		ClusterID:          cid,
		Raft:               &fakeRaft{n},
		Snapshotter:        snap.New(lg, snapDir),
		ServerStats:        stats.NewServerStats("gopeer", id.String()),
		LeaderStats:        stats.NewLeaderStats(id.String()),
		ErrorC:             errc,
	}
	n.tr = tr
	if err := tr.Start(); err != nil {
		fail("starting the transport: %v", err)
	}
	origStreamRt := hookStreamRoundTripper(tr, n.track)
	if origStreamRt == nil {
		lg.Warn("cannot hook rafthttp's stream round tripper; recv events of streams will say via \"unknown\"")
	}
	lg.Info("gopeer starting", zap.String("local-member-id", id.String()),
		zap.String("cluster-id", cid.String()), zap.Strings("listen", listenURLs),
		zap.String("snap-dir", snapDir), zap.String("server-version", version.Version))

	go func() {
		for err := range errc {
			w := event("critical")
			w.S(`,"error":`)
			w.Str(err.Error())
			emit(w)
		}
	}()

	// Peers first, then serve: a peer's first dial never meets a 404.
	for _, p := range peers {
		if tr.Get(types.ID(p.id)) != nil {
			fail("--peer %s given twice", types.ID(p.id))
		}
		tr.AddPeer(types.ID(p.id), p.urls)
		n.peers[p.id] = p.urls
	}

	raftH := teeHandler(tr.Handler(), n.track)
	mux := http.NewServeMux()
	mux.HandleFunc("/", http.NotFound)
	mux.Handle(rafthttp.RaftPrefix, raftH)
	mux.Handle(rafthttp.RaftPrefix+"/", raftH)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(version.Versions{Server: version.Version, Cluster: "3.4.0"})
		w.Write(b)
	})
	var srvs []*http.Server
	for _, ln := range lns {
		// As etcd's peer server (embed/etcd.go): 5 min ReadTimeout, error log
		// discarded except for TLS handshake errors (see tlsErrorLog).
		srv := &http.Server{Handler: mux, ReadTimeout: 5 * time.Minute, ErrorLog: errLog}
		srvs = append(srvs, srv)
		go srv.Serve(ln)
	}

	w := event("ready")
	w.S(`,"listen":`)
	w.Str(listenURLs[0])
	if len(listenURLs) > 1 {
		w.S(`,"urls":[`)
		for i, u := range listenURLs {
			if i > 0 {
				w.S(",")
			}
			w.Str(u)
		}
		w.S("]")
	}
	emit(w)

	go func() {
		r := bufio.NewReaderSize(os.Stdin, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				n.handleLine(line)
			}
			if err != nil {
				if err != io.EOF {
					lg.Warn("reading standard input", zap.Error(err))
				}
				lg.Info("end of standard input; serving until SIGINT/SIGTERM")
				return
			}
		}
	}()

	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-n.stopc:
	case s := <-sigc:
		lg.Info("stopping on signal", zap.String("signal", s.String()))
	}
	for _, srv := range srvs {
		srv.Close()
	}
	tr.Stop()
	if t, ok := origStreamRt.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	lg.Info("gopeer stopped")
	stdout.mu.Lock()
	stdout.w.Flush()
	stdout.mu.Unlock()
	os.Exit(0)
}
