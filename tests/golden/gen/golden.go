// SPDX-License-Identifier: Apache-2.0

package main

// Building the golden set (all files, in memory) from a seed.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand"
	"reflect"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/raft/raftpb"

	"rafthttptest/msgjson"
)

type pb interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
	Size() int
}

type otherRec struct {
	kind byte
	v    pb
}

var otherKindNames = map[byte]string{
	1: "Entry", 2: "Snapshot", 3: "ConfState", 4: "HardState",
	5: "ConfChange", 6: "ConfChangeSingle", 7: "ConfChangeV2",
}

func newOfKind(kind byte) pb {
	switch kind {
	case 1:
		return &raftpb.Entry{}
	case 2:
		return &raftpb.Snapshot{}
	case 3:
		return &raftpb.ConfState{}
	case 4:
		return &raftpb.HardState{}
	case 5:
		return &raftpb.ConfChange{}
	case 6:
		return &raftpb.ConfChangeSingle{}
	case 7:
		return &raftpb.ConfChangeV2{}
	}
	return nil
}

type namedFile struct {
	name string
	data []byte
}

type goldenSet struct {
	seed          int64
	n             int
	local, remote uint64
	msgs          []raftpb.Message // message.stream, as Go's decoder returns them
	appIn         []raftpb.Message // handed to the msgAppV2 encoder
	appFrames     []byte           // frame type byte the encoder used for each
	appOut        []raftpb.Message // what the msgAppV2 decoder returns
	others        []otherRec
	files         []namedFile
}

func (s *goldenSet) add(name string, data []byte) {
	s.files = append(s.files, namedFile{name, data})
}

func isLinkHeartbeat(m *raftpb.Message) bool {
	return rafthttp.GoldenIsLinkHeartbeatMessage(m)
}

// checkRoundTrip makes sure Go decodes what it encodes to an identical
// value, so "the generated value" and "what Go decodes" are the same thing.
func checkRoundTrip(what string, v pb, fresh pb) {
	data, err := v.Marshal()
	if err != nil {
		panic(fmt.Sprintf("%s: marshal: %v", what, err))
	}
	if err := fresh.Unmarshal(data); err != nil {
		panic(fmt.Sprintf("%s: unmarshal: %v", what, err))
	}
	if !reflect.DeepEqual(v, fresh) {
		panic(fmt.Sprintf("%s: Go round trip differs: %s", what, diff(v, fresh)))
	}
}

func produce(seed int64, n int) *goldenSet {
	g := &rng{rand.New(rand.NewSource(seed))}
	s := &goldenSet{seed: seed, n: n}
	s.local = g.Uint64() | 1<<63     // >= 2^63: must print unsigned
	s.remote = (g.Uint64() >> 8) | 1 // nonzero, < 2^63
	s.msgs = genMessages(g, n)
	nApp := n / 2
	if nApp < 20 {
		nApp = 20
	}
	s.appIn = genMsgAppV2(g, nApp, s.local, s.remote)
	nOther := n / 5
	if nOther < 7 {
		nOther = 7
	}
	s.others = genOthers(g, nOther)

	// message stream
	var buf bytes.Buffer
	enc := rafthttp.GoldenNewMessageEncoder(&buf)
	for i := range s.msgs {
		checkRoundTrip(fmt.Sprintf("message %d", i), &s.msgs[i], &raftpb.Message{})
		if err := enc(&s.msgs[i]); err != nil {
			panic(err)
		}
	}
	stream := buf.Bytes()
	var w jw
	dec := rafthttp.GoldenNewMessageDecoder(bytes.NewReader(stream))
	for i := range s.msgs {
		m, err := dec()
		if err != nil {
			panic(fmt.Sprintf("decoding our own message.stream at %d: %v", i, err))
		}
		if !reflect.DeepEqual(&m, &s.msgs[i]) {
			panic(fmt.Sprintf("message %d: decoded differs: %s", i, diff(&s.msgs[i], &m)))
		}
		w.recvLine("streamMsg", &m, isLinkHeartbeat(&m))
	}
	if _, err := dec(); err != io.EOF {
		panic(fmt.Sprintf("message.stream: expected EOF, got %v", err))
	}
	s.add("message.stream", stream)
	s.add("message.jsonl", w.B)

	// msgappv2 stream
	w = jw{}
	for i := range s.appIn {
		w.msg(&s.appIn[i])
		w.NL()
	}
	s.add("msgappv2.in.jsonl", w.B)
	var abuf bytes.Buffer
	aenc := rafthttp.GoldenNewMsgAppV2Encoder(&abuf)
	var st v2state
	s.appFrames = make([]byte, len(s.appIn))
	for i := range s.appIn {
		m := &s.appIn[i]
		want := st.frame(m)
		before := abuf.Len()
		if err := aenc(m); err != nil {
			panic(err)
		}
		if got := abuf.Bytes()[before]; got != want {
			panic(fmt.Sprintf("msgappv2 %d: encoder used frame type %d, our model %d", i, got, want))
		}
		st.apply(m, want)
		s.appFrames[i] = want
	}
	astream := abuf.Bytes()
	s.add("msgappv2.stream", astream)
	s.appOut = decodeAllMsgAppV2(astream, s.local, s.remote, len(s.appIn))
	w = jw{}
	for i := range s.appOut {
		m := &s.appOut[i]
		switch s.appFrames[i] {
		case 0:
			if !isLinkHeartbeat(m) {
				panic(fmt.Sprintf("msgappv2 %d: type 0 frame did not decode to a link heartbeat", i))
			}
		case 1:
			if m.Type != raftpb.MsgApp || m.From != s.remote || m.To != s.local {
				panic(fmt.Sprintf("msgappv2 %d: odd AppEntries decode", i))
			}
		case 2:
			if !reflect.DeepEqual(m, &s.appIn[i]) {
				panic(fmt.Sprintf("msgappv2 %d: type 2 frame decoded differently: %s", i, diff(&s.appIn[i], m)))
			}
		}
		w.recvLine("streamMsgAppV2", m, s.appFrames[i] == 0)
	}
	s.add("msgappv2.jsonl", w.B)

	// other records
	var obuf []byte
	w = jw{}
	for i, r := range s.others {
		checkRoundTrip(fmt.Sprintf("other %d (%s)", i, otherKindNames[r.kind]), r.v, newOfKind(r.kind))
		data, err := r.v.Marshal()
		if err != nil {
			panic(err)
		}
		obuf = append(obuf, r.kind)
		obuf = binary.BigEndian.AppendUint64(obuf, uint64(len(data)))
		obuf = append(obuf, data...)
		w.other(r.v)
	}
	s.add("other.bin", obuf)
	s.add("other.jsonl", w.B)

	s.add("meta.json", []byte(fmt.Sprintf(`{"seed":%d,"messages":%d,"local":%d,"remote":%d}`+"\n",
		seed, len(s.msgs), s.local, s.remote)))
	return s
}

func decodeAllMsgAppV2(stream []byte, local, remote uint64, n int) []raftpb.Message {
	dec := rafthttp.GoldenNewMsgAppV2Decoder(bytes.NewReader(stream), local, remote)
	out := make([]raftpb.Message, n)
	for i := range out {
		m, err := dec()
		if err != nil {
			panic(fmt.Sprintf("decoding our own msgappv2.stream at %d: %v", i, err))
		}
		out[i] = m
	}
	if _, err := dec(); err != io.EOF {
		panic(fmt.Sprintf("msgappv2.stream: expected EOF, got %v", err))
	}
	return out
}

func linkHeartbeat() raftpb.Message { return raftpb.Message{Type: raftpb.MsgHeartbeat} }

// maxMessage: every field at its largest, plus vote and responses.
func maxMessage(g *rng) raftpb.Message {
	const M = math.MaxUint64
	big := []uint64{M, M - 1, 1 << 63}
	m := raftpb.Message{
		Type: raftpb.MsgApp, To: M, From: M, Term: M, LogTerm: M, Index: M,
		Entries: []raftpb.Entry{
			{Term: M, Index: M, Type: raftpb.EntryConfChangeV2, Data: g.randBytes(300)},
			{Term: M, Index: M, Type: math.MinInt32, Data: []byte{}},
		},
		Commit: M,
		Snapshot: raftpb.Snapshot{
			Data: g.randBytes(200),
			Metadata: raftpb.SnapshotMetadata{
				ConfState: raftpb.ConfState{Voters: big, Learners: big, VotersOutgoing: big,
					LearnersNext: big, AutoLeave: true},
				Index: M, Term: M,
			},
		},
		Reject: true, RejectHint: M, Context: g.randBytes(130),
	}
	setExtra(&m, msgjson.Extra{HasVote: true, Vote: M, Responses: g.responses()})
	return m
}

func largeMessage(g *rng, k int) raftpb.Message {
	m := g.message(raftpb.MsgApp, false)
	m.Snapshot = raftpb.Snapshot{}
	switch k {
	case 1: // entry just below msgAppV2BufSize
		m.Entries = []raftpb.Entry{g.entryOfSize(rafthttp.GoldenMsgAppV2BufSize-1, 5, 100, raftpb.EntryNormal)}
	case 2: // entry of exactly msgAppV2BufSize between small ones
		m.Entries = []raftpb.Entry{
			{Term: 5, Index: 101, Data: g.randBytes(10)},
			g.entryOfSize(rafthttp.GoldenMsgAppV2BufSize, 5, 102, raftpb.EntryNormal),
			{Term: 5, Index: 103, Type: raftpb.EntryConfChange, Data: g.randBytes(20)},
		}
	case 3: // large snapshot
		m.Type = raftpb.MsgSnap
		m.Entries = nil
		m.Snapshot = raftpb.Snapshot{
			Data: g.randBytes(1050 * 1024),
			Metadata: raftpb.SnapshotMetadata{
				ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4},
					VotersOutgoing: []uint64{1, 2, 5}, LearnersNext: []uint64{5}, AutoLeave: true},
				Index: 1 << 40, Term: 77,
			},
		}
	case 4: // large proposal
		m.Type = raftpb.MsgProp
		m.Entries = []raftpb.Entry{{Data: g.randBytes(1100 * 1024)}}
		m.Context = g.randBytes(1000)
	}
	return m
}

func genMessages(g *rng, n int) []raftpb.Message {
	msgs := make([]raftpb.Message, 0, n)
	large := map[int]int{}
	if n >= 1000 {
		for k := 1; k <= 4; k++ {
			large[n/5*k+7] = k
		}
	}
	for i := 0; i < n; i++ {
		var m raftpb.Message
		switch {
		case i == 0:
			m = raftpb.Message{} // MsgHup, everything zero
		case i == 1:
			m = maxMessage(g)
		case i == 2:
			m = raftpb.Message{Type: math.MinInt32}
		case i >= 3 && i < 3+24: // every known type 0..23
			m = g.message(raftpb.MessageType(i-3), false)
		case i >= 27 && i < 27+len(unknownMsgTypes):
			m = g.message(unknownMsgTypes[i-27], false)
		case i == 40 || i == n-1:
			m = linkHeartbeat()
		case i == 41: // vote 0 only
			m = g.message(raftpb.MsgVote, false)
			setExtra(&m, msgjson.Extra{HasVote: true})
		case i == 42: // responses only
			m = g.message(raftpb.MsgAppResp, false)
			setExtra(&m, msgjson.Extra{Responses: g.responses()})
		case large[i] != 0:
			m = largeMessage(g, large[i])
		case g.chance(1):
			m = linkHeartbeat()
		default:
			m = g.message(g.msgType(), true)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func genOthers(g *rng, n int) []otherRec {
	ccType := func() raftpb.ConfChangeType {
		if g.chance(90) {
			return raftpb.ConfChangeType(g.Intn(4))
		}
		return unknownCCTypes[g.Intn(len(unknownCCTypes))]
	}
	out := make([]otherRec, n)
	for i := range out {
		kind := byte(1 + g.Intn(7))
		if i < 7 {
			kind = byte(i + 1)
		}
		var v pb
		switch kind {
		case 1:
			e := g.entry()
			v = &e
		case 2:
			s := g.snapshot()
			v = &s
		case 3:
			c := g.confState()
			v = &c
		case 4:
			v = &raftpb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
		case 5:
			v = &raftpb.ConfChange{ID: g.u64(), Type: ccType(), NodeID: g.id(), Context: g.optBytes(32)}
		case 6:
			v = &raftpb.ConfChangeSingle{Type: ccType(), NodeID: g.id()}
		case 7:
			cc := &raftpb.ConfChangeV2{Context: g.optBytes(32)}
			if g.chance(90) {
				cc.Transition = raftpb.ConfChangeTransition(g.Intn(3))
			} else {
				cc.Transition = unknownTransitions[g.Intn(len(unknownTransitions))]
			}
			if !g.chance(25) {
				cc.Changes = make([]raftpb.ConfChangeSingle, 1+g.Intn(6))
				for k := range cc.Changes {
					cc.Changes[k] = raftpb.ConfChangeSingle{Type: ccType(), NodeID: g.id()}
				}
			}
			v = cc
		}
		out[i] = otherRec{kind, v}
	}
	return out
}
