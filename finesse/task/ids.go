package task

import (
	"strconv"
	"strings"
	"time"
)

// callKey is a task's router call key without its sequence number: what
// stays the same while the task is routed again.
type callKey struct {
	day    int
	callID int64
}

// daysFrom1601ToUnixEpoch is the number of days from 1 January 1601, the
// epoch of ICM's router call key day, to 1 January 1970.
const daysFrom1601ToUnixEpoch = 134774

// routerCallKeyDay returns the router call key day of t: days since
// 1 January 1601, UTC.
func routerCallKeyDay(t time.Time) int {
	return int(t.UTC().Unix()/86400) + daysFrom1601ToUnixEpoch
}

// maxCallID keeps call ids within ICM's 32-bit field; the counter wraps
// to 1 after it (the day tells the two apart).
const maxCallID = 1<<31 - 1

// taskID renders day_callid_seq.
func taskID(k callKey, seq int) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendInt(b, int64(k.day), 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, k.callID, 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, int64(seq), 10)
	return string(b)
}

// parseTaskID reads day_callid_seq, each a positive decimal number
// written without sign or leading zeros.
func parseTaskID(id string) (callKey, int, bool) {
	parts := strings.Split(id, "_")
	if len(parts) != 3 {
		return callKey{}, 0, false
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v <= 0 || strconv.FormatInt(v, 10) != p {
			return callKey{}, 0, false
		}
		n[i] = v
	}
	if n[0] > 1<<31 || n[2] > 1<<31 {
		return callKey{}, 0, false
	}
	return callKey{day: int(n[0]), callID: n[1]}, int(n[2]), true
}
