package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"
)

// portState is what GET /ports says of one relayed port.
type portState struct {
	Protocol   string `json:"protocol"`
	Port       int    `json:"port"`
	TargetPort int    `json:"targetPort"`
	// Open: something in the target takes traffic there (a listening TCP socket, a bound UDP
	// socket) at an address the relay reaches (loopback or a wildcard).
	Open bool `json:"open"`
}

// healthHandler serves the helper's endpoint for the kubelet and the operator:
//
//	GET /ready   200 "ok": every listener is up (the kubelet's readiness probe)
//	GET /ports   200 {"ports":[portState...]}: whether each target port takes traffic now
//	GET /metrics 200 the relay's counters in the Prometheus text format (metrics.go)
//
// The operator reports a PortForward Ready only when every port is open, and names the closed
// ones otherwise; it reads /metrics for the PortForward's status.connections.
func healthHandler(ns *netns, specs []spec, st *stats) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		st.writeMetrics(w)
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /ports", func(w http.ResponseWriter, _ *http.Request) {
		states := make([]portState, 0, len(specs))
		for _, s := range specs {
			open, err := ns.targetOpen(s.proto, s.target)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			states = append(states, portState{Protocol: s.proto, Port: s.listen, TargetPort: s.target, Open: open})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ports": states})
	})
	return mux
}

// serveHealth serves h on ln until ln is closed, with timeouts so that slow clients cannot hold
// the relay's descriptors.
func serveHealth(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
	srv.Serve(ln)
}
