// SPDX-License-Identifier: Apache-2.0

package main

// The golden files' JSON (docs/json.md). MSG objects and their parts are
// printed by the shared package rafthttptest/msgjson (tests/go/msgjson, also
// used by tests/interop/gopeer); what only the golden files have is here:
// `rafthttp decode` recv lines and other.jsonl records.

import (
	"go.etcd.io/etcd/raft/raftpb"

	"rafthttptest/msgjson"
)

type jw struct{ msgjson.Writer }

// msg prints one MSG object; fields 13/14 that do not parse are a bug here.
func (w *jw) msg(m *raftpb.Message) {
	if err := w.Msg(m); err != nil {
		panic("printing message: " + err.Error())
	}
}

// recvLine prints one line of `rafthttp decode` output for a decoded message.
func (w *jw) recvLine(via string, m *raftpb.Message, linkHeartbeat bool) {
	if linkHeartbeat {
		w.S(`{"event":"linkHeartbeat"}`)
	} else {
		w.S(`{"event":"recv","via":"`)
		w.S(via)
		w.S(`","msg":`)
		w.msg(m)
		w.S("}")
	}
	w.NL()
}

// other prints one other.jsonl line.
func (w *jw) other(v interface{}) {
	switch x := v.(type) {
	case *raftpb.Entry:
		w.S(`{"kind":"Entry","term":`)
		w.U(x.Term)
		w.S(`,"index":`)
		w.U(x.Index)
		w.S(`,"type":`)
		w.I(int64(x.Type))
		if x.Data != nil {
			w.S(`,"data":`)
			w.B64(x.Data)
		}
		w.S("}")
	case *raftpb.Snapshot:
		w.S(`{"kind":"Snapshot",`)
		w.SnapshotBody(x)
		w.S("}")
	case *raftpb.ConfState:
		w.S(`{"kind":"ConfState",`)
		w.ConfStateBody(x)
		w.S("}")
	case *raftpb.HardState:
		w.S(`{"kind":"HardState","term":`)
		w.U(x.Term)
		w.S(`,"vote":`)
		w.U(x.Vote)
		w.S(`,"commit":`)
		w.U(x.Commit)
		w.S("}")
	case *raftpb.ConfChange:
		w.S(`{"kind":"ConfChange","id":`)
		w.U(x.ID)
		w.S(`,"type":`)
		w.I(int64(x.Type))
		w.S(`,"nodeId":`)
		w.U(x.NodeID)
		if x.Context != nil {
			w.S(`,"context":`)
			w.B64(x.Context)
		}
		w.S("}")
	case *raftpb.ConfChangeSingle:
		w.S(`{"kind":"ConfChangeSingle","type":`)
		w.I(int64(x.Type))
		w.S(`,"nodeId":`)
		w.U(x.NodeID)
		w.S("}")
	case *raftpb.ConfChangeV2:
		w.S(`{"kind":"ConfChangeV2","transition":`)
		w.I(int64(x.Transition))
		w.S(`,"changes":[`)
		for i := range x.Changes {
			if i > 0 {
				w.S(",")
			}
			w.S(`{"type":`)
			w.I(int64(x.Changes[i].Type))
			w.S(`,"nodeId":`)
			w.U(x.Changes[i].NodeID)
			w.S("}")
		}
		w.S("]")
		if x.Context != nil {
			w.S(`,"context":`)
			w.B64(x.Context)
		}
		w.S("}")
	default:
		panic("other: unexpected type")
	}
	w.NL()
}
