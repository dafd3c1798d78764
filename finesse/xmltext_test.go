package finesse

import "testing"

func TestAppendTextAndAttr(t *testing.T) {
	cases := []struct{ in, text, attr string }{
		{"plain", "plain", "plain"},
		{`a&b<c>d"e'f`, `a&amp;b&lt;c&gt;d"e'f`, `a&amp;b&lt;c&gt;d&quot;e'f`},
		{"cr\r lf\n tab\t", "cr&#xD; lf\n tab\t", "cr&#xD; lf&#xA; tab&#x9;"},
		{"nul\x00 esc\x1b", "nul\ufffd esc\ufffd", "nul\ufffd esc\ufffd"},
		{"bad\xff utf8", "bad\ufffd utf8", "bad\ufffd utf8"},
		{"é ✓ 𝄞", "é ✓ 𝄞", "é ✓ 𝄞"},
	}
	for _, c := range cases {
		if got := string(AppendText(nil, c.in)); got != c.text {
			t.Errorf("AppendText(%q) = %q, want %q", c.in, got, c.text)
		}
		if got := string(AppendAttr(nil, c.in)); got != c.attr {
			t.Errorf("AppendAttr(%q) = %q, want %q", c.in, got, c.attr)
		}
	}
}
