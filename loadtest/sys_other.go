//go:build !unix

package loadtest

// RaiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (uint64, error) { return 0, nil }

// ownCPU is not measured here.
func ownCPU() (float64, bool) { return 0, false }
