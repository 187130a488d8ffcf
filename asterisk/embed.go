// Package asterisk ships the Asterisk configuration of a TFPS verification box
// (see docs/asterisk.md). The files are embedded so that the end-to-end test
// harness (package asterisktest) runs Asterisk with the very dialplan and
// module list an operator installs.
package asterisk

import "embed"

// Files holds every *.conf file of this folder.
//
//go:embed *.conf
var Files embed.FS
