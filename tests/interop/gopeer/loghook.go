// SPDX-License-Identifier: Apache-2.0

package main

// Logging: zap JSON to stderr at the chosen level, teed with a core that
// watches (at every level) for the few rafthttp log entries that correspond
// to node-cli.md events: peer status changes and dropped messages. rafthttp
// reports these only through its logger.

import (
	"os"

	"go.etcd.io/etcd/pkg/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type hookFunc func(msg string, fields map[string]string)

var hookedMessages = map[string]bool{
	"peer became active": true,
	"peer became inactive (message send to peer failed)":                                true,
	"dropped internal Raft message since sending buffer is full (overloaded network)":   true,
	"dropped internal Raft message since receiving buffer is full (overloaded network)": true,
	"dropped Raft message since receiving buffer is full (overloaded network)":          true,
	"ignored message send request; unknown remote peer target":                          true,
}

type hookCore struct {
	fields []zapcore.Field
	fn     hookFunc
}

func (c *hookCore) Enabled(zapcore.Level) bool { return true }

func (c *hookCore) With(fs []zapcore.Field) zapcore.Core {
	n := &hookCore{fn: c.fn}
	n.fields = append(append(n.fields, c.fields...), fs...)
	return n
}

func (c *hookCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if hookedMessages[e.Message] {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *hookCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	m := map[string]string{}
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fs...) {
		switch f.Type {
		case zapcore.StringType:
			m[f.Key] = f.String
		case zapcore.ErrorType:
			if err, ok := f.Interface.(error); ok && err != nil {
				m[f.Key] = err.Error()
			}
		case zapcore.BoolType:
			if f.Integer == 1 {
				m[f.Key] = "true"
			} else {
				m[f.Key] = "false"
			}
		}
	}
	c.fn(e.Message, m)
	return nil
}

func (c *hookCore) Sync() error { return nil }

func newLogger(level zapcore.Level, fn hookFunc) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	stderr := zapcore.NewCore(zapcore.NewJSONEncoder(ec), zapcore.Lock(os.Stderr), level)
	return zap.New(zapcore.NewTee(stderr, &hookCore{fn: fn}), zap.ErrorOutput(zapcore.Lock(os.Stderr)))
}

// hexID reads an ID field as rafthttp logs it (types.ID.String(), hex).
func hexID(s string) (uint64, bool) {
	id, err := types.IDFromString(s)
	return uint64(id), err == nil
}
