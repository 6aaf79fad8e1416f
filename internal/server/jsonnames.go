package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// exactNames checks that every member of the JSON value data that names a
// field of t (a struct, or a pointer to, slice or array of one, at any
// depth) names it exactly. encoding/json matches member names to fields
// without regard to case, so {"NAME": ...} would fill Name; the API's
// names, as its OpenAPI document gives them, are case-sensitive. Members
// that name no field are left to the decoder, and so is a value that is
// not of the field's shape.
func exactNames(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, item := range items {
			if err := exactNames(item, t.Elem()); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return nil
	}
	fields := map[string]reflect.Type{}
	jsonFields(t, fields)
	for name, v := range members {
		if ft, ok := fields[name]; ok {
			if err := exactNames(v, ft); err != nil {
				return err
			}
			continue
		}
		for f := range fields {
			if strings.EqualFold(f, name) {
				return fmt.Errorf("%w: member %q: names are case-sensitive (want %q)", errInvalid, name, f)
			}
		}
	}
	return nil
}

// jsonFields collects the JSON names of a struct's fields, as
// encoding/json gives them, with their types.
func jsonFields(t reflect.Type, into map[string]reflect.Type) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, into)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}
