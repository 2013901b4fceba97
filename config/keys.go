package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var durationType = reflect.TypeOf(Duration(0))
var addrListType = reflect.TypeOf(AddrList(nil))

// checkKeys walks the YAML document against Config before it is decoded,
// so that an unknown key or a value of the wrong kind is reported by its
// key path and line ("sip.notify_interval"), never by Go type names as the
// YAML decoder does ("field domian not found in type config.SIP").
func checkKeys(data []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	w := keyWalker{seen: map[walked]bool{}}
	return w.walk(doc.Content[0], reflect.TypeOf(Config{}), "")
}

// keyWalker remembers the (node, type) pairs checked, so that aliases to
// one node are checked once (no exponential walk).
type keyWalker struct{ seen map[walked]bool }

type walked struct {
	n *yaml.Node
	t reflect.Type
}

func (w keyWalker) walk(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if w.seen[walked{n, t}] {
		return nil
	}
	w.seen[walked{n, t}] = true
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	where := func() string {
		if path == "" {
			return "the document"
		}
		return path
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return lineErr(n, path, "", "must be a duration like 500ms, 30s or 5m")
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			return lineErr(n, path, n.Value, "must be a duration like 500ms, 30s or 5m")
		}
		return nil
	case t == addrListType: // one address or a list of them
		if n.Kind == yaml.ScalarNode {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return lineErr(n, path, n.Value, "must be an IP address or a list of them")
		}
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return lineErr(e, fmt.Sprintf("%s[%d]", path, i), "", "must be an IP address")
			}
		}
		return nil
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return lineErr(n, where(), n.Value, "must be a mapping of keys")
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			key := k.Value
			if path != "" {
				key = path + "." + k.Value
			}
			if !ok {
				slices.Sort(names)
				return fmt.Errorf("config: %s: unknown key (line %d); %s takes %s", key, k.Line, where(), strings.Join(names, ", "))
			}
			if err := w.walk(v, ft, key); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return lineErr(n, path, n.Value, "must be a list")
		}
		for i, e := range n.Content {
			if err := w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode {
			return lineErr(n, path, "", "must be a whole number")
		}
		if _, err := strconv.Atoi(n.Value); err != nil {
			return lineErr(n, path, n.Value, "must be a whole number")
		}
	case t.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return lineErr(n, path, n.Value, "must be true or false")
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return lineErr(n, path, "", "must be a single value, not a list or mapping")
		}
	}
	return nil
}

func lineErr(n *yaml.Node, key, val, msg string) error {
	return &FieldError{Key: key, Value: val, Msg: fmt.Sprintf("%s (line %d)", msg, n.Line)}
}
