// SPDX-License-Identifier: Apache-2.0

package msgjson

// Fields of newer raft versions (field 13 "vote", field 14 "responses") that
// etcd 3.4's raftpb.Message does not know. Go keeps them, in wire form, in
// Message.XXX_unrecognized and marshals them after field 12, i.e. in field
// order. The test programs build those bytes (SetExtra) when they make a
// message, and Msg parses them back (ParseExtra) when printing, so the JSON
// always reflects what the message really carries.

import (
	"fmt"

	"go.etcd.io/etcd/raft/raftpb"
)

// Extra holds fields 13 and 14 of a Message.
type Extra struct {
	HasVote   bool
	Vote      uint64
	Responses []raftpb.Message
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// SetExtra stores e as wire bytes in m.XXX_unrecognized (nil if e is empty).
// It fails only if a response does not marshal.
func SetExtra(m *raftpb.Message, e Extra) error {
	var b []byte
	if e.HasVote {
		b = append(b, 0x68) // field 13, varint
		b = appendVarint(b, e.Vote)
	}
	for i := range e.Responses {
		data, err := e.Responses[i].Marshal()
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

// ParseExtra decodes XXX_unrecognized of a Message. Only fields 13 (varint)
// and 14 (length-delimited Message) are expected there.
func ParseExtra(b []byte) (Extra, error) {
	var e Extra
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
			e.HasVote, e.Vote = true, v
		case 14<<3 | 2:
			l, p, err := readVarint(b, pos)
			if err != nil {
				return e, err
			}
			pos = p
			if l > uint64(len(b)-pos) {
				return e, fmt.Errorf("truncated responses[%d]", len(e.Responses))
			}
			var r raftpb.Message
			if err := r.Unmarshal(b[pos : pos+int(l)]); err != nil {
				return e, fmt.Errorf("responses[%d]: %v", len(e.Responses), err)
			}
			pos += int(l)
			e.Responses = append(e.Responses, r)
		default:
			return e, fmt.Errorf("unexpected unknown field tag %#x in Message", tag)
		}
	}
	return e, nil
}
