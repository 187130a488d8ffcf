//go:build race

package engine

// raceDetector: the race detector makes sync.Pool drop a share of what it
// is given, so allocation counts mean nothing under it.
const raceDetector = true
