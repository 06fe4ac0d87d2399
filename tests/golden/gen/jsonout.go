package main

// JSON printer producing exactly the text of docs/json.md.

import (
	"encoding/base64"
	"strconv"

	"go.etcd.io/etcd/raft/raftpb"
)

var msgTypeNames = map[raftpb.MessageType]string{
	0: "MsgHup", 1: "MsgBeat", 2: "MsgProp", 3: "MsgApp", 4: "MsgAppResp",
	5: "MsgVote", 6: "MsgVoteResp", 7: "MsgSnap", 8: "MsgHeartbeat",
	9: "MsgHeartbeatResp", 10: "MsgUnreachable", 11: "MsgSnapStatus",
	12: "MsgCheckQuorum", 13: "MsgTransferLeader", 14: "MsgTimeoutNow",
	15: "MsgReadIndex", 16: "MsgReadIndexResp", 17: "MsgPreVote",
	18: "MsgPreVoteResp", 19: "MsgStorageAppend", 20: "MsgStorageAppendResp",
	21: "MsgStorageApply", 22: "MsgStorageApplyResp", 23: "MsgForgetLeader",
}

var entryTypeNames = map[raftpb.EntryType]string{
	0: "EntryNormal", 1: "EntryConfChange", 2: "EntryConfChangeV2",
}

type jw struct{ b []byte }

func (w *jw) s(str string)  { w.b = append(w.b, str...) }
func (w *jw) u(v uint64)    { w.b = strconv.AppendUint(w.b, v, 10) }
func (w *jw) i(v int64)     { w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jw) bool(v bool)   { w.b = strconv.AppendBool(w.b, v) }
func (w *jw) str(v string)  { w.b = append(append(append(w.b, '"'), v...), '"') }
func (w *jw) nl()           { w.b = append(w.b, '\n') }
func (w *jw) bytes() []byte { return w.b }

func (w *jw) b64(p []byte) {
	n := base64.StdEncoding.EncodedLen(len(p))
	w.b = append(w.b, '"')
	start := len(w.b)
	w.b = append(w.b, make([]byte, n)...)
	base64.StdEncoding.Encode(w.b[start:], p)
	w.b = append(w.b, '"')
}

func (w *jw) u64list(v []uint64) {
	w.s("[")
	for i, x := range v {
		if i > 0 {
			w.s(",")
		}
		w.u(x)
	}
	w.s("]")
}

// confStateBody prints the keys of a ConfState, without braces.
func (w *jw) confStateBody(cs *raftpb.ConfState) {
	w.s(`"voters":`)
	w.u64list(cs.Voters)
	w.s(`,"learners":`)
	w.u64list(cs.Learners)
	w.s(`,"votersOutgoing":`)
	w.u64list(cs.VotersOutgoing)
	w.s(`,"learnersNext":`)
	w.u64list(cs.LearnersNext)
	w.s(`,"autoLeave":`)
	w.bool(cs.AutoLeave)
}

// snapshotBody prints the keys of a Snapshot, without braces.
func (w *jw) snapshotBody(s *raftpb.Snapshot) {
	if s.Data != nil {
		w.s(`"data":`)
		w.b64(s.Data)
		w.s(",")
	}
	w.s(`"metadata":{"index":`)
	w.u(s.Metadata.Index)
	w.s(`,"term":`)
	w.u(s.Metadata.Term)
	w.s(`,"confState":{`)
	w.confStateBody(&s.Metadata.ConfState)
	w.s("}}")
}

// entry prints a message's entry (type by name when known).
func (w *jw) entry(e *raftpb.Entry) {
	w.s(`{"term":`)
	w.u(e.Term)
	w.s(`,"index":`)
	w.u(e.Index)
	w.s(`,"type":`)
	if n, ok := entryTypeNames[e.Type]; ok {
		w.str(n)
	} else {
		w.i(int64(e.Type))
	}
	if e.Data != nil {
		w.s(`,"data":`)
		w.b64(e.Data)
	}
	w.s("}")
}

// msg prints one MSG object.
func (w *jw) msg(m *raftpb.Message) {
	ex, err := parseExtra(m.XXX_unrecognized)
	if err != nil {
		panic("printing message: " + err.Error())
	}
	w.s(`{"type":`)
	if n, ok := msgTypeNames[m.Type]; ok {
		w.str(n)
	} else {
		w.i(int64(m.Type))
	}
	w.s(`,"to":`)
	w.u(m.To)
	w.s(`,"from":`)
	w.u(m.From)
	w.s(`,"term":`)
	w.u(m.Term)
	w.s(`,"logTerm":`)
	w.u(m.LogTerm)
	w.s(`,"index":`)
	w.u(m.Index)
	w.s(`,"commit":`)
	w.u(m.Commit)
	w.s(`,"entries":[`)
	for i := range m.Entries {
		if i > 0 {
			w.s(",")
		}
		w.entry(&m.Entries[i])
	}
	w.s(`],"reject":`)
	w.bool(m.Reject)
	w.s(`,"rejectHint":`)
	w.u(m.RejectHint)
	if m.Context != nil {
		w.s(`,"context":`)
		w.b64(m.Context)
	}
	// etcd 3.4's Message always has (and always marshals) a Snapshot.
	w.s(`,"snapshot":{`)
	w.snapshotBody(&m.Snapshot)
	w.s("}")
	if ex.hasVote {
		w.s(`,"vote":`)
		w.u(ex.vote)
	}
	if len(ex.responses) > 0 {
		w.s(`,"responses":[`)
		for i := range ex.responses {
			if i > 0 {
				w.s(",")
			}
			w.msg(&ex.responses[i])
		}
		w.s("]")
	}
	w.s("}")
}

// recvLine prints one line of `rafthttp decode` output for a decoded message.
func (w *jw) recvLine(via string, m *raftpb.Message, linkHeartbeat bool) {
	if linkHeartbeat {
		w.s(`{"event":"linkHeartbeat"}`)
	} else {
		w.s(`{"event":"recv","via":"`)
		w.s(via)
		w.s(`","msg":`)
		w.msg(m)
		w.s("}")
	}
	w.nl()
}

// other prints one other.jsonl line.
func (w *jw) other(v interface{}) {
	switch x := v.(type) {
	case *raftpb.Entry:
		w.s(`{"kind":"Entry","term":`)
		w.u(x.Term)
		w.s(`,"index":`)
		w.u(x.Index)
		w.s(`,"type":`)
		w.i(int64(x.Type))
		if x.Data != nil {
			w.s(`,"data":`)
			w.b64(x.Data)
		}
		w.s("}")
	case *raftpb.Snapshot:
		w.s(`{"kind":"Snapshot",`)
		w.snapshotBody(x)
		w.s("}")
	case *raftpb.ConfState:
		w.s(`{"kind":"ConfState",`)
		w.confStateBody(x)
		w.s("}")
	case *raftpb.HardState:
		w.s(`{"kind":"HardState","term":`)
		w.u(x.Term)
		w.s(`,"vote":`)
		w.u(x.Vote)
		w.s(`,"commit":`)
		w.u(x.Commit)
		w.s("}")
	case *raftpb.ConfChange:
		w.s(`{"kind":"ConfChange","id":`)
		w.u(x.ID)
		w.s(`,"type":`)
		w.i(int64(x.Type))
		w.s(`,"nodeId":`)
		w.u(x.NodeID)
		if x.Context != nil {
			w.s(`,"context":`)
			w.b64(x.Context)
		}
		w.s("}")
	case *raftpb.ConfChangeSingle:
		w.s(`{"kind":"ConfChangeSingle","type":`)
		w.i(int64(x.Type))
		w.s(`,"nodeId":`)
		w.u(x.NodeID)
		w.s("}")
	case *raftpb.ConfChangeV2:
		w.s(`{"kind":"ConfChangeV2","transition":`)
		w.i(int64(x.Transition))
		w.s(`,"changes":[`)
		for i := range x.Changes {
			if i > 0 {
				w.s(",")
			}
			w.s(`{"type":`)
			w.i(int64(x.Changes[i].Type))
			w.s(`,"nodeId":`)
			w.u(x.Changes[i].NodeID)
			w.s("}")
		}
		w.s("]")
		if x.Context != nil {
			w.s(`,"context":`)
			w.b64(x.Context)
		}
		w.s("}")
	default:
		panic("other: unexpected type")
	}
	w.nl()
}
