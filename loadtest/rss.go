package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverRSS reads the server's resident memory in KiB: from
// /proc/<pid>/status with a server PID, or from the
// process_resident_memory_bytes of its Prometheus metrics.
func (r *runner) serverRSS() (int64, error) {
	switch {
	case r.cfg.ServerPID > 0:
		return procRSS(r.cfg.ServerPID)
	case r.cfg.MetricsURL != "":
		return metricsRSS(r.httpClient, r.cfg.MetricsURL)
	}
	return 0, errors.New("no server PID or metrics URL")
}

// procRSS reads VmRSS of a process.
func procRSS(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	return parseVmRSS(data)
}

func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("server memory: no VmRSS in the process status")
}

// metricsRSS reads process_resident_memory_bytes from a Prometheus text
// exposition.
func metricsRSS(hc *http.Client, url string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	c := *hc
	c.Timeout = 10 * time.Second
	status, body, err := doHTTPLimit(&c, req, 8<<20)
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("server memory: %s answered HTTP %d", url, status)
	}
	return parseMetricsRSS(body)
}

func parseMetricsRSS(body []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("server memory: %q: %w", v, err)
			}
			return int64(f) / 1024, nil
		}
	}
	return 0, errors.New("server memory: no process_resident_memory_bytes in the metrics")
}

// procCPU reads a process's CPU time, user and system, from
// /proc/<pid>/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func procCPU(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	return parseProcStatCPU(data)
}

func parseProcStatCPU(stat []byte) (float64, error) {
	// The command name (field 2) may hold spaces: fields are counted
	// after its closing parenthesis.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("server CPU: malformed /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("server CPU: short /proc stat")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("server CPU: malformed /proc stat")
	}
	return float64(utime+stime) / 100, nil
}
