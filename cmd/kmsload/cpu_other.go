//go:build !linux

package main

import (
	"errors"
	"time"
)

var errNotLinux = errors.New("CPU accounting reads Linux's /proc and RUSAGE_THREAD: --server-pid works on Linux only")

func processCPU(pid int) (time.Duration, error) { return 0, errNotLinux }

func threadCPU() (time.Duration, error) { return 0, errNotLinux }
