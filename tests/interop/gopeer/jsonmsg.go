// SPDX-License-Identifier: Apache-2.0

package main

// The loose MSG/command parser of docs/json.md ("Input accepted by rafthttp
// encode (and rafthttp node)"). Printing MSG is the shared package
// rafthttptest/msgjson (tests/go/msgjson), the golden generator's printer.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/raft/raftpb"

	"rafthttptest/msgjson"
)

// msgTypeByName and entryTypeByName invert msgjson's name tables.
var msgTypeByName, entryTypeByName = func() (map[string]int32, map[string]int32) {
	a := map[string]int32{}
	for k, v := range msgjson.MsgTypeNames {
		a[v] = int32(k)
	}
	b := map[string]int32{}
	for k, v := range msgjson.EntryTypeNames {
		b[v] = int32(k)
	}
	return a, b
}()

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
	var ex msgjson.Extra
	if v, ok := o["vote"]; ok && v != nil {
		ex.HasVote = true
		if ex.Vote, err = parseU64(v, "vote", true); err != nil {
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
		ex.Responses = append(ex.Responses, r)
	}
	if err := msgjson.SetExtra(&m, ex); err != nil {
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
