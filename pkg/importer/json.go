package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// jsonRecords reads one or more JSON values from data, one after another.
// Each is either an array of records or an object whose records sit at
// path (for example "shortUrls", "data"). It returns the raw records of all
// values in order. what names the expected response in errors.
func jsonRecords(data []byte, lim Limits, what string, path ...string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	for page := 1; ; page++ {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: malformed JSON%s: %v", ErrInput, where(data, dec, err), err)
		}
		recs, err := pageRecords(v, path)
		if err != nil {
			return nil, fmt.Errorf("%w: JSON value %d is not %s: %v", ErrInput, page, what, err)
		}
		if len(out)+len(recs) > lim.MaxRecords {
			return nil, fmt.Errorf("%w: more than %d records", ErrTooLarge, lim.MaxRecords)
		}
		out = append(out, recs...)
	}
}

// pageRecords returns the records of one page: v itself if it is an array,
// otherwise the array at path inside the object v.
func pageRecords(v json.RawMessage, path []string) ([]json.RawMessage, error) {
	var recs []json.RawMessage
	if bytes.HasPrefix(v, []byte("[")) {
		if err := json.Unmarshal(v, &recs); err != nil {
			return nil, err
		}
		return recs, nil
	}
	for i, key := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, fmt.Errorf("want an object with %q", strings.Join(path[i:], "."))
		}
		next, ok := obj[key]
		if !ok || bytes.Equal(next, []byte("null")) {
			return nil, fmt.Errorf("it has no %q%s", strings.Join(path, "."), apiErrorHint(obj))
		}
		v = next
	}
	if err := json.Unmarshal(v, &recs); err != nil {
		return nil, fmt.Errorf("%q is not an array", strings.Join(path, "."))
	}
	return recs, nil
}

// apiErrorHint quotes the message of an API error saved in place of a
// page, so the person sees why the export is empty.
func apiErrorHint(obj map[string]json.RawMessage) string {
	for _, k := range []string{"detail", "message", "error"} {
		var msg string
		if json.Unmarshal(obj[k], &msg) == nil && msg != "" {
			return fmt.Sprintf(" (it looks like an API error: %q)", msg)
		}
	}
	return ""
}

// where locates a JSON syntax error as " at line N" when it can.
func where(data []byte, dec *json.Decoder, err error) string {
	off := dec.InputOffset()
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		off = se.Offset
	}
	if off <= 0 || off > int64(len(data)) {
		return ""
	}
	return fmt.Sprintf(" at line %d", bytes.Count(data[:off], []byte("\n"))+1)
}

// decodeRecord decodes one record into v and, on failure, returns a reason
// a person understands ("tags is a string, want a list").
func decodeRecord(raw json.RawMessage, v any) (reason string, ok bool) {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return "", true
	}
	if te, isType := errors.AsType[*json.UnmarshalTypeError](err); isType {
		got, _, _ := strings.Cut(te.Value, " ") // "number -5" → "number"
		if te.Field == "" {
			return fmt.Sprintf("is a JSON %s, not a link object", got), false
		}
		return fmt.Sprintf("%s is a JSON %s, want %s", te.Field, got, kindName(te.Type)), false
	}
	return "cannot be read: " + err.Error(), false
}

// kindName names what a Go type holds in words.
func kindName(t reflect.Type) string {
	if t == reflect.TypeFor[json.Number]() {
		return "a number"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}
