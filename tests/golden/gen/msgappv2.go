// SPDX-License-Identifier: Apache-2.0

package main

// The message sequence handed to etcd's msgAppV2 encoder.

import (
	"math"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/raft/raftpb"
)

// v2state models the (term, index) the msgAppV2 encoder (and decoder)
// track, to build messages that continue a run. The frame type it predicts
// is checked against the real encoder's output.
type v2state struct{ term, index uint64 }

func (s *v2state) frame(m *raftpb.Message) byte {
	switch {
	case isLinkHeartbeat(m):
		return 0
	case s.index == m.Index && s.term == m.LogTerm && m.LogTerm == m.Term:
		return 1 // note: whatever m.Type is
	default:
		return 2
	}
}

func (s *v2state) apply(m *raftpb.Message, f byte) {
	switch f {
	case 1:
		s.index += uint64(len(m.Entries)) // wraps like Go's uint64
	case 2:
		s.term = m.Term
		s.index = m.Index
		if l := len(m.Entries); l > 0 {
			s.index = m.Entries[l-1].Index
		}
	}
}

type appGen struct {
	g             *rng
	st            v2state
	local, remote uint64
	commit        uint64
	out           []raftpb.Message
}

func (a *appGen) push(m raftpb.Message) {
	a.st.apply(&m, a.st.frame(&m))
	a.out = append(a.out, m)
}

// runEntries: n entries continuing the current index, with the given term.
func (a *appGen) runEntries(n int, term uint64) []raftpb.Entry {
	if n == 0 {
		return nil
	}
	es := make([]raftpb.Entry, n)
	for k := range es {
		es[k] = raftpb.Entry{Term: term, Index: a.st.index + uint64(k) + 1,
			Type: a.g.entryType(), Data: a.g.optBytes(64)}
	}
	return es
}

func (a *appGen) runCount() int {
	switch p := a.g.Intn(100); {
	case p < 10:
		return 0
	case p < 85:
		return 1 + a.g.Intn(5)
	default:
		return 6 + a.g.Intn(35)
	}
}

func (a *appGen) nextCommit() uint64 {
	g := a.g
	switch p := g.Intn(100); {
	case p < 60:
		if a.st.index > a.commit {
			a.commit += uint64(g.Int63n(int64(minU64(a.st.index-a.commit, 1<<40)) + 1))
		}
		return a.commit
	case p < 85:
		return a.commit
	default:
		return g.u64()
	}
}

func minU64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

// continuation: a MsgApp that the encoder frames as AppEntries.
func (a *appGen) continuation(entries []raftpb.Entry) raftpb.Message {
	g := a.g
	m := raftpb.Message{
		Type: raftpb.MsgApp, To: a.local, From: a.remote,
		Term: a.st.term, LogTerm: a.st.term, Index: a.st.index,
		Entries: entries, Commit: a.nextCommit(),
	}
	if g.chance(10) {
		// fields an AppEntries frame does not carry
		m.To, m.From = g.id(), g.id()
		m.Context = g.optBytes(16)
		m.Reject = g.chance(50)
		m.RejectHint = g.u64()
		m.Snapshot = g.snapshot()
		if g.chance(30) {
			setExtra(&m, g.extra())
		}
	}
	return m
}

// breakApp: a MsgApp starting a new run (usually a type 2 frame).
func (a *appGen) breakApp() raftpb.Message {
	g := a.g
	var term uint64
	if g.chance(80) {
		term = a.st.term + 1 + uint64(g.Intn(3))
	} else {
		term = g.u64()
	}
	logTerm := term
	switch p := g.Intn(100); {
	case p < 30:
		logTerm = a.st.term
	case p < 40:
		logTerm = g.u64()
	}
	index := a.st.index
	switch p := g.Intn(100); {
	case p < 30:
		index -= uint64(g.Intn(10))
	case p < 50:
		index = g.u64()
	}
	m := raftpb.Message{
		Type: raftpb.MsgApp, To: a.local, From: a.remote,
		Term: term, LogTerm: logTerm, Index: index, Commit: a.nextCommit(),
	}
	if n := g.Intn(11); n > 0 {
		m.Entries = make([]raftpb.Entry, n)
		for k := range m.Entries {
			m.Entries[k] = raftpb.Entry{Term: term, Index: index + uint64(k) + 1,
				Type: g.entryType(), Data: g.optBytes(64)}
		}
		if g.chance(10) { // last index unrelated to Index: the state follows it
			m.Entries[n-1].Index = g.u64()
		}
	}
	if g.chance(10) {
		m.Context = g.optBytes(16)
		m.Reject = g.chance(50)
		m.RejectHint = g.u64()
		m.Snapshot = g.snapshot()
	}
	if g.chance(5) {
		setExtra(&m, g.extra())
	}
	return m
}

// nearMiss: almost continues the run, but not quite (type 2 frame).
func (a *appGen) nearMiss() raftpb.Message {
	t, i := a.st.term, a.st.index
	m := raftpb.Message{Type: raftpb.MsgApp, To: a.local, From: a.remote, Commit: a.nextCommit()}
	switch a.g.Intn(5) {
	case 0:
		m.Term, m.LogTerm, m.Index = t, t, i+1
	case 1:
		m.Term, m.LogTerm, m.Index = t, t, i-1
	case 2:
		m.Term, m.LogTerm, m.Index = t+1, t, i
	case 3:
		m.Term, m.LogTerm, m.Index = t, t+1, i
	default:
		m.Term, m.LogTerm, m.Index = t+1, t+1, i
	}
	m.Entries = a.runEntries(a.g.Intn(4), m.Term)
	return m
}

func (a *appGen) linkHeartbeat() raftpb.Message {
	m := linkHeartbeat()
	if a.g.chance(30) {
		// still a link heartbeat for the encoder (type, to, from decide)
		m.Term, m.Index, m.Commit = a.g.u64(), a.g.u64(), a.g.u64()
		m.Context = a.g.optBytes(8)
	}
	return m
}

func (a *appGen) nonMsgApp() raftpb.Message {
	t := a.g.msgType()
	for t == raftpb.MsgApp {
		t = a.g.msgType()
	}
	return a.g.message(t, true)
}

func genMsgAppV2(g *rng, n int, local, remote uint64) []raftpb.Message {
	a := &appGen{g: g, local: local, remote: remote}
	const bs = rafthttp.GoldenMsgAppV2BufSize
	large := map[int]int{}
	if n >= 500 {
		for k := 1; k <= 4; k++ {
			large[n/6*k+3] = k
		}
	}
	wrapAt := n / 3
	run := 0
	for len(a.out) < n {
		i := len(a.out)
		switch {
		case i == 0: // a fresh encoder is at term 0, index 0
			a.push(a.continuation(a.runEntries(3, 0)))
		case i == 1:
			a.push(linkHeartbeat())
		case i == 2: // a non-MsgApp matching the fresh state: AppEntries too
			m := a.g.message(raftpb.MsgVote, false)
			m.Term, m.LogTerm, m.Index = a.st.term, a.st.term, a.st.index
			a.push(m)
		case i == wrapAt: // run across the uint64 index wrap
			m := raftpb.Message{Type: raftpb.MsgApp, To: local, From: remote,
				Term: a.st.term + 1, LogTerm: a.st.term + 1, Index: math.MaxUint64 - 2,
				Entries: []raftpb.Entry{{Term: a.st.term + 1, Index: math.MaxUint64 - 1}}}
			a.push(m)
			run = 10
		case i == wrapAt+1: // indexes 2^64-1, 0, 1, 2: the tracked index wraps
			a.push(a.continuation(a.runEntries(4, a.st.term)))
		case i == wrapAt+2: // a term of 2^64-1
			m := raftpb.Message{Type: raftpb.MsgApp, To: local, From: remote,
				Term: math.MaxUint64, LogTerm: math.MaxUint64, Index: a.st.index,
				Entries: a.runEntries(2, math.MaxUint64)}
			a.push(m)
			run = 5
		case large[i] != 0:
			switch large[i] {
			case 1:
				a.push(a.continuation([]raftpb.Entry{g.entryOfSize(bs-1, a.st.term, a.st.index+1, raftpb.EntryNormal)}))
			case 2:
				es := a.runEntries(3, a.st.term)
				es[1] = g.entryOfSize(bs, a.st.term, a.st.index+2, raftpb.EntryNormal)
				a.push(a.continuation(es))
			case 3:
				a.push(a.continuation([]raftpb.Entry{g.entryOfSize(bs+bs/20, a.st.term, a.st.index+1, raftpb.EntryConfChange)}))
			case 4:
				m := a.breakApp()
				m.Entries = []raftpb.Entry{{Term: m.Term, Index: m.Index + 1, Data: g.randBytes(bs + bs/10)}}
				a.push(m)
			}
		case g.chance(3):
			a.push(a.linkHeartbeat())
		case run > 0:
			run--
			a.push(a.continuation(a.runEntries(a.runCount(), a.st.term)))
		default:
			switch p := g.Intn(100); {
			case p < 60:
				a.push(a.breakApp())
			case p < 75:
				a.push(a.nearMiss())
			case p < 90:
				a.push(a.nonMsgApp())
			default: // a non-MsgApp that happens to match: framed as AppEntries
				m := a.nonMsgApp()
				m.Term, m.LogTerm, m.Index = a.st.term, a.st.term, a.st.index
				a.push(m)
			}
			switch p := g.Intn(100); {
			case p < 50:
				run = 1 + g.Intn(5)
			case p < 85:
				run = 6 + g.Intn(15)
			default:
				run = 21 + g.Intn(60)
			}
		}
	}
	return a.out
}
