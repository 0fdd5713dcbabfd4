// Package secure builds the TLS side of zabd's client ports from Apache
// ZooKeeper's ssl.* keys: a key store (PKCS12, PEM or JKS) holding the
// server's key and certificate chain, a trust store (the same types)
// holding the CAs that client certificates must chain to, ssl.clientAuth
// (none, want, need; ZooKeeper's default is need), ssl.protocol,
// ssl.enabledProtocols and ssl.ciphersuites.
//
// Invariants: a configuration that cannot be loaded is refused at start
// with the file, its type and what is wrong; once serving, the stores are
// read again when their files change (checked at most once a second, at a
// handshake), a change that does not load is logged once and the previous
// certificates go on being used, so a half-written file never takes the
// port down; every handshake uses one consistent pair of stores.
package secure

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Config is the ssl.* keys.
type Config struct {
	KeyStore, KeyStorePassword, KeyStoreType       string
	TrustStore, TrustStorePassword, TrustStoreType string
	// ClientAuth is none, want or need ("" is need, as ZooKeeper).
	ClientAuth string
	// Protocol is ssl.protocol (default TLSv1.2, ZooKeeper 3.8's): the
	// newest version offered. EnabledProtocols, if set, lists the
	// versions allowed instead.
	Protocol         string
	EnabledProtocols []string
	// CipherSuites are ssl.ciphersuites by their IANA names (Java's and
	// Go's are the same); TLS 1.3's suites are not configurable.
	CipherSuites []string
	Logger       *slog.Logger
	// Now is the clock for the reload checks; default time.Now.
	Now func() time.Time
}

// Store types, as ZooKeeper's ssl.keyStore.type takes them.
const (
	TypePKCS12 = "PKCS12"
	TypePEM    = "PEM"
	TypeJKS    = "JKS"
)

// Reloader serves the current certificates to handshakes.
type Reloader struct {
	cfg  Config
	base *tls.Config // protocol, suites, client auth

	mu        sync.Mutex
	cur       *tls.Config
	stamp     string // the stores' files' size and mtime when cur was loaded
	checked   time.Time
	badStamp  string // a change that did not load, logged once
	reloadErr error
}

// New loads the stores and checks every key; errors name the file.
func New(cfg Config) (*Reloader, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyStore == "" {
		return nil, errors.New("secure: ssl.keyStore.location is not set: a TLS port needs the server's key and certificate")
	}
	base := &tls.Config{}
	switch strings.ToLower(cfg.ClientAuth) {
	case "", "need":
		base.ClientAuth = tls.RequireAndVerifyClientCert
	case "want":
		base.ClientAuth = tls.VerifyClientCertIfGiven
	case "none":
		base.ClientAuth = tls.NoClientCert
	default:
		return nil, fmt.Errorf("secure: ssl.clientAuth=%q: want none, want or need", cfg.ClientAuth)
	}
	if err := versions(base, cfg.Protocol, cfg.EnabledProtocols); err != nil {
		return nil, err
	}
	if len(cfg.CipherSuites) > 0 {
		byName := map[string]uint16{}
		for _, cs := range tls.CipherSuites() {
			byName[cs.Name] = cs.ID
		}
		for _, n := range cfg.CipherSuites {
			n = strings.TrimSpace(n)
			id, ok := byName[n]
			if !ok {
				if strings.HasPrefix(n, "TLS_AES_") || strings.HasPrefix(n, "TLS_CHACHA20_") {
					continue // TLS 1.3's: always on in Go
				}
				return nil, fmt.Errorf("secure: ssl.ciphersuites: %q is not a cipher suite zabd offers (secure ones only; e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
			}
			base.CipherSuites = append(base.CipherSuites, id)
		}
	}
	r := &Reloader{cfg: cfg, base: base}
	cur, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cur, r.stamp, r.checked = cur, r.fileStamp(), cfg.Now()
	return r, nil
}

// versions sets base's version range from ssl.protocol and
// ssl.enabledProtocols.
func versions(base *tls.Config, protocol string, enabled []string) error {
	parse := func(key, p string) (uint16, error) {
		switch strings.TrimSpace(p) {
		case "TLSv1.2":
			return tls.VersionTLS12, nil
		case "TLSv1.3", "TLS":
			return tls.VersionTLS13, nil
		case "TLSv1", "TLSv1.1", "SSLv3":
			return 0, fmt.Errorf("secure: %s=%s: zabd offers TLS 1.2 and 1.3 only", key, p)
		}
		return 0, fmt.Errorf("secure: %s=%q: want TLSv1.2 or TLSv1.3", key, p)
	}
	if len(enabled) > 0 {
		for _, p := range enabled {
			v, err := parse("ssl.enabledProtocols", p)
			if err != nil {
				return err
			}
			if base.MinVersion == 0 || v < base.MinVersion {
				base.MinVersion = v
			}
			base.MaxVersion = max(base.MaxVersion, v)
		}
		return nil
	}
	if protocol == "" {
		protocol = "TLSv1.2"
	}
	v, err := parse("ssl.protocol", protocol)
	if err != nil {
		return err
	}
	base.MinVersion, base.MaxVersion = tls.VersionTLS12, v
	return nil
}

// TLSConfig is the configuration to serve with: each handshake gets the
// stores as they are now.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         r.base.MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.current(), nil },
	}
}

// ServerConfigMutual is TLSConfig for members (sslQuorum): a client
// certificate is required and verified whatever ssl.clientAuth says.
func (r *Reloader) ServerConfigMutual() *tls.Config {
	return &tls.Config{
		MinVersion: r.base.MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := r.current().Clone()
			c.ClientAuth = tls.RequireAndVerifyClientCert
			return c, nil
		},
	}
}

// ClientConfig is the configuration to dial addr (host:port) with as a
// member: the key store's certificate, the trust store's CAs, the
// server's name checked against addr's host unless verifyHost is false
// (ssl.quorum.hostnameVerification=false: the chain is still checked).
func (r *Reloader) ClientConfig(addr string, verifyHost bool) *tls.Config {
	cur := r.current()
	host, _, err := stdnet.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c := &tls.Config{
		Certificates: cur.Certificates,
		RootCAs:      cur.ClientCAs,
		ServerName:   host,
		MinVersion:   cur.MinVersion,
		MaxVersion:   cur.MaxVersion,
		CipherSuites: cur.CipherSuites,
	}
	if !verifyHost {
		pool := cur.ClientCAs
		c.InsecureSkipVerify = true // the chain is verified below, the name is not
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, len(raw))
			for i, b := range raw {
				cert, err := x509.ParseCertificate(b)
				if err != nil {
					return err
				}
				certs[i] = cert
			}
			if len(certs) == 0 {
				return errors.New("secure: the member sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range certs[1:] {
				inter.AddCert(ic)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		}
	}
	return c
}

// current reloads the stores if their files changed (checked at most
// once a second) and returns the configuration to use.
func (r *Reloader) current() *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if now.Sub(r.checked) < time.Second {
		return r.cur
	}
	r.checked = now
	stamp := r.fileStamp()
	if stamp == r.stamp || stamp == r.badStamp {
		return r.cur
	}
	cur, err := r.load()
	if err != nil {
		r.badStamp, r.reloadErr = stamp, err
		r.cfg.Logger.Error("TLS: the key or trust store changed but does not load; still serving the previous certificates", "err", err)
		return r.cur
	}
	r.cur, r.stamp, r.badStamp, r.reloadErr = cur, stamp, "", nil
	r.cfg.Logger.Info("TLS: reloaded the key and trust stores", "key_store", r.cfg.KeyStore, "trust_store", r.cfg.TrustStore)
	return r.cur
}

// fileStamp identifies the stores' current contents by size and mtime.
func (r *Reloader) fileStamp() string {
	var b strings.Builder
	for _, p := range []string{r.cfg.KeyStore, r.cfg.TrustStore} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", p, st.Size(), st.ModTime().UnixNano())
		} else {
			fmt.Fprintf(&b, "%s:missing;", p)
		}
	}
	return b.String()
}

// load reads both stores into a complete configuration.
func (r *Reloader) load() (*tls.Config, error) {
	cert, err := loadKeyStore(r.cfg.KeyStore, r.cfg.KeyStoreType, r.cfg.KeyStorePassword)
	if err != nil {
		return nil, err
	}
	c := r.base.Clone()
	c.Certificates = []tls.Certificate{cert}
	if r.cfg.TrustStore != "" {
		pool, err := loadTrustStore(r.cfg.TrustStore, r.cfg.TrustStoreType, r.cfg.TrustStorePassword)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
	}
	return c, nil
}

// storeType is ssl.*.type, or what the file's name says, as ZooKeeper's
// KeyStoreFileType.fromPropertyValueOrFileName.
func storeType(path, typ string) (string, error) {
	if typ != "" {
		switch t := strings.ToUpper(typ); t {
		case TypePKCS12, TypePEM, TypeJKS:
			return t, nil
		case "BCFKS":
			return "", fmt.Errorf("%s: store type BCFKS is not supported: convert it with keytool -importkeystore -destkeystore store.p12 -deststoretype PKCS12", path)
		}
		return "", fmt.Errorf("%s: store type %q: want PKCS12, PEM or JKS", path, typ)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".p12", ".pfx":
		return TypePKCS12, nil
	case ".pem", ".crt", ".key":
		return TypePEM, nil
	case ".jks":
		return TypeJKS, nil
	}
	return "", fmt.Errorf("%s: cannot tell the store's type from its name: set ssl.keyStore.type (or ssl.trustStore.type) to PKCS12, PEM or JKS", path)
}

func loadKeyStore(path, typ, password string) (tls.Certificate, error) {
	t, err := storeType(path, typ)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("secure: key store %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("secure: key store: %w", err)
	}
	fail := func(err error) (tls.Certificate, error) {
		return tls.Certificate{}, fmt.Errorf("secure: key store %s (%s): %w", path, t, err)
	}
	var key crypto.PrivateKey
	var chain []*x509.Certificate
	switch t {
	case TypePEM:
		var der [][]byte
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch {
			case b.Type == "CERTIFICATE":
				der = append(der, b.Bytes)
			case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
				return fail(errors.New("the private key is encrypted, which zabd cannot read: write it unencrypted (openssl pkcs8 -topk8 -nocrypt) and protect the file instead"))
			case strings.HasSuffix(b.Type, "PRIVATE KEY"):
				if key, err = parseKey(b.Bytes); err != nil {
					return fail(err)
				}
			}
		}
		for _, d := range der {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				return fail(err)
			}
			chain = append(chain, c)
		}
	case TypePKCS12:
		k, leaf, cas, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			return fail(err)
		}
		key, chain = k, append([]*x509.Certificate{leaf}, cas...)
	case TypeJKS:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return fail(err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
			if err != nil {
				return fail(fmt.Errorf("entry %q: %w", alias, err))
			}
			if key, err = parseKey(e.PrivateKey); err != nil {
				return fail(fmt.Errorf("entry %q: %w", alias, err))
			}
			for _, c := range e.CertificateChain {
				cert, err := x509.ParseCertificate(c.Content)
				if err != nil {
					return fail(fmt.Errorf("entry %q: %w", alias, err))
				}
				chain = append(chain, cert)
			}
			break
		}
	}
	if key == nil {
		return fail(errors.New("no private key in it"))
	}
	if len(chain) == 0 {
		return fail(errors.New("no certificate in it"))
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	if err := matches(chain[0], key); err != nil {
		return fail(err)
	}
	return cert, nil
}

// matches checks that key is the private half of cert's public key.
func matches(cert *x509.Certificate, key crypto.PrivateKey) error {
	pk, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return fmt.Errorf("unsupported private key type %T", key)
	}
	eq, ok := pk.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cert.PublicKey) {
		return fmt.Errorf("the private key does not match the certificate for %q", cert.Subject)
	}
	return nil
}

func parseKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("a private key that is neither PKCS#8, PKCS#1 nor SEC 1")
}

func loadTrustStore(path, typ, password string) (*x509.CertPool, error) {
	t, err := storeType(path, typ)
	if err != nil {
		return nil, fmt.Errorf("secure: trust store %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secure: trust store: %w", err)
	}
	fail := func(err error) (*x509.CertPool, error) {
		return nil, fmt.Errorf("secure: trust store %s (%s): %w", path, t, err)
	}
	pool := x509.NewCertPool()
	n := 0
	add := func(der []byte) error {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		pool.AddCert(c)
		n++
		return nil
	}
	switch t {
	case TypePEM:
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				if err := add(b.Bytes); err != nil {
					return fail(err)
				}
			}
		}
	case TypePKCS12:
		certs, err := pkcs12.DecodeTrustStore(data, password)
		if err != nil {
			// A PKCS12 store with a key (a key store used as the trust
			// store): trust its chain.
			_, leaf, cas, err2 := pkcs12.DecodeChain(data, password)
			if err2 != nil {
				return fail(err)
			}
			certs = append([]*x509.Certificate{leaf}, cas...)
		}
		for _, c := range certs {
			pool.AddCert(c)
			n++
		}
	case TypeJKS:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
			return fail(err)
		}
		for _, alias := range ks.Aliases() {
			if ks.IsTrustedCertificateEntry(alias) {
				e, err := ks.GetTrustedCertificateEntry(alias)
				if err != nil {
					return fail(err)
				}
				if err := add(e.Certificate.Content); err != nil {
					return fail(err)
				}
			}
		}
	}
	if n == 0 {
		return fail(errors.New("no certificate in it"))
	}
	return pool, nil
}

// ClientID is the x509 scheme's id for a verified client certificate:
// its subject as RFC 2253 writes it (what ZooKeeper's X509AuthenticationProvider
// takes, X500Principal.getName()).
func ClientID(cert *x509.Certificate) string { return cert.Subject.String() }
