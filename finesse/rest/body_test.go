package rest

import (
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

func TestParseUserBody(t *testing.T) {
	good := []struct {
		body string
		want agent.StateRequest
	}{
		{"<User><state>READY</state></User>", agent.StateRequest{State: "READY"}},
		{"<User><state>LOGIN</state><extension> 3001 </extension><activeDeviceId>x</activeDeviceId></User>",
			agent.StateRequest{State: "LOGIN", Extension: "3001"}},
		{"<User><state>NOT_READY</state><reasonCodeId>12</reasonCodeId></User>",
			agent.StateRequest{State: "NOT_READY", ReasonCodeID: 12, HasReasonCode: true}},
		{"<User><state>NOT_READY</state><reasonCodeId></reasonCodeId></User>", agent.StateRequest{State: "NOT_READY"}},
		{"\ufeff<?xml version='1.0' encoding='UTF-8'?><!--c--><User xmlns='urn:x'><state>READY</state></User><!--c-->\n",
			agent.StateRequest{State: "READY"}},
	}
	for _, c := range good {
		got, e := parseUserBody([]byte(c.body))
		if e != nil || got != c.want {
			t.Errorf("%q: %+v %+v, want %+v", c.body, got, e, c.want)
		}
	}
	bad := []struct{ body, errType string }{
		{"", errInvalidInput},
		{"   ", errInvalidInput},
		{"<User>", errInvalidInput},
		{"<User><state>READY</state></user>", errInvalidInput},
		{"text<User><state>READY</state></User>", errInvalidInput},
		{"<User><state>READY</state></User>text", errInvalidInput},
		{"<User><state>READY</state></User><x/>", errInvalidInput},
		{"<State><state>READY</state></State>", errInvalidInput},
		{`<?xml version="1.0" encoding="ISO-8859-1"?><User><state>READY</state></User>`, errInvalidInput},
		{`<!DOCTYPE User SYSTEM "http://example.com/x.dtd"><User><state>READY</state></User>`, errInvalidInput},
		{"<User><state>&lt;READY</state><state>&bogus;</state></User>", errInvalidInput},
		{"<User><state>READY</state><reasonCodeId>1.5</reasonCodeId></User>", errInvalidInput},
		{"<User/>", errParameterMissing},
		{"<User><state></state></User>", errParameterMissing},
	}
	for _, c := range bad {
		if _, e := parseUserBody([]byte(c.body)); e == nil || e.status != 400 || e.errType != c.errType {
			t.Errorf("%q: %+v, want 400 %s", c.body, e, c.errType)
		}
	}
}

func TestParseMediaBody(t *testing.T) {
	got, e := parseMediaBody([]byte(`<Media><maxDialogLimit> 4 </maxDialogLimit><state>LOGIN</state>
		<interruptAction>IGNORE</interruptAction><dialogLogoutAction>TRANSFER</dialogLogoutAction></Media>`))
	want := agent.MediaRequest{State: "LOGIN", MaxDialogLimit: 4, InterruptAction: "IGNORE", DialogLogoutAction: "TRANSFER"}
	if e != nil || got != want {
		t.Errorf("LOGIN: %+v %+v, want %+v", got, e, want)
	}
	got, e = parseMediaBody([]byte(`<Media><state>NOT_READY</state><reasonCodeId>3</reasonCodeId></Media>`))
	want = agent.MediaRequest{State: "NOT_READY", ReasonCodeID: 3, HasReasonCode: true}
	if e != nil || got != want {
		t.Errorf("NOT_READY: %+v %+v, want %+v", got, e, want)
	}
	for _, body := range []string{"<Media><state>LOGIN</state><maxDialogLimit>two</maxDialogLimit></Media>", "<Media>", "<User><state>LOGIN</state></User>"} {
		if _, e := parseMediaBody([]byte(body)); e == nil || e.status != 400 || e.errType != errInvalidInput {
			t.Errorf("%q: %+v, want 400 Invalid Input", body, e)
		}
	}
	if _, e := parseMediaBody([]byte("<Media/>")); e != missingState {
		t.Errorf("no state: %+v", e)
	}
}

func TestXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"<a b='&'>":        "&lt;a b=&apos;&amp;&apos;&gt;",
		"tab\tok\nline":    "tab\tok\nline",
		"bell\x07":         "bell\uFFFD",
		"bad \xff utf8":    "bad \uFFFD utf8",
		"\uFFFE\U0001F600": "\uFFFD\U0001F600",
	} {
		if got := xmlText(in); got != want {
			t.Errorf("xmlText(%q) = %q, want %q", in, got, want)
		}
	}
}
