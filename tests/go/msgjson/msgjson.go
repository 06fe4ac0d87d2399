// SPDX-License-Identifier: Apache-2.0

// Package msgjson prints etcd 3.4 raft messages as the JSON of docs/json.md,
// byte for byte. It is shared by the two Go test programs that must print
// exactly what the C code prints:
//
//   - tests/golden/gen (the golden generator, built by tests/golden/golden.sh);
//   - tests/interop/gopeer (the Go interop peer, built by its build.sh).
//
// Both build in GOPATH mode; their build scripts link this directory into
// BUILD_DIR/gopath/src/rafthttptest/msgjson, so the import path is
// "rafthttptest/msgjson". The package needs only the standard library and
// etcd 3.4's raftpb.
//
// It owns:
//
//   - Writer, an append-only byte buffer with the JSON value writers both
//     programs use (numbers, booleans, escaped strings, base64, uint64 lists);
//   - the MSG printer (Writer.Msg) and its parts (Entry, SnapshotBody,
//     ConfStateBody, MsgType), with the type name tables MsgTypeNames and
//     EntryTypeNames;
//   - fields 13 "vote" and 14 "responses" of newer raft, which etcd 3.4 keeps
//     in Message.XXX_unrecognized (extra.go: Extra, SetExtra, ParseExtra).
//
// What only one program prints stays in that program: the golden "recv" lines
// and other.jsonl records (tests/golden/gen/jsonout.go), gopeer's event lines
// and its loose JSON input parser (tests/interop/gopeer/jsonmsg.go, main.go).
package msgjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"go.etcd.io/etcd/raft/raftpb"
)

// MsgTypeNames are the names MSG uses for "type" (raft's, up to
// MsgForgetLeader); other values print as numbers.
var MsgTypeNames = map[raftpb.MessageType]string{
	0: "MsgHup", 1: "MsgBeat", 2: "MsgProp", 3: "MsgApp", 4: "MsgAppResp",
	5: "MsgVote", 6: "MsgVoteResp", 7: "MsgSnap", 8: "MsgHeartbeat",
	9: "MsgHeartbeatResp", 10: "MsgUnreachable", 11: "MsgSnapStatus",
	12: "MsgCheckQuorum", 13: "MsgTransferLeader", 14: "MsgTimeoutNow",
	15: "MsgReadIndex", 16: "MsgReadIndexResp", 17: "MsgPreVote",
	18: "MsgPreVoteResp", 19: "MsgStorageAppend", 20: "MsgStorageAppendResp",
	21: "MsgStorageApply", 22: "MsgStorageApplyResp", 23: "MsgForgetLeader",
}

// EntryTypeNames are the names MSG uses for an entry's "type"; other values
// print as numbers.
var EntryTypeNames = map[raftpb.EntryType]string{
	0: "EntryNormal", 1: "EntryConfChange", 2: "EntryConfChangeV2",
}

// Writer appends JSON text to B. The zero value is ready to use.
type Writer struct{ B []byte }

// S appends raw text.
func (w *Writer) S(str string) { w.B = append(w.B, str...) }

// U appends an unsigned decimal number.
func (w *Writer) U(v uint64) { w.B = strconv.AppendUint(w.B, v, 10) }

// I appends a signed decimal number.
func (w *Writer) I(v int64) { w.B = strconv.AppendInt(w.B, v, 10) }

// Bool appends true or false.
func (w *Writer) Bool(v bool) { w.B = strconv.AppendBool(w.B, v) }

// NL appends a newline.
func (w *Writer) NL() { w.B = append(w.B, '\n') }

// Str appends v as a JSON string, escaped as encoding/json does with HTML
// escaping off. Printable ASCII without '"' and '\\' (all the type names)
// is copied as it is, which is what encoding/json writes for it too.
func (w *Writer) Str(v string) {
	plain := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		w.B = append(append(append(w.B, '"'), v...), '"')
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.B = append(w.B, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// B64 appends p as a standard base64 JSON string.
func (w *Writer) B64(p []byte) {
	n := base64.StdEncoding.EncodedLen(len(p))
	w.B = append(w.B, '"')
	start := len(w.B)
	w.B = append(w.B, make([]byte, n)...)
	base64.StdEncoding.Encode(w.B[start:], p)
	w.B = append(w.B, '"')
}

// U64List appends a JSON array of unsigned numbers ([] for none).
func (w *Writer) U64List(v []uint64) {
	w.S("[")
	for i, x := range v {
		if i > 0 {
			w.S(",")
		}
		w.U(x)
	}
	w.S("]")
}

// ConfStateBody appends the keys of a ConfState, without braces.
func (w *Writer) ConfStateBody(cs *raftpb.ConfState) {
	w.S(`"voters":`)
	w.U64List(cs.Voters)
	w.S(`,"learners":`)
	w.U64List(cs.Learners)
	w.S(`,"votersOutgoing":`)
	w.U64List(cs.VotersOutgoing)
	w.S(`,"learnersNext":`)
	w.U64List(cs.LearnersNext)
	w.S(`,"autoLeave":`)
	w.Bool(cs.AutoLeave)
}

// SnapshotBody appends the keys of a Snapshot, without braces.
func (w *Writer) SnapshotBody(s *raftpb.Snapshot) {
	if s.Data != nil {
		w.S(`"data":`)
		w.B64(s.Data)
		w.S(",")
	}
	w.S(`"metadata":{"index":`)
	w.U(s.Metadata.Index)
	w.S(`,"term":`)
	w.U(s.Metadata.Term)
	w.S(`,"confState":{`)
	w.ConfStateBody(&s.Metadata.ConfState)
	w.S("}}")
}

// Entry appends a message's entry (type by name when known).
func (w *Writer) Entry(e *raftpb.Entry) {
	w.S(`{"term":`)
	w.U(e.Term)
	w.S(`,"index":`)
	w.U(e.Index)
	w.S(`,"type":`)
	if n, ok := EntryTypeNames[e.Type]; ok {
		w.Str(n)
	} else {
		w.I(int64(e.Type))
	}
	if e.Data != nil {
		w.S(`,"data":`)
		w.B64(e.Data)
	}
	w.S("}")
}

// MsgType appends a message type by name when known, else as a number.
func (w *Writer) MsgType(t raftpb.MessageType) {
	if n, ok := MsgTypeNames[t]; ok {
		w.Str(n)
	} else {
		w.I(int64(t))
	}
}

// Msg appends one MSG object (docs/json.md), "vote" and "responses"
// included. If the XXX_unrecognized bytes of m (or of a message among its
// responses) do not parse, that message is printed without "vote" and
// "responses" and Msg returns the first such error; the caller decides
// whether that is fatal (the golden generator) or not (gopeer).
func (w *Writer) Msg(m *raftpb.Message) error {
	ex, err := ParseExtra(m.XXX_unrecognized)
	w.S(`{"type":`)
	w.MsgType(m.Type)
	w.S(`,"to":`)
	w.U(m.To)
	w.S(`,"from":`)
	w.U(m.From)
	w.S(`,"term":`)
	w.U(m.Term)
	w.S(`,"logTerm":`)
	w.U(m.LogTerm)
	w.S(`,"index":`)
	w.U(m.Index)
	w.S(`,"commit":`)
	w.U(m.Commit)
	w.S(`,"entries":[`)
	for i := range m.Entries {
		if i > 0 {
			w.S(",")
		}
		w.Entry(&m.Entries[i])
	}
	w.S(`],"reject":`)
	w.Bool(m.Reject)
	w.S(`,"rejectHint":`)
	w.U(m.RejectHint)
	if m.Context != nil {
		w.S(`,"context":`)
		w.B64(m.Context)
	}
	// etcd 3.4's Message always has (and always marshals) a Snapshot.
	w.S(`,"snapshot":{`)
	w.SnapshotBody(&m.Snapshot)
	w.S("}")
	if err == nil {
		if ex.HasVote {
			w.S(`,"vote":`)
			w.U(ex.Vote)
		}
		if len(ex.Responses) > 0 {
			w.S(`,"responses":[`)
			for i := range ex.Responses {
				if i > 0 {
					w.S(",")
				}
				if rerr := w.Msg(&ex.Responses[i]); rerr != nil && err == nil {
					err = rerr
				}
			}
			w.S("]")
		}
	}
	w.S("}")
	return err
}
