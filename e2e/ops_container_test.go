package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cusax.dev/bridge/config"
)

const containerfile = "../deploy/container/Containerfile"

// No container engine runs where the tests run, so the image itself is not
// built here. What can be checked is: the Containerfile's build command,
// run as written from the repository root, produces a static binary (no
// ELF interpreter, no shared libraries) that runs; the final stage runs
// as a non-root user; the files it copies exist; the configuration it
// bakes in is valid and its ports are exactly the EXPOSEd ones; its store
// lives in the VOLUME.
func TestDeployContainerfile(t *testing.T) {
	data, err := os.ReadFile(containerfile)
	if err != nil {
		t.Fatal(err)
	}
	var build string
	var expose []string
	var user, volume string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "RUN":
			if strings.Contains(line, " go build ") {
				build = strings.TrimSpace(strings.TrimPrefix(line, "RUN"))
			}
		case "EXPOSE":
			expose = append(expose, f[1:]...)
		case "USER":
			user = f[1]
		case "VOLUME":
			volume = f[1]
		case "COPY":
			if src := f[len(f)-2]; !strings.HasPrefix(f[1], "--from") && src != "." {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY source %s: %v", src, err)
				}
			}
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("final stage USER %q is root", user)
	}
	if !strings.HasPrefix(build, "CGO_ENABLED=0 go build -trimpath ") || !strings.Contains(build, "-o /out/bridge ./cmd/bridge") {
		t.Fatalf("no static build command: %q", build)
	}
	// make build compiles the same way (so both share the build cache).
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "\tCGO_ENABLED=0 $(GO) build -trimpath -ldflags \"$(LDFLAGS)\" -o bin/bridge ./cmd/bridge") {
		t.Errorf("make build does not build as the Containerfile does")
	}

	// The bridge configuration in the image: valid, ports as EXPOSEd.
	cfg, err := config.Load("../deploy/container/bridge.yaml")
	if err != nil {
		t.Fatalf("deploy/container/bridge.yaml: %v", err)
	}
	var want []string
	for _, l := range cfg.SIP.Listen {
		parts := strings.Split(l, ":")
		want = append(want, parts[len(parts)-1]+"/"+parts[0])
	}
	port := func(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] + "/tcp" }
	want = append(want, cfg.RTP.Ports+"/udp", port(cfg.Admin.Listen))
	if cfg.XMPP.Mode == "embedded" {
		want = append(want, port(cfg.XMPP.C2SListen))
		if cfg.Provisioning.Listen != "" {
			want = append(want, port(cfg.Provisioning.Listen))
		}
	}
	slices.Sort(want)
	slices.Sort(expose)
	if !slices.Equal(want, expose) {
		t.Errorf("EXPOSE %v, but the image's bridge.yaml uses %v", expose, want)
	}
	if filepath.Dir(cfg.Store.Path) != volume {
		t.Errorf("store.path %s is not in the VOLUME %s", cfg.Store.Path, volume)
	}

	// The build command as the Containerfile runs it.
	out := filepath.Join(t.TempDir(), "bridge")
	cmdline := strings.NewReplacer("${VERSION}", "container-test", "/out/bridge", out).Replace(build)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`container-test`).Match(v) {
		t.Errorf("static binary version: %v %s", err, v)
	}
}
