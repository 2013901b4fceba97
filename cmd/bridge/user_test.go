package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPassword(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	for _, tc := range []struct{ file, want string }{
		{"secret\n", "secret"}, {"secret", "secret"}, {"secret\n\n", "secret\n"}, {"a b\r\n", "a b"},
	} {
		if err := os.WriteFile(f, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readPassword(f, nil, nil); err != nil || got != tc.want {
			t.Errorf("file %q: got %q, %v", tc.file, got, err)
		}
	}
	// Not a terminal: standard input.
	if got, err := readPassword("", strings.NewReader("from-stdin\n"), nil); err != nil || got != "from-stdin" {
		t.Errorf("stdin: %q %v", got, err)
	}
}

func TestUserCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{}, {"add"}, {"list", "x"}, {"frob", "x"}, {"add", "a", "b"}} {
		if code := runUser(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("bridge user %v: exit %d, want 2", args, code)
		}
	}
	// A store on a file, created on first use; flags after the name.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(cfg, []byte("store: {path: "+filepath.Join(dir, "b.db")+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := runUser([]string{"add", "alice", "--config", cfg}, strings.NewReader("pw\n"), &out, &errb); code != 0 {
		t.Fatalf("add: %d %s", code, errb.String())
	}
	if code := runUser([]string{"add", "Bad Name", "--config", cfg}, strings.NewReader("pw\n"), &out, &errb); code != 2 {
		t.Fatalf("bad name: %d", code)
	}
	out.Reset()
	if code := runUser([]string{"list", "--config", cfg}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "alice\talice@localhost\tsip:alice@localhost") {
		t.Fatalf("list: %d %q", code, out.String())
	}
}
