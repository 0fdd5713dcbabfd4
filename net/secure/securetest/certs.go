// Package securetest writes the certificates TLS tests need: a CA, a
// server certificate for 127.0.0.1 and localhost, a client certificate,
// and a client certificate from another CA, each as PEM, the server's and
// the client's key stores and the trust stores also as PKCS12 and JKS.
package securetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Password protects every PKCS12 and JKS store written.
const Password = "changeit"

// ClientSubject is the client certificate's subject as RFC 2253 writes
// it (the x509 id).
const ClientSubject = "CN=client,O=zabd test"

// Files are the paths written.
type Files struct {
	CA                               string // the CA certificate (PEM): a trust store
	ServerPEM, ServerP12, ServerJKS  string // the server's key stores
	TrustP12, TrustJKS               string // the CA as trust stores
	ClientCert, ClientKey, ClientPEM string // the client's certificate, key, and both in one file
	ClientP12                        string
	OtherCert, OtherKey              string // a client certificate from another CA
	ServerCert                       *x509.Certificate
	CAPool                           *x509.CertPool
	Client                           tls.Certificate
	OtherClient                      tls.Certificate
	ServerName                       string
	caCert                           *x509.Certificate
}

// Write makes the certificates and stores in dir.
func Write(t testing.TB, dir string) Files {
	t.Helper()
	ca, caKey := newCA(t, "zabd test CA")
	other, otherKey := newCA(t, "another CA")
	serverCert, serverKey := issue(t, ca, caKey, pkix.Name{CommonName: "localhost", Organization: []string{"zabd test"}}, true)
	clientCert, clientKey := issue(t, ca, caKey, pkix.Name{CommonName: "client", Organization: []string{"zabd test"}}, false)
	otherCert, otherKeyLeaf := issue(t, other, otherKey, pkix.Name{CommonName: "intruder"}, false)

	p := func(name string) string { return filepath.Join(dir, name) }
	f := Files{CA: p("ca.pem"), ServerPEM: p("server.pem"), ServerP12: p("server.p12"), ServerJKS: p("server.jks"),
		TrustP12: p("trust.p12"), TrustJKS: p("trust.jks"), ClientCert: p("client.crt"), ClientKey: p("client.key"),
		ClientPEM: p("client.pem"), ClientP12: p("client.p12"), OtherCert: p("other.crt"), OtherKey: p("other.key"),
		ServerCert: serverCert, ServerName: "localhost", caCert: ca}
	write(t, f.CA, pemCert(ca))
	write(t, f.ServerPEM, append(pemKey(t, serverKey), append(pemCert(serverCert), pemCert(ca)...)...))
	write(t, f.ClientCert, pemCert(clientCert))
	write(t, f.ClientKey, pemKey(t, clientKey))
	write(t, f.ClientPEM, append(pemKey(t, clientKey), pemCert(clientCert)...))
	write(t, f.OtherCert, pemCert(otherCert))
	write(t, f.OtherKey, pemKey(t, otherKeyLeaf))
	for path, key := range map[string]struct {
		k    *ecdsa.PrivateKey
		leaf *x509.Certificate
	}{f.ServerP12: {serverKey, serverCert}, f.ClientP12: {clientKey, clientCert}} {
		b, err := pkcs12.Modern.Encode(key.k, key.leaf, []*x509.Certificate{ca}, Password)
		if err != nil {
			t.Fatal(err)
		}
		write(t, path, b)
	}
	tp, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, Password)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f.TrustP12, tp)
	writeJKS(t, f.ServerJKS, func(ks keystore.KeyStore) {
		der, err := x509.MarshalPKCS8PrivateKey(serverKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.SetPrivateKeyEntry("server", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der,
			CertificateChain: []keystore.Certificate{{Type: "X509", Content: serverCert.Raw}, {Type: "X509", Content: ca.Raw}}}, []byte(Password)); err != nil {
			t.Fatal(err)
		}
	})
	writeJKS(t, f.TrustJKS, func(ks keystore.KeyStore) {
		if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
			Certificate: keystore.Certificate{Type: "X509", Content: ca.Raw}}); err != nil {
			t.Fatal(err)
		}
	})
	f.CAPool = x509.NewCertPool()
	f.CAPool.AddCert(ca)
	f.Client = tls.Certificate{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey, Leaf: clientCert}
	f.OtherClient = tls.Certificate{Certificate: [][]byte{otherCert.Raw}, PrivateKey: otherKeyLeaf, Leaf: otherCert}
	return f
}

// ClientConfig is a client's TLS configuration trusting the CA, with
// cert (none when nil).
func (f Files) ClientConfig(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: f.CAPool, ServerName: f.ServerName, MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// RotateServer writes a new server certificate (same CA, new serial and
// key) into the PEM key store and returns it.
func (f Files) RotateServer(t testing.TB) *x509.Certificate {
	t.Helper()
	caMu.Lock()
	caKey := caKeys[f.caCert.SerialNumber.String()]
	caMu.Unlock()
	cert, key := issue(t, f.caCert, caKey, pkix.Name{CommonName: "localhost", Organization: []string{"zabd test", "rotated"}}, true)
	write(t, f.ServerPEM, append(pemKey(t, key), append(pemCert(cert), pemCert(f.caCert)...)...))
	return cert
}

var (
	caMu   sync.Mutex
	caKeys = map[string]*ecdsa.PrivateKey{}
	serial atomic.Int64
)

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1) + 1000), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	caMu.Lock()
	caKeys[c.SerialNumber.String()] = key
	caMu.Unlock()
	return c, key
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, subj pkix.Name, server bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1) + 1000), Subject: subj,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t testing.TB, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	// Write then rename, so a reader never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeJKS(t testing.TB, path string, fill func(keystore.KeyStore)) {
	t.Helper()
	ks := keystore.New()
	fill(ks)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ks.Store(f, []byte(Password)); err != nil {
		t.Fatal(err)
	}
}
