package server

import "io"

// Packet is one top-level element ready to be written to a client, held as
// byte segments. Segments are never modified once in a Packet, so the
// fan-out path can render an event once, share its bytes between all
// recipients, and build only the per-recipient parts (the `to` address and
// the message id).
type Packet struct {
	head []byte
	rest [][]byte
	size int
}

// NewPacket wraps b, which must not be modified afterwards.
func NewPacket(b []byte) Packet { return Packet{head: b, size: len(b)} }

// NewPacketSegments joins segs without copying them.
func NewPacketSegments(segs ...[]byte) Packet {
	if len(segs) == 0 {
		return Packet{}
	}
	p := Packet{head: segs[0], rest: segs[1:]}
	for _, s := range segs {
		p.size += len(s)
	}
	return p
}

// Len is the packet's size in bytes.
func (p Packet) Len() int { return p.size }

// AppendTo appends the packet's bytes to dst.
func (p Packet) AppendTo(dst []byte) []byte {
	dst = append(dst, p.head...)
	for _, s := range p.rest {
		dst = append(dst, s...)
	}
	return dst
}

// Bytes returns the packet as one slice (a copy when it has several segments).
func (p Packet) Bytes() []byte {
	if len(p.rest) == 0 {
		return p.head
	}
	return p.AppendTo(make([]byte, 0, p.size))
}

// WriteTo writes the packet's segments to w.
func (p Packet) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(p.head)
	total := int64(n)
	for _, s := range p.rest {
		if err != nil {
			return total, err
		}
		n, err = w.Write(s)
		total += int64(n)
	}
	return total, err
}
