// SPDX-License-Identifier: Apache-2.0

package main

// diff describes the first difference between two raftpb values, by field
// path (Go field names), for precise mismatch reports.

import (
	"fmt"
	"reflect"
)

// diff(want, got)
func diff(want, got interface{}) string {
	d := diffV("", reflect.ValueOf(want), reflect.ValueOf(got))
	if d == "" {
		return "no difference"
	}
	return d
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func describeBytes(b []byte) string {
	if b == nil {
		return "absent (nil)"
	}
	if len(b) == 0 {
		return "present but empty"
	}
	return fmt.Sprintf("%d bytes", len(b))
}

func diffBytes(path string, want, got []byte) string {
	if (want == nil) != (got == nil) || len(want) != len(got) {
		return fmt.Sprintf("%s: want %s, got %s", path, describeBytes(want), describeBytes(got))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf("%s: byte %d: want 0x%02x, got 0x%02x", path, i, want[i], got[i])
		}
	}
	return ""
}

func diffV(path string, a, b reflect.Value) string {
	if path == "" {
		path = "(value)"
	}
	switch a.Kind() {
	case reflect.Ptr:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: want nil=%v, got nil=%v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return diffV(path, a.Elem(), b.Elem())
	case reflect.Struct:
		base := path
		if base == "(value)" {
			base = ""
		}
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			p := joinPath(base, f.Name)
			if f.Name == "XXX_unrecognized" {
				p += " (unknown fields: vote/responses)"
			}
			if d := diffV(p, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			return diffBytes(path, a.Bytes(), b.Bytes())
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: want %d elements, got %d", path, a.Len(), b.Len())
		}
		if a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: want nil=%v, got nil=%v (both empty)", path, a.IsNil(), b.IsNil())
		}
		for i := 0; i < a.Len(); i++ {
			if d := diffV(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return fmt.Sprintf("%s: want %v, got %v", path, a.Bool(), b.Bool())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return fmt.Sprintf("%s: want %d, got %d", path, a.Int(), b.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if a.Uint() != b.Uint() {
			return fmt.Sprintf("%s: want %d, got %d", path, a.Uint(), b.Uint())
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Sprintf("%s: want %v, got %v", path, a.Interface(), b.Interface())
		}
	}
	return ""
}
