package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/PID/stat's utime and stime: USER_HZ, which
// Linux fixes at 100 on every architecture Go supports (sysconf(_SC_CLK_TCK)
// returns it; getconf CLK_TCK prints it).
const userHZ = 100

// processCPU is the CPU time (user + system) that process pid and all its
// threads, living and exited, have used: /proc/PID/stat's utime + stime.
// Those are kept in clock ticks (10 ms), but their sum follows the
// scheduler's nanosecond runtime (the kernel scales utime and stime so that
// they add up to it), so over a run of seconds the tick is the only error.
// (/proc/PID/schedstat would give nanoseconds, but of the main thread only:
// a Go server's work is on its other threads.)
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("no process %d (no /proc/%d/stat)", pid, pid)
	}
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses: the fields that follow start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	if f[0] == "Z" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// rusageThread is RUSAGE_THREAD: getrusage for the calling thread only.
const rusageThread = 1

// threadCPU is the CPU time the calling OS thread has used, to the
// microsecond (the caller locks its goroutine to the thread).
func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
