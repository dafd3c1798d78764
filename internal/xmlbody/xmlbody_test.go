package xmlbody

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type user struct {
	State string `xml:"state"`
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		body, wantErr string
	}{
		{"<User><state>READY</state></User>", ""},
		{"\xEF\xBB\xBF<?xml version='1.0'?>\n<!-- c --><User><state>READY</state></User>\n<?pi x?> ", ""},
		{"", "no root element"},
		{"<Media/>", "the root element is <Media>, not <User>"},
		{"x<User/>", "text before the root element"},
		{"<User/>x", "text after the root element"},
		{"<User/><User/>", "content after the root element"},
		{"<!DOCTYPE User><User/>", "DTDs are not accepted"},
		{"<User/><!DOCTYPE User>", "DTDs are not accepted"},
		{"<User><state>READY</User>", "line 1: "},
		{"<User>&x;</User>", "line 1: "},
	} {
		var u user
		err := Decode([]byte(c.body), "User", &u)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q: %v", c.body, err)
		case c.wantErr == "" && u.State != "READY":
			t.Errorf("%q: state %q", c.body, u.State)
		case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
			t.Errorf("%q: error %v, want %q", c.body, err, c.wantErr)
		}
	}
}

func TestRead(t *testing.T) {
	read := func(body string, contentLength int64) ([]byte, error) {
		r := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(body))
		r.ContentLength = contentLength
		return Read(httptest.NewRecorder(), r, 8)
	}
	if b, err := read("12345678", 8); err != nil || string(b) != "12345678" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := read("123456789", 9); err != ErrTooLarge {
		t.Errorf("declared over the limit: %v", err)
	}
	if _, err := read("123456789", -1); err != ErrTooLarge {
		t.Errorf("sent over the limit without a length: %v", err)
	}
}
