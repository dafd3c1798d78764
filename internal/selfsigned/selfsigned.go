package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// Validity is how long a generated certificate is valid.
const Validity = 365 * 24 * time.Hour

// Certificate is a generated certificate and its key.
type Certificate struct {
	// TLS is ready for tls.Config.Certificates.
	TLS tls.Certificate
	// PEM is the certificate (not the key) in PEM form, for clients to trust.
	PEM []byte
	// Names are the DNS names and IP addresses it is valid for.
	Names []string
}

// Generate makes a self-signed certificate valid for domain, localhost,
// 127.0.0.1, ::1 and the host name (when it can be read), from a minute ago
// for Validity. It is its own CA (basic constraints CA:TRUE), so a client
// can trust it directly as a root.
func Generate(domain string) (*Certificate, error) {
	host, _ := os.Hostname()
	return generate(domain, host, time.Now())
}

func generate(domain, hostname string, now time.Time) (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: serial: %w", err)
	}
	dnsNames, ips := sans(domain, hostname)
	commonName := domain
	if commonName == "" {
		commonName = "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   commonName,
			Organization: []string{"finesse-notify (self-signed)"},
		},
		NotBefore:             now.Add(-time.Minute), // tolerate a little clock skew
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: parse: %w", err)
	}
	names := append([]string(nil), dnsNames...)
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	return &Certificate{
		TLS:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		PEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Names: names,
	}, nil
}

// sans lists the subject alternative names without duplicates; a domain or
// host name that is an IP address goes among the addresses.
func sans(domain, hostname string) ([]string, []net.IP) {
	dnsNames := []string{}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	seen := map[string]bool{"127.0.0.1": true, "::1": true}
	for _, n := range []string{domain, "localhost", hostname} {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		if !seen[n] {
			seen[n] = true
			dnsNames = append(dnsNames, n)
		}
	}
	return dnsNames, ips
}
