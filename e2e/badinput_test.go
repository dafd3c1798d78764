package e2e

import (
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/app"
)

// TestBadInputEndsOnlyThatSession sends broken input after login and checks
// the standard error each transport gives it, and that a bystander on the
// same transport carries on. A stream transport answers with an RFC 6120
// stream error; BOSH reads a whole body at once, so a body that is not
// acceptable XML ends the session with the XEP-0124 condition.
func TestBadInputEndsOnlyThatSession(t *testing.T) {
	const maxStanza = 4096
	cases := []struct {
		name  string
		input string
		want  map[string]string // by wire kind
	}{
		{"malformed", `<message xmlns='jabber:client'><body></message>`,
			map[string]string{"tcp": "not-well-formed", "websocket": "not-well-formed", "bosh": "bad-request"}},
		{"dtd", `<!DOCTYPE m [<!ENTITY big "x">]><message xmlns='jabber:client'><body>&big;</body></message>`,
			map[string]string{"tcp": "restricted-xml", "websocket": "restricted-xml", "bosh": "bad-request"}},
		{"undefined entity", `<message xmlns='jabber:client'><body>&nbsp;</body></message>`,
			map[string]string{"tcp": "restricted-xml", "websocket": "restricted-xml", "bosh": "bad-request"}},
		{"oversize stanza", `<message xmlns='jabber:client' to='1002@` + domain + `'><body>` + strings.Repeat("x", maxStanza+10) + `</body></message>`,
			map[string]string{"tcp": "policy-violation", "websocket": "policy-violation", "bosh": "policy-violation"}},
		{"unknown stanza", `<banana xmlns='jabber:client'/>`,
			map[string]string{"tcp": "unsupported-stanza-type", "websocket": "unsupported-stanza-type", "bosh": "unsupported-stanza-type"}},
	}
	forEachTransport(t, func(c *app.Config) { c.MaxStanzaBytes = maxStanza }, func(t *testing.T, tr transport, a *app.App) {
		bystander := online(t, tr, a, "1010", "bystander", 0)
		for _, tc := range cases {
			c := login(t, tr, a, "1001", "victim-"+strings.ReplaceAll(tc.name, " ", "-"))
			must(t, c.Send(tc.input))
			cond, err := c.ExpectEnd()
			must(t, err)
			if cond != tc.want[tr.kind] {
				t.Errorf("%s: ended with %q, want %q", tc.name, cond, tc.want[tr.kind])
			}
			ping(t, bystander)
		}
	})
}
