// SPDX-License-Identifier: Apache-2.0

// Golden-test shim: this file is copied by tests/golden/golden.sh into a
// shadow copy of etcd's rafthttp package (all other files of which are
// symlinks to the system etcd 3.4 source), so that the golden generator can
// call etcd's real, unexported stream codecs. It only wraps; it holds no
// codec logic of its own.

package rafthttp

import (
	"io"

	stats "go.etcd.io/etcd/etcdserver/api/v2stats"
	"go.etcd.io/etcd/pkg/types"
	"go.etcd.io/etcd/raft/raftpb"
)

// GoldenMsgAppV2BufSize is etcd's msgAppV2BufSize.
const GoldenMsgAppV2BufSize = msgAppV2BufSize

// GoldenNewMsgAppV2Encoder returns the encode method of a fresh msgAppV2Encoder.
func GoldenNewMsgAppV2Encoder(w io.Writer) func(*raftpb.Message) error {
	enc := newMsgAppV2Encoder(w, &stats.FollowerStats{})
	return enc.encode
}

// GoldenNewMsgAppV2Decoder returns the decode method of a fresh msgAppV2Decoder.
func GoldenNewMsgAppV2Decoder(r io.Reader, local, remote uint64) func() (raftpb.Message, error) {
	dec := newMsgAppV2Decoder(r, types.ID(local), types.ID(remote))
	return dec.decode
}

// GoldenNewMessageEncoder returns the encode method of a messageEncoder.
func GoldenNewMessageEncoder(w io.Writer) func(*raftpb.Message) error {
	enc := &messageEncoder{w: w}
	return enc.encode
}

// GoldenNewMessageDecoder returns the decode method of a messageDecoder
// (with etcd's default 512 MB size limit).
func GoldenNewMessageDecoder(r io.Reader) func() (raftpb.Message, error) {
	dec := &messageDecoder{r: r}
	return dec.decode
}

// GoldenIsLinkHeartbeatMessage is etcd's isLinkHeartbeatMessage.
func GoldenIsLinkHeartbeatMessage(m *raftpb.Message) bool {
	return isLinkHeartbeatMessage(m)
}
