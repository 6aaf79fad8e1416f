package apitest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
)

// undeclared returns the JSON paths of the object members in v that its
// schema s does not mention. JSON Schema lets an object carry members its
// schema does not list, so the validator passes them; here they are drift:
// the server sends a field the document does not describe.
//
// A member is declared when a property of the schema names it, or of a
// schema it combines (allOf, oneOf, anyOf, followed through $ref), or when
// the schema has additionalProperties or patternProperties (a map); an
// object schema without any properties is free-form.
func undeclared(s *base.Schema, v any, path string) []string {
	if s == nil {
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		props, open := members(s, 0)
		var out []string
		for _, k := range sortedKeys(v) {
			p := path + "." + k
			sub, ok := props[k]
			switch {
			case ok:
				for _, sc := range sub {
					out = append(out, undeclared(sc, v[k], p)...)
				}
			case open != nil:
				out = append(out, undeclared(open, v[k], p)...)
			case len(props) > 0:
				out = append(out, p)
			}
		}
		return out
	case []any:
		items := itemSchemas(s, 0)
		var out []string
		for i, x := range v {
			for _, sc := range items {
				out = append(out, undeclared(sc, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
		return out
	}
	return nil
}

// members collects the properties s and the schemas it combines declare,
// each with the schemas that describe it, and the schema of any other
// member (additionalProperties) when s is a map.
func members(s *base.Schema, depth int) (props map[string][]*base.Schema, open *base.Schema) {
	props = map[string][]*base.Schema{}
	if s == nil || depth > 16 {
		return props, nil
	}
	for name, p := range s.Properties.FromOldest() {
		props[name] = append(props[name], p.Schema())
	}
	if ap := s.AdditionalProperties; ap != nil {
		switch {
		case ap.IsA() && ap.A != nil:
			open = ap.A.Schema()
		case ap.IsB() && ap.B:
			open = &base.Schema{} // anything
		}
	}
	if s.PatternProperties != nil && s.PatternProperties.Len() > 0 {
		open = &base.Schema{}
	}
	for _, c := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
		sub, subOpen := members(c.Schema(), depth+1)
		for k, v := range sub {
			props[k] = append(props[k], v...)
		}
		if subOpen != nil {
			open = subOpen
		}
	}
	if len(props) == 0 && open == nil {
		open = &base.Schema{} // free-form: nothing to hold members to
	}
	return props, open
}

// itemSchemas returns the schemas describing an array's items under s and
// the schemas it combines.
func itemSchemas(s *base.Schema, depth int) []*base.Schema {
	if s == nil || depth > 16 {
		return nil
	}
	var out []*base.Schema
	if s.Items != nil && s.Items.IsA() && s.Items.A != nil {
		out = append(out, s.Items.A.Schema())
	}
	for _, c := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
		out = append(out, itemSchemas(c.Schema(), depth+1)...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}
