package loadtest

import (
	"reflect"
	"testing"
)

func TestParseUsers(t *testing.T) {
	got, err := ParseUsers("3001-3003,admin, 7")
	if err != nil || !reflect.DeepEqual(got, []string{"3001", "3002", "3003", "admin", "7"}) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "5-3", "a-b", "1-2000000"} {
		if _, err := ParseUsers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseMixAndRates(t *testing.T) {
	mix, err := ParseMix("ws=10000,bosh=2000")
	if err != nil || mix["ws"] != 10000 || mix["bosh"] != 2000 || len(mix) != 2 {
		t.Errorf("%v %v", mix, err)
	}
	for _, bad := range []string{"ws", "xmpp=3", "ws=-1", "ws=x"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("mix %q accepted", bad)
		}
	}
	rates, err := ParseRates("100, 200,400.5")
	if err != nil || !reflect.DeepEqual(rates, []float64{100, 200, 400.5}) {
		t.Errorf("%v %v", rates, err)
	}
	if _, err := ParseRates("100,0"); err == nil {
		t.Error("a zero rate accepted")
	}
}

func TestParseMemory(t *testing.T) {
	kb, err := parseVmRSS([]byte("Name:\tx\nVmRSS:\t  123456 kB\nThreads: 3\n"))
	if err != nil || kb != 123456 {
		t.Errorf("VmRSS: %d %v", kb, err)
	}
	kb, err = parseMetricsRSS([]byte("# HELP x\nprocess_resident_memory_bytes 2.097152e+07\nother 1\n"))
	if err != nil || kb != 20480 {
		t.Errorf("metrics: %d %v", kb, err)
	}
	if _, err := parseMetricsRSS([]byte("nothing 1\n")); err == nil {
		t.Error("metrics without the gauge accepted")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (fn (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 1000 1 1 18446744073709551615\n"
	secs, err := parseProcStatCPU([]byte(stat))
	if err != nil || secs != 3.25 {
		t.Errorf("cpu %v %v, want 3.25 s", secs, err)
	}
	if _, err := parseProcStatCPU([]byte("4242 (fn) S 1")); err == nil {
		t.Error("a short stat accepted")
	}
}

func TestJudge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = ModeOwn
	cfg.MaxLoss = 1
	s := Summary{Events: Events{Published: 10, Lost: 1, P99ms: 5}}
	s.judge(&cfg)
	if !s.OK {
		t.Errorf("one loss allowed: %v", s.Failures)
	}
	for name, s := range map[string]Summary{
		"loss":       {Events: Events{Published: 10, Lost: 2}},
		"duplicate":  {Events: Events{Published: 10, Duplicated: 1}},
		"order":      {Events: Events{Published: 10, OutOfOrder: 1}},
		"misrouted":  {Events: Events{Published: 10, Misrouted: 1}},
		"nothing":    {},
		"dropped":    {Events: Events{Published: 10}, Dropped: 1},
		"timeout":    {Events: Events{Published: 10}, TimedOut: true},
		"pub errors": {Events: Events{Published: 10, PublishErrors: 1}},
	} {
		s.judge(&cfg)
		if s.OK {
			t.Errorf("%s: OK", name)
		}
	}
	cfg.MaxP99 = 4e6 // 4 ms
	s = Summary{Events: Events{Published: 10, P99ms: 5}}
	if s.judge(&cfg); s.OK {
		t.Error("p99 over the bound: OK")
	}
}
