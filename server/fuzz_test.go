package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzStreamDecoder feeds arbitrary bytes to the stream parser. It must
// never panic, must end with io.EOF, an unexpected EOF or a stream error,
// and whatever elements it returns must serialise to XML it parses again.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'><iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`))
	f.Add([]byte(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a:b xmlns:a='urn:a' a:c='d'>t&amp;x</a:b>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<s><m xml:lang='en'><![CDATA[<hi>]]></m>  </s>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewStreamDecoder(bufio.NewReader(bytes.NewReader(data)), Limits{MaxBytes: 4096, MaxDepth: 16})
		for range 1000 {
			ev, err := d.Next()
			if err != nil {
				var se *StreamError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &se) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if ev.Kind == EventElement {
				out := Serialize(ev.Element)
				if _, err := ParseDocument(out, Limits{MaxBytes: 1 << 20, MaxDepth: 64}); err != nil {
					t.Fatalf("re-parse of %q failed: %v", out, err)
				}
			}
		}
	})
}
