package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logger writes "pf-relay: ..." lines. Per-connection errors go through errorf, which prints at most
// errorBurst lines per second and then says how many it left out: a client retrying a refused port
// in a loop must not flood the log.
type logger struct {
	mu      sync.Mutex
	out     io.Writer
	window  time.Time // start of the current one-second window
	printed int       // errors printed in the window
	dropped int       // errors left out since the last printed one
}

const errorBurst = 10

func newLogger(out io.Writer) *logger { return &logger{out: out} }

func (l *logger) infof(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "pf-relay: "+format+"\n", a...)
}

func (l *logger) errorf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.window) >= time.Second {
		l.window, l.printed = now, 0
	}
	if l.printed >= errorBurst {
		l.dropped++
		return
	}
	l.printed++
	if l.dropped > 0 {
		fmt.Fprintf(l.out, "pf-relay: (%d similar messages left out)\n", l.dropped)
		l.dropped = 0
	}
	fmt.Fprintf(l.out, "pf-relay: "+format+"\n", a...)
}
