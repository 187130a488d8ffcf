package debian

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// repoRoot is the top of the repository, where the scripts run.
const repoRoot = "../.."

// needRoot skips the test where it cannot run: building a chroot, mounting
// an overlay and chroot(2) need root (the CI runs as root).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the package test needs root (debootstrap, mount, chroot): run as root, as the CI does")
	}
	for _, tool := range []string{"dpkg-deb", "mount", "umount", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the package test needs %s: %v", tool, err)
		}
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// cleanDebian returns the root of a throwaway Debian system: an overlay on
// the cached pristine chroot of scripts/debian-chroot.sh, so the cache is
// never changed and every run starts clean.
func cleanDebian(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("sh", "scripts/debian-chroot.sh")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/debian-chroot.sh: %v\n%s", err, out)
	}
	suite := os.Getenv("TFPS_DEBIAN_SUITE")
	if suite == "" {
		suite = "trixie"
	}
	lower := os.Getenv("TFPS_DEBIAN_CHROOT")
	if lower == "" {
		lower = "/var/cache/tfps/debian-" + suite
	}
	dir := t.TempDir()
	upper, work, root := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sh(t, "mount", "-t", "overlay", "overlay", "-o", fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work), root)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", root, err, out)
		}
	})
	return root
}

// buildPackage runs scripts/package.sh into a temporary directory and
// returns the .deb and its version.
func buildPackage(t *testing.T) (deb, version string) {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("sh", "scripts/package.sh")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DIST="+dist)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, stderr.String())
	}
	deb = strings.TrimSpace(string(out))
	m := regexp.MustCompile(`/tfps_([0-9][^_]*)_amd64\.deb$`).FindStringSubmatch(deb)
	if m == nil {
		t.Fatalf("scripts/package.sh made %q, want DIST/tfps_<version>_amd64.deb", deb)
	}
	return deb, m[1]
}

// inRoot runs a command inside the chroot with a clean environment, as
// user ("" for root), and returns its exit code and output.
func inRoot(t *testing.T, root, user string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cargs := []string{}
	if user != "" {
		cargs = append(cargs, "--userspec="+user+":"+user)
	}
	cargs = append(cargs, root, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive")
	cmd := exec.Command("chroot", append(cargs, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("chroot %v: %v", args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

func mustInRoot(t *testing.T, root, user string, args ...string) string {
	t.Helper()
	code, out, errs := inRoot(t, root, user, args...)
	if code != 0 {
		t.Fatalf("in the chroot, %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out + errs
}

// processesIn lists the processes whose root directory is root: what a
// package leaves running there.
func processesIn(t *testing.T, root string) []string {
	t.Helper()
	want, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	var found []string
	for _, p := range pids {
		r, err := os.Readlink(filepath.Join(p, "root"))
		if err != nil || r != want {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		found = append(found, filepath.Base(p)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

func exists(root, path string) bool {
	_, err := os.Lstat(filepath.Join(root, path))
	return err == nil
}

// TestPackageInstallsOnCleanDebian builds the package, installs it with
// dpkg into a clean Debian, and uses it as an operator would: the binaries
// report the package's version, the shipped configuration passes
// check-config as the service user, an edited tfps.conf survives a
// reinstall, and removing the package keeps the data, the user and the
// edited settings and leaves nothing running.
func TestPackageInstallsOnCleanDebian(t *testing.T) {
	needRoot(t)
	start := time.Now()
	deb, version := buildPackage(t)
	t.Logf("built %s (version %s) in %v", filepath.Base(deb), version, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	defer func() { t.Logf("chroot, install, use and remove took %v", time.Since(start).Round(time.Millisecond)) }()

	info := sh(t, "dpkg-deb", "--info", deb)
	for _, want := range []string{"Package: tfps", "Version: " + version, "Architecture: amd64"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	list := sh(t, "dpkg-deb", "--contents", deb)
	for _, want := range []string{
		"./usr/share/tfps/sounds/en/", "./usr/share/doc/tfps/examples/asterisk/extensions.conf",
		"./usr/share/doc/tfps/README.md", "./usr/share/doc/tfps/deploy.md", "./usr/share/tfps/grafana/tfps.json",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("the package lacks %s", want)
		}
	}

	root := cleanDebian(t)
	if exists(root, "usr/bin/tfps-gateway") || exists(root, "etc/tfps") {
		t.Fatal("the cached Debian is not clean: it has tfps files")
	}
	if err := os.WriteFile(filepath.Join(root, "tmp", filepath.Base(deb)), mustRead(t, deb), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := "/tmp/" + filepath.Base(deb)
	out := mustInRoot(t, root, "", "dpkg", "-i", pkg)
	t.Logf("dpkg -i:\n%s", out)

	// Binaries at the paths the systemd units start, with the version.
	units := mustRead(t, filepath.Join(repoRoot, "deploy/systemd/tfps-gateway.service")) // ExecStart
	if !bytes.Contains(units, []byte("ExecStart=/usr/bin/tfps-gateway\n")) {
		t.Fatalf("tfps-gateway.service does not start /usr/bin/tfps-gateway")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tfps-gateway", "--version"}, "gateway " + version + "\n"},
		{[]string{"tfps-ivr", "--version"}, "ivr " + version + "\n"},
		{[]string{"tfpsctl", "version"}, "tfpsctl " + version + "\n"},
	} {
		if got := mustInRoot(t, root, "tfps", c.args...); got != c.want {
			t.Errorf("%s printed %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
	for _, unit := range []string{"tfps-gateway.service", "tfps-ivr.service"} {
		if !exists(root, "usr/lib/systemd/system/"+unit) {
			t.Errorf("%s not installed", unit)
		}
	}

	// The service user, its data directory and the secrets file.
	if pw := mustInRoot(t, root, "", "getent", "passwd", "tfps"); !strings.Contains(pw, ":/var/lib/tfps:/usr/sbin/nologin") {
		t.Errorf("tfps user: %q, want home /var/lib/tfps and no login shell", pw)
	}
	if st := mustInRoot(t, root, "", "stat", "-c", "%U:%G %a", "/var/lib/tfps", "/etc/tfps/tfps.env"); st != "tfps:tfps 750\nroot:tfps 640\n" {
		t.Errorf("ownership of /var/lib/tfps and /etc/tfps/tfps.env:\n%s", st)
	}

	// The shipped settings pass check-config, as the service runs them.
	code, stdout, stderr := inRoot(t, root, "tfps", "/usr/bin/env", "TFPS_CONFIG=/etc/tfps/tfps.conf", "tfps-gateway", "check-config")
	if code != 0 || !strings.Contains(stderr, "configuration OK") {
		t.Fatalf("tfps-gateway check-config: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"TFPS_DATA_DIR=/var/lib/tfps\t# file", "TFPS_IVR_SOUNDS_DIR=/usr/share/tfps/sounds\t# file"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check-config does not show %q from /etc/tfps/tfps.conf:\n%s", want, stdout)
		}
	}
	if !exists(root, "usr/share/tfps/sounds/en/blocked.wav") {
		t.Error("TFPS_IVR_SOUNDS_DIR of tfps.conf has no prompts")
	}

	// A mistake in tfps.conf is named and exits 78 (systemd does not restart
	// on a configuration error: the unit's Restart=on-failure would, so the
	// operator runs check-config first).
	conf := filepath.Join(root, "etc/tfps/tfps.conf")
	orig := mustRead(t, conf)
	if err := os.WriteFile(conf, append(append([]byte{}, orig...), "TFPS_MODE=sometimes\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = inRoot(t, root, "tfps", "/usr/bin/env", "TFPS_CONFIG=/etc/tfps/tfps.conf", "tfps-gateway", "check-config")
	if code != 78 || !strings.Contains(stderr, "TFPS_MODE") {
		t.Errorf("check-config with TFPS_MODE=sometimes: exit %d, want 78 naming TFPS_MODE:\n%s", code, stderr)
	}

	// Reinstalling keeps an operator's edit of tfps.conf and the user.
	edited := append(append([]byte{}, orig...), "TFPS_MODE=monitor\n"...)
	if err := os.WriteFile(conf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	mustInRoot(t, root, "", "dpkg", "-i", pkg)
	if got := mustRead(t, conf); !bytes.Equal(got, edited) {
		t.Errorf("reinstall replaced the edited tfps.conf")
	}

	// Data written by the service survives removal.
	if err := os.WriteFile(filepath.Join(root, "var/lib/tfps/tfps.db"), []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	mustInRoot(t, root, "", "dpkg", "-r", "tfps")
	for _, gone := range []string{"usr/bin/tfps-gateway", "usr/bin/tfps-ivr", "usr/bin/tfpsctl", "usr/lib/systemd/system/tfps-gateway.service", "usr/share/tfps/sounds"} {
		if exists(root, gone) {
			t.Errorf("dpkg -r left /%s", gone)
		}
	}
	for _, kept := range []string{"var/lib/tfps/tfps.db", "etc/tfps/tfps.conf"} {
		if !exists(root, kept) {
			t.Errorf("dpkg -r removed /%s", kept)
		}
	}
	if st := mustInRoot(t, root, "", "dpkg-query", "-W", "-f=${db:Status-Abbrev}", "tfps"); strings.TrimSpace(st) != "rc" {
		t.Errorf("after dpkg -r the package state is %q, want rc (removed, settings kept)", st)
	}
	if code, _, _ := inRoot(t, root, "", "getent", "passwd", "tfps"); code != 0 {
		t.Error("dpkg -r removed the tfps user, which owns the kept data")
	}
	if ps := processesIn(t, root); len(ps) > 0 {
		t.Errorf("processes still run in the chroot after dpkg -r:\n%s", strings.Join(ps, "\n"))
	}

	// Purge drops the settings, never the data.
	mustInRoot(t, root, "", "dpkg", "--purge", "tfps")
	if exists(root, "etc/tfps/tfps.conf") {
		t.Error("dpkg --purge left /etc/tfps/tfps.conf")
	}
	if !exists(root, "var/lib/tfps/tfps.db") {
		t.Error("dpkg --purge removed the data in /var/lib/tfps")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
