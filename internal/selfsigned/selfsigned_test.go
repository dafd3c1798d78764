package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := generate("Finesse.Example.TEST", "buildhost", now)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(c.PEM)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("PEM is not one certificate: %q", c.PEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"finesse.example.test", "localhost", "buildhost"}; !slices.Equal(cert.DNSNames, want) {
		t.Errorf("DNS names = %v, want %v", cert.DNSNames, want)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP addresses = %v, want %v", ips, want)
	}
	if !cert.NotBefore.Before(now) || !cert.NotAfter.Equal(now.Add(Validity).Truncate(time.Second)) {
		t.Errorf("valid %v to %v, want from before %v for %v", cert.NotBefore, cert.NotAfter, now, Validity)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for _, name := range []string{"finesse.example.test", "localhost", "buildhost", "127.0.0.1", "::1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now.Add(time.Hour)}); err != nil {
			t.Errorf("not valid for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: roots, CurrentTime: now.Add(time.Hour)}); err == nil {
		t.Error("valid for other.test")
	}
	if !slices.Equal(c.Names, []string{"finesse.example.test", "localhost", "buildhost", "127.0.0.1", "::1"}) {
		t.Errorf("Names = %v", c.Names)
	}
}

func TestNamesWithoutDuplicates(t *testing.T) {
	c, err := generate("localhost", "LOCALHOST.", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TLS.Leaf.DNSNames, []string{"localhost"}) {
		t.Errorf("DNS names = %v", c.TLS.Leaf.DNSNames)
	}
	c, err = generate("10.1.2.3", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TLS.Leaf.IPAddresses) != 3 || !c.TLS.Leaf.IPAddresses[2].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("IP addresses = %v, want the domain's address among them", c.TLS.Leaf.IPAddresses)
	}
}

// TestHandshake serves the certificate over a real TLS connection and
// checks that a client trusting only its PEM accepts it.
func TestHandshake(t *testing.T) {
	c, err := Generate("localhost")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{c.TLS}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.(*tls.Conn).Handshake()
	}()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.PEM) {
		t.Fatal("PEM not accepted by a cert pool")
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	conn.Close()
}
