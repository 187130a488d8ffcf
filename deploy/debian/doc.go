// Package debian holds the Debian packaging of tfps (nfpm.yaml and the
// maintainer scripts, built by scripts/package.sh) and the test that
// installs the package into a clean Debian system and uses it there.
package debian
