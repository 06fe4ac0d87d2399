// SPDX-License-Identifier: Apache-2.0

package main

// Random values for the golden files. Everything is drawn from one
// math/rand source seeded with the golden seed, in a fixed order, so the
// same seed and count always give the same files.

import (
	"math"
	"math/rand"

	"go.etcd.io/etcd/raft/raftpb"

	"rafthttptest/msgjson"
)

type rng struct{ *rand.Rand }

var edgeU64 = []uint64{
	0, 1, 2, 126, 127, 128, 255, 256, 16383, 16384, 1<<21 - 1, 1 << 21,
	1<<28 - 1, 1 << 28, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<35 - 1,
	1 << 35, 1<<42 - 1, 1 << 49, 1<<56 - 1, 1 << 56, 1<<63 - 1, 1 << 63,
	1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64,
}

var unknownMsgTypes = []raftpb.MessageType{24, 25, 100, 127, 128, 1000, -1, -2, -100,
	math.MaxInt32, math.MinInt32}

var unknownEntryTypes = []raftpb.EntryType{3, 4, 100, -1, math.MaxInt32, math.MinInt32}

var unknownCCTypes = []raftpb.ConfChangeType{4, 5, 100, -1, math.MaxInt32, math.MinInt32}

var unknownTransitions = []raftpb.ConfChangeTransition{3, 100, -1, math.MinInt32}

func (g *rng) chance(pct int) bool { return g.Intn(1000) < pct*10 }

// u64: a mix of zero, small, medium, huge and encoding-edge values.
func (g *rng) u64() uint64 {
	switch p := g.Intn(100); {
	case p < 25:
		return 0
	case p < 55:
		return uint64(g.Intn(1000))
	case p < 70:
		return uint64(g.Uint32())
	case p < 85:
		return g.Uint64()
	default:
		return edgeU64[g.Intn(len(edgeU64))]
	}
}

// id: a node ID (never huge on purpose more often than u64 gives).
func (g *rng) id() uint64 {
	if g.chance(70) {
		return uint64(1 + g.Intn(9))
	}
	return g.u64()
}

func (g *rng) randBytes(n int) []byte {
	b := make([]byte, n)
	g.Read(b)
	return b
}

// optBytes: absent (nil), present-but-empty, small, or a few KiB.
func (g *rng) optBytes(maxSmall int) []byte {
	switch p := g.Intn(100); {
	case p < 35:
		return nil
	case p < 50:
		return []byte{}
	case p < 99:
		return g.randBytes(1 + g.Intn(maxSmall))
	default:
		return g.randBytes(1 + g.Intn(3000))
	}
}

func (g *rng) msgType() raftpb.MessageType {
	switch p := g.Intn(100); {
	case p < 88:
		return raftpb.MessageType(g.Intn(19))
	case p < 96:
		return raftpb.MessageType(19 + g.Intn(5))
	default:
		return unknownMsgTypes[g.Intn(len(unknownMsgTypes))]
	}
}

func (g *rng) entryType() raftpb.EntryType {
	switch p := g.Intn(100); {
	case p < 82:
		return raftpb.EntryNormal
	case p < 90:
		return raftpb.EntryConfChange
	case p < 97:
		return raftpb.EntryConfChangeV2
	default:
		return unknownEntryTypes[g.Intn(len(unknownEntryTypes))]
	}
}

func (g *rng) entry() raftpb.Entry {
	return raftpb.Entry{Term: g.u64(), Index: g.u64(), Type: g.entryType(), Data: g.optBytes(64)}
}

// entries: nil (none) or 1..40 entries; a Go message never decodes to a
// non-nil empty slice, so none is always nil.
func (g *rng) entries() []raftpb.Entry {
	var n int
	switch p := g.Intn(100); {
	case p < 30:
		return nil
	case p < 80:
		n = 1 + g.Intn(3)
	case p < 95:
		n = 4 + g.Intn(7)
	default:
		n = 11 + g.Intn(30)
	}
	es := make([]raftpb.Entry, n)
	if g.chance(50) {
		// realistic: consecutive indexes, one term
		t, i := g.u64(), g.u64()
		for k := range es {
			es[k] = raftpb.Entry{Term: t, Index: i + uint64(k) + 1, Type: g.entryType(), Data: g.optBytes(64)}
		}
	} else {
		for k := range es {
			es[k] = g.entry()
		}
	}
	return es
}

func (g *rng) idList() []uint64 {
	if g.chance(45) {
		return nil
	}
	l := make([]uint64, 1+g.Intn(7))
	for k := range l {
		l[k] = g.id()
	}
	return l
}

func (g *rng) confState() raftpb.ConfState {
	return raftpb.ConfState{
		Voters:         g.idList(),
		Learners:       g.idList(),
		VotersOutgoing: g.idList(),
		LearnersNext:   g.idList(),
		AutoLeave:      g.chance(25),
	}
}

// snapshot: often the zero snapshot (as most messages carry).
func (g *rng) snapshot() raftpb.Snapshot {
	if g.chance(55) {
		return raftpb.Snapshot{}
	}
	return raftpb.Snapshot{
		Data: g.optBytes(256),
		Metadata: raftpb.SnapshotMetadata{
			ConfState: g.confState(),
			Index:     g.u64(),
			Term:      g.u64(),
		},
	}
}

// message: a random etcd 3.4 message of type t. It is never a link
// heartbeat (MsgHeartbeat with to = from = 0): those are made on purpose.
// With withExtra, about 5% carry the newer fields vote and/or responses.
func (g *rng) message(t raftpb.MessageType, withExtra bool) raftpb.Message {
	m := raftpb.Message{
		Type:       t,
		To:         g.id(),
		From:       g.id(),
		Term:       g.u64(),
		LogTerm:    g.u64(),
		Index:      g.u64(),
		Entries:    g.entries(),
		Commit:     g.u64(),
		Snapshot:   g.snapshot(),
		Reject:     g.chance(30),
		RejectHint: g.u64(),
		Context:    g.optBytes(32),
	}
	if g.chance(8) {
		m.To = 0
	}
	if g.chance(8) {
		m.From = 0
	}
	if m.Type == raftpb.MsgHeartbeat && m.To == 0 && m.From == 0 {
		m.From = 1
	}
	if withExtra && g.chance(5) {
		setExtra(&m, g.extra())
	}
	return m
}

func (g *rng) extra() msgjson.Extra {
	var e msgjson.Extra
	switch g.Intn(3) {
	case 0:
		e.HasVote, e.Vote = true, g.u64()
	case 1:
		e.Responses = g.responses()
	default:
		e.HasVote, e.Vote = true, g.u64()
		e.Responses = g.responses()
	}
	return e
}

// setExtra stores fields 13/14 (vote, responses) of newer raft in
// m.XXX_unrecognized; see tests/go/msgjson/extra.go.
func setExtra(m *raftpb.Message, e msgjson.Extra) {
	if err := msgjson.SetExtra(m, e); err != nil {
		panic(err)
	}
}

// responses: 1..3 small etcd 3.4 messages.
func (g *rng) responses() []raftpb.Message {
	rs := make([]raftpb.Message, 1+g.Intn(3))
	for k := range rs {
		r := raftpb.Message{
			Type: g.msgType(), To: g.id(), From: g.id(), Term: g.u64(),
			LogTerm: g.u64(), Index: g.u64(), Commit: g.u64(),
			Reject: g.chance(20), RejectHint: g.u64(), Context: g.optBytes(8),
		}
		if g.chance(30) {
			r.Entries = []raftpb.Entry{g.entry()}
		}
		if g.chance(20) {
			r.Snapshot = g.snapshot()
		}
		rs[k] = r
	}
	return rs
}

// entryOfSize: an entry whose marshalled Size() is exactly size.
func (g *rng) entryOfSize(size int, term, index uint64, t raftpb.EntryType) raftpb.Entry {
	e := raftpb.Entry{Term: term, Index: index, Type: t, Data: []byte{}}
	l := size - e.Size()
	for iter := 0; ; iter++ {
		e.Data = make([]byte, l)
		d := e.Size() - size
		if d == 0 {
			break
		}
		if iter > 10 {
			panic("entryOfSize: cannot hit size")
		}
		l -= d
	}
	g.Read(e.Data)
	return e
}
