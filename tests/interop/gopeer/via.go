// SPDX-License-Identifier: Apache-2.0

package main

// Working out the "via" of a received message.
//
// rafthttp hands messages to Raft.Process without saying where they came
// from. We watch the bytes instead: every body Go's rafthttp reads (the
// responses to its stream GETs, through a wrapped streamRt, and the request
// bodies of POST /raft and POST /raft/snapshot, through a wrapped handler)
// is parsed a second time here, synchronously inside Read, so that each
// decoded message is registered (keyed by its marshalled bytes) before
// Go's own decoder returns it. Process then looks the message up. Should a
// message not be found (it never should), via is "unknown".

import (
	"encoding/binary"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/pkg/types"
	"go.etcd.io/etcd/raft/raftpb"
)

const (
	viaAppV2    = "streamMsgAppV2"
	viaMsg      = "streamMsg"
	viaPipeline = "pipeline"
	viaSnapshot = "snapshot"
	viaUnknown  = "unknown"

	pendingMaxAge = time.Minute
	pendingMax    = 1 << 16
)

type pending struct {
	via       string
	key       string
	at        time.Time
	snapBytes *int64 // snapshot: body bytes after the message
}

type recvTracker struct {
	mu   sync.Mutex
	list []*pending
}

func msgKey(m *raftpb.Message) string {
	b, err := m.Marshal()
	if err != nil {
		return ""
	}
	return string(b)
}

func (t *recvTracker) add(via string, m *raftpb.Message, snapBytes *int64) {
	p := &pending{via: via, key: msgKey(m), at: time.Now(), snapBytes: snapBytes}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Messages that were read but never processed (a paused reader, a full
	// receive buffer, a failed snapshot save) are forgotten after a while.
	cut := 0
	for cut < len(t.list) && (len(t.list)-cut >= pendingMax || p.at.Sub(t.list[cut].at) > pendingMaxAge) {
		cut++
	}
	if cut > 0 {
		t.list = append(t.list[:0], t.list[cut:]...)
	}
	t.list = append(t.list, p)
}

// match removes and returns the oldest registration of m, or nil.
func (t *recvTracker) match(m *raftpb.Message) *pending {
	k := msgKey(m)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, p := range t.list {
		if p.key == k {
			t.list = append(t.list[:i], t.list[i+1:]...)
			return p
		}
	}
	return nil
}

// ------------------------------------------------------------ stream bodies

// streamTee parses a stream body (message or msgappv2 framing) as it is read.
type streamTee struct {
	rc            io.ReadCloser
	tr            *recvTracker
	v2            bool
	local, remote uint64
	buf           []byte
	broken        bool
	term, index   uint64 // msgappv2 decoder state
}

func (s *streamTee) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if n > 0 && !s.broken {
		s.buf = append(s.buf, p[:n]...)
		s.parse()
	}
	return n, err
}

func (s *streamTee) Close() error { return s.rc.Close() }

const streamMsgLimit = 512 * 1024 * 1024 // rafthttp's readBytesLimit

func (s *streamTee) parse() {
	for !s.broken {
		var used int
		if s.v2 {
			used = s.frameV2()
		} else {
			used = s.frameMsg()
		}
		if used == 0 {
			return
		}
		s.buf = append(s.buf[:0], s.buf[used:]...)
	}
}

// frameMsg: u64 length + Message. Returns the bytes used, 0 if incomplete.
func (s *streamTee) frameMsg() int {
	if len(s.buf) < 8 {
		return 0
	}
	l := binary.BigEndian.Uint64(s.buf)
	if l > streamMsgLimit {
		s.broken = true
		return 0
	}
	if uint64(len(s.buf)-8) < l {
		return 0
	}
	var m raftpb.Message
	if err := m.Unmarshal(s.buf[8 : 8+l]); err != nil {
		s.broken = true
		return 0
	}
	if !(m.Type == raftpb.MsgHeartbeat && m.From == 0 && m.To == 0) { // link heartbeat
		s.tr.add(viaMsg, &m, nil)
	}
	return 8 + int(l)
}

// frameV2: one msgappv2 frame, decoded the way Go's msgAppV2Decoder does.
func (s *streamTee) frameV2() int {
	b := s.buf
	if len(b) < 1 {
		return 0
	}
	switch b[0] {
	case 0: // link heartbeat
		return 1
	case 1: // AppEntries
		pos := 1
		if len(b) < pos+8 {
			return 0
		}
		cnt := binary.BigEndian.Uint64(b[pos:])
		pos += 8
		if cnt > uint64(len(b)) { // each entry takes >= 8 bytes
			if cnt > streamMsgLimit {
				s.broken = true
			}
			return 0
		}
		ents := make([]raftpb.Entry, int(cnt))
		for i := range ents {
			if len(b) < pos+8 {
				return 0
			}
			sz := binary.BigEndian.Uint64(b[pos:])
			pos += 8
			if sz > streamMsgLimit {
				s.broken = true
				return 0
			}
			if uint64(len(b)-pos) < sz {
				return 0
			}
			if err := ents[i].Unmarshal(b[pos : pos+int(sz)]); err != nil {
				s.broken = true
				return 0
			}
			pos += int(sz)
		}
		if len(b) < pos+8 {
			return 0
		}
		m := raftpb.Message{
			Type: raftpb.MsgApp, From: s.remote, To: s.local,
			Term: s.term, LogTerm: s.term, Index: s.index,
			Entries: ents, Commit: binary.BigEndian.Uint64(b[pos:]),
		}
		pos += 8
		s.index += cnt
		s.tr.add(viaAppV2, &m, nil)
		return pos
	case 2: // a full MsgApp
		if len(b) < 9 {
			return 0
		}
		sz := binary.BigEndian.Uint64(b[1:])
		if sz > streamMsgLimit {
			s.broken = true
			return 0
		}
		if uint64(len(b)-9) < sz {
			return 0
		}
		var m raftpb.Message
		if err := m.Unmarshal(b[9 : 9+sz]); err != nil {
			s.broken = true
			return 0
		}
		s.term, s.index = m.Term, m.Index
		if l := len(m.Entries); l > 0 {
			s.index = m.Entries[l-1].Index
		}
		s.tr.add(viaAppV2, &m, nil)
		return 9 + int(sz)
	}
	s.broken = true
	return 0
}

// teeRoundTripper wraps rafthttp's stream round tripper: a 200 response to
// a stream GET gets its body teed.
type teeRoundTripper struct {
	rt    http.RoundTripper
	tr    *recvTracker
	local uint64
}

func (t *teeRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	var v2 bool
	switch {
	case strings.HasPrefix(req.URL.Path, rafthttp.RaftStreamPrefix+"/msgapp/"):
		v2 = true
	case strings.HasPrefix(req.URL.Path, rafthttp.RaftStreamPrefix+"/message/"):
	default:
		return resp, err
	}
	remote, _ := types.IDFromString(req.Header.Get("X-Raft-To"))
	resp.Body = &streamTee{rc: resp.Body, tr: t.tr, v2: v2, local: t.local, remote: uint64(remote)}
	return resp, nil
}

// hookStreamRoundTripper replaces the transport's unexported streamRt
// (set by Start) with a teeing wrapper. It must run after Start and before
// the first AddPeer/AddRemote. Returns the original, or nil if the field
// is not there (then via is always "unknown").
func hookStreamRoundTripper(t *rafthttp.Transport, tr *recvTracker) http.RoundTripper {
	f := reflect.ValueOf(t).Elem().FieldByName("streamRt")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*http.RoundTripper)(nil)).Elem() {
		return nil
	}
	p := (*http.RoundTripper)(unsafe.Pointer(f.UnsafeAddr()))
	orig := *p
	if orig == nil {
		return nil
	}
	*p = &teeRoundTripper{rt: orig, tr: tr, local: uint64(t.ID)}
	return orig
}

// ----------------------------------------------------- POST request bodies

// pipelineTee collects a POST /raft body; at its end the message is
// registered (the handler reads to EOF before calling Process).
type pipelineTee struct {
	rc   io.ReadCloser
	tr   *recvTracker
	buf  []byte
	done bool
}

func (p *pipelineTee) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	if !p.done {
		p.buf = append(p.buf, b[:n]...)
		if err == io.EOF {
			p.done = true
			var m raftpb.Message
			if m.Unmarshal(p.buf) == nil {
				p.tr.add(viaPipeline, &m, nil)
			}
			p.buf = nil
		} else if err != nil {
			p.done, p.buf = true, nil
		}
	}
	return n, err
}

func (p *pipelineTee) Close() error { return p.rc.Close() }

// snapTee parses the message at the head of a POST /raft/snapshot body and
// counts the snapshot bytes after it.
type snapTee struct {
	rc    io.ReadCloser
	tr    *recvTracker
	buf   []byte
	head  bool // message parsed
	bad   bool
	count *int64
}

func (s *snapTee) Read(b []byte) (int, error) {
	n, err := s.rc.Read(b)
	if n > 0 && !s.bad {
		if s.head {
			atomic.AddInt64(s.count, int64(n))
		} else {
			s.buf = append(s.buf, b[:n]...)
			if len(s.buf) >= 8 {
				l := binary.BigEndian.Uint64(s.buf)
				if l > uint64(1)<<40 {
					s.bad = true
				} else if uint64(len(s.buf)-8) >= l {
					var m raftpb.Message
					if m.Unmarshal(s.buf[8:8+l]) != nil {
						s.bad = true
					} else {
						s.head = true
						atomic.AddInt64(s.count, int64(uint64(len(s.buf))-8-l))
						s.tr.add(viaSnapshot, &m, s.count)
						s.buf = nil
					}
				}
			}
		}
	}
	return n, err
}

func (s *snapTee) Close() error { return s.rc.Close() }

// teeHandler wraps the rafthttp handler, teeing the POST bodies.
func teeHandler(h http.Handler, tr *recvTracker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Body != nil {
			switch r.URL.Path {
			case rafthttp.RaftPrefix:
				r.Body = &pipelineTee{rc: r.Body, tr: tr}
			case rafthttp.RaftSnapshotPrefix:
				r.Body = &snapTee{rc: r.Body, tr: tr, count: new(int64)}
			}
		}
		h.ServeHTTP(w, r)
	})
}
