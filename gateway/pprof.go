package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkPprofAccess refuses a profiler off loopback: the profiles show code
// paths and memory contents (reach it remotely through an SSH tunnel).
// Start checks it before opening anything.
func (m *Main) checkPprofAccess() error {
	if addr := m.Config.PprofListen; addr != "" && !loopback(addr) {
		return fmt.Errorf("start profiler: TFPS_PPROF_LISTEN (%s) must be a loopback address", addr)
	}
	return nil
}

// startPprof serves Go's profiler on TFPS_PPROF_LISTEN, a listener of its
// own so the profiler is never reachable through the API's address.
func (m *Main) startPprof() error {
	addr := m.Config.PprofListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen profiler %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: a CPU profile or trace streams for its ?seconds=.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.pprofLn = ln
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("profiler stopped", "err", err)
		}
	}()
	m.closers.Push(func(context.Context) error { return srv.Close() })
	m.Logger.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// PprofAddr is the profiler's address, empty when it is off.
func (m *Main) PprofAddr() string {
	if m.pprofLn == nil {
		return ""
	}
	return m.pprofLn.Addr().String()
}
