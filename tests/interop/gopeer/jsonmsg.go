package main

// MSG printing exactly as docs/json.md (the same printer as the golden
// generator in tests/golden/gen/jsonout.go, copied so this program stays
// self-contained), and the loose MSG/command parser of docs/json.md
// ("Input accepted by rafthttp encode (and rafthttp node)").

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

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

var msgTypeByName, entryTypeByName = func() (map[string]int32, map[string]int32) {
	a := map[string]int32{}
	for k, v := range msgTypeNames {
		a[v] = int32(k)
	}
	b := map[string]int32{}
	for k, v := range entryTypeNames {
		b[v] = int32(k)
	}
	return a, b
}()

// ---------------------------------------------------------------- printing

type jw struct{ b []byte }

func (w *jw) s(str string) { w.b = append(w.b, str...) }
func (w *jw) u(v uint64)   { w.b = strconv.AppendUint(w.b, v, 10) }
func (w *jw) i(v int64)    { w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jw) bool(v bool)  { w.b = strconv.AppendBool(w.b, v) }

// str writes any string as a JSON string (escaped).
func (w *jw) str(v string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.b = append(w.b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

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

// msgType writes a message type by name when known, else as a number.
func (w *jw) msgType(t raftpb.MessageType) {
	if n, ok := msgTypeNames[t]; ok {
		w.str(n)
	} else {
		w.i(int64(t))
	}
}

// msg prints one MSG object (docs/json.md).
func (w *jw) msg(m *raftpb.Message) {
	ex, exErr := parseExtra(m.XXX_unrecognized)
	w.s(`{"type":`)
	w.msgType(m.Type)
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
	if exErr == nil {
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
	}
	w.s("}")
}

// --------------------------------------------- fields of newer raft (13, 14)

type extra struct {
	hasVote   bool
	vote      uint64
	responses []raftpb.Message
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// setExtra stores e as wire bytes in m.XXX_unrecognized (nil if e is empty);
// Go marshals them after field 12, i.e. in field order.
func setExtra(m *raftpb.Message, e extra) error {
	var b []byte
	if e.hasVote {
		b = append(b, 0x68) // field 13, varint
		b = appendVarint(b, e.vote)
	}
	for i := range e.responses {
		data, err := e.responses[i].Marshal()
		if err != nil {
			return err
		}
		b = append(b, 0x72) // field 14, length-delimited
		b = appendVarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	m.XXX_unrecognized = b
	return nil
}

func readVarint(b []byte, pos int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if pos >= len(b) {
			return 0, pos, fmt.Errorf("truncated varint")
		}
		c := b[pos]
		pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, pos, nil
		}
	}
	return 0, pos, fmt.Errorf("varint overflow")
}

func parseExtra(b []byte) (extra, error) {
	var e extra
	pos := 0
	for pos < len(b) {
		tag, p, err := readVarint(b, pos)
		if err != nil {
			return e, err
		}
		pos = p
		switch tag {
		case 13<<3 | 0:
			v, p, err := readVarint(b, pos)
			if err != nil {
				return e, err
			}
			pos = p
			e.hasVote, e.vote = true, v
		case 14<<3 | 2:
			l, p, err := readVarint(b, pos)
			if err != nil {
				return e, err
			}
			pos = p
			if l > uint64(len(b)-pos) {
				return e, fmt.Errorf("truncated responses[%d]", len(e.responses))
			}
			var r raftpb.Message
			if err := r.Unmarshal(b[pos : pos+int(l)]); err != nil {
				return e, fmt.Errorf("responses[%d]: %v", len(e.responses), err)
			}
			pos += int(l)
			e.responses = append(e.responses, r)
		default:
			return e, fmt.Errorf("unexpected unknown field tag %#x in Message", tag)
		}
	}
	return e, nil
}

// ------------------------------------------------------------------ parsing

type obj = map[string]interface{}

// decodeLine parses one input line into a JSON object (numbers kept exact).
func decodeLine(line []byte) (obj, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: trailing data after the object")
	}
	o, ok := v.(obj)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object")
	}
	return o, nil
}

func parseU64(v interface{}, key string, hexOK bool) (uint64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		n, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not an integer in 0..2^64-1", key, string(x))
		}
		return n, nil
	case string:
		if hexOK {
			n, err := strconv.ParseUint(x, 16, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q is not a hex ID", key, x)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: expected an integer", key)
}

func getU64(o obj, key string, hexOK bool) (uint64, error) {
	return parseU64(o[key], key, hexOK)
}

func getBool(o obj, key string) (bool, error) {
	switch x := o[key].(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	return false, fmt.Errorf("%s: expected true or false", key)
}

// getBytes: "", null and absent are all nil; else standard base64.
func getBytes(o obj, key string) ([]byte, error) {
	switch x := o[key].(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid base64: %v", key, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: expected a base64 string", key)
}

func getObj(o obj, key string) (obj, error) {
	switch x := o[key].(type) {
	case nil:
		return nil, nil
	case obj:
		return x, nil
	}
	return nil, fmt.Errorf("%s: expected an object", key)
}

func getList(o obj, key string) ([]interface{}, error) {
	switch x := o[key].(type) {
	case nil:
		return nil, nil
	case []interface{}:
		return x, nil
	}
	return nil, fmt.Errorf("%s: expected an array", key)
}

func getU64List(o obj, key string) ([]uint64, error) {
	l, err := getList(o, key)
	if err != nil || l == nil {
		return nil, err
	}
	out := make([]uint64, 0, len(l))
	for i, v := range l {
		n, err := parseU64(v, fmt.Sprintf("%s[%d]", key, i), false)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, nil // Go's unmarshal gives nil for an empty repeated field
	}
	return out, nil
}

// getEnum: a name from names, or an int32 number.
func getEnum(o obj, key string, names map[string]int32) (int32, error) {
	switch x := o[key].(type) {
	case nil:
		return 0, nil
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not an int32", key, string(x))
		}
		return int32(n), nil
	case string:
		if n, ok := names[x]; ok {
			return n, nil
		}
		if n, err := strconv.ParseInt(x, 10, 32); err == nil {
			return int32(n), nil
		}
		return 0, fmt.Errorf("%s: unknown name %q", key, x)
	}
	return 0, fmt.Errorf("%s: expected a name or a number", key)
}

// parseMsg reads a MSG object loosely (docs/json.md): keys in any order,
// missing keys zero, to/from/vote also as hex strings, types as names or
// numbers, ""/null/absent bytes fields nil, extra keys ignored.
func parseMsg(o obj) (raftpb.Message, error) {
	var m raftpb.Message
	var err error
	t, err := getEnum(o, "type", msgTypeByName)
	if err != nil {
		return m, err
	}
	m.Type = raftpb.MessageType(t)
	if m.To, err = getU64(o, "to", true); err != nil {
		return m, err
	}
	if m.From, err = getU64(o, "from", true); err != nil {
		return m, err
	}
	for _, f := range []struct {
		k string
		p *uint64
	}{{"term", &m.Term}, {"logTerm", &m.LogTerm}, {"index", &m.Index}, {"commit", &m.Commit}, {"rejectHint", &m.RejectHint}} {
		if *f.p, err = getU64(o, f.k, false); err != nil {
			return m, err
		}
	}
	if m.Reject, err = getBool(o, "reject"); err != nil {
		return m, err
	}
	if m.Context, err = getBytes(o, "context"); err != nil {
		return m, err
	}
	ents, err := getList(o, "entries")
	if err != nil {
		return m, err
	}
	for i, ev := range ents {
		eo, ok := ev.(obj)
		if !ok {
			return m, fmt.Errorf("entries[%d]: expected an object", i)
		}
		var e raftpb.Entry
		if e.Term, err = getU64(eo, "term", false); err != nil {
			return m, fmt.Errorf("entries[%d].%v", i, err)
		}
		if e.Index, err = getU64(eo, "index", false); err != nil {
			return m, fmt.Errorf("entries[%d].%v", i, err)
		}
		et, err := getEnum(eo, "type", entryTypeByName)
		if err != nil {
			return m, fmt.Errorf("entries[%d].%v", i, err)
		}
		e.Type = raftpb.EntryType(et)
		if e.Data, err = getBytes(eo, "data"); err != nil {
			return m, fmt.Errorf("entries[%d].%v", i, err)
		}
		m.Entries = append(m.Entries, e)
	}
	so, err := getObj(o, "snapshot")
	if err != nil {
		return m, err
	}
	if so != nil {
		if m.Snapshot.Data, err = getBytes(so, "data"); err != nil {
			return m, fmt.Errorf("snapshot.%v", err)
		}
		md, err := getObj(so, "metadata")
		if err != nil {
			return m, fmt.Errorf("snapshot.%v", err)
		}
		if md != nil {
			if m.Snapshot.Metadata.Index, err = getU64(md, "index", false); err != nil {
				return m, fmt.Errorf("snapshot.metadata.%v", err)
			}
			if m.Snapshot.Metadata.Term, err = getU64(md, "term", false); err != nil {
				return m, fmt.Errorf("snapshot.metadata.%v", err)
			}
			cs, err := getObj(md, "confState")
			if err != nil {
				return m, fmt.Errorf("snapshot.metadata.%v", err)
			}
			if cs != nil {
				c := &m.Snapshot.Metadata.ConfState
				for _, f := range []struct {
					k string
					p *[]uint64
				}{{"voters", &c.Voters}, {"learners", &c.Learners}, {"votersOutgoing", &c.VotersOutgoing}, {"learnersNext", &c.LearnersNext}} {
					if *f.p, err = getU64List(cs, f.k); err != nil {
						return m, fmt.Errorf("snapshot.metadata.confState.%v", err)
					}
				}
				if c.AutoLeave, err = getBool(cs, "autoLeave"); err != nil {
					return m, fmt.Errorf("snapshot.metadata.confState.%v", err)
				}
			}
		}
	}
	var ex extra
	if v, ok := o["vote"]; ok && v != nil {
		ex.hasVote = true
		if ex.vote, err = parseU64(v, "vote", true); err != nil {
			return m, err
		}
	}
	rs, err := getList(o, "responses")
	if err != nil {
		return m, err
	}
	for i, rv := range rs {
		ro, ok := rv.(obj)
		if !ok {
			return m, fmt.Errorf("responses[%d]: expected an object", i)
		}
		r, err := parseMsg(ro)
		if err != nil {
			return m, fmt.Errorf("responses[%d].%v", i, err)
		}
		ex.responses = append(ex.responses, r)
	}
	if err := setExtra(&m, ex); err != nil {
		return m, err
	}
	return m, nil
}

// parseID reads a member ID given as a JSON number or a hex string.
func parseID(o obj, key string) (uint64, error) {
	v, ok := o[key]
	if !ok || v == nil {
		return 0, fmt.Errorf("missing %q", key)
	}
	id, err := parseU64(v, key, true)
	if err == nil && id == 0 {
		err = fmt.Errorf("%s: 0 is not a member ID", key)
	}
	return id, err
}

func parseURLs(o obj, key string) ([]string, error) {
	l, err := getList(o, key)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: expected a string", key, i)
		}
		out = append(out, strings.TrimSpace(s))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: need at least one URL", key)
	}
	return out, nil
}
