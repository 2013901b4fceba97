package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The example file at the repository root documents every key with its
// default value, and stays loadable.
func TestExampleFileMatchesDefaults(t *testing.T) {
	f, err := os.Open("../bridge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	def := Default()
	if def.Rooms == nil {
		def.Rooms = []Room{}
	}
	if cfg.Rooms == nil {
		cfg.Rooms = []Room{}
	}
	if def.SIP.Auth.Accounts == nil {
		def.SIP.Auth.Accounts = []Account{}
	}
	if def.XMPP.Creators == nil {
		def.XMPP.Creators = []string{}
	}
	if !reflect.DeepEqual(cfg, def) {
		t.Errorf("example differs from defaults:\nexample  %+v\ndefaults %+v", cfg, def)
	}
	raw, _ := os.ReadFile("../bridge.example.yaml")
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("example does not document %s", key)
		}
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		key := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(ft, key+".")...)
		} else {
			keys = append(keys, key)
		}
	}
	return keys
}
