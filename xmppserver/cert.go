package xmppserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Self-signed certificate file names in the data directory.
const (
	SelfSignedCert = "tls-cert.pem"
	SelfSignedKey  = "tls-key.pem"
)

// LoadCertificate loads the certificate of certFile and keyFile when both
// are set; otherwise it loads the self-signed one kept in dataDir, making it
// (for names) on first use. created reports a new certificate.
func LoadCertificate(certFile, keyFile, dataDir string, names []string) (cert tls.Certificate, created bool, err error) {
	if certFile != "" || keyFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cert, false, fmt.Errorf("load certificate %s: %w", certFile, err)
		}
		return cert, false, nil
	}
	cf, kf := filepath.Join(dataDir, SelfSignedCert), filepath.Join(dataDir, SelfSignedKey)
	cert, err = tls.LoadX509KeyPair(cf, kf)
	if err == nil {
		return cert, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return cert, false, fmt.Errorf("load self-signed certificate %s: %w", cf, err)
	}
	certPEM, keyPEM, err := selfSigned(names)
	if err != nil {
		return cert, false, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return cert, false, fmt.Errorf("data directory: %w", err)
	}
	if err := os.WriteFile(kf, keyPEM, 0o600); err != nil {
		return cert, false, fmt.Errorf("write %s: %w", kf, err)
	}
	if err := os.WriteFile(cf, certPEM, 0o644); err != nil {
		return cert, false, fmt.Errorf("write %s: %w", cf, err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, true, err
}

// selfSigned makes an ECDSA P-256 certificate for names, valid ten years.
func selfSigned(names []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	cn := "cusax-bridge"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"cusax-bridge self-signed"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// Fingerprint returns the SHA-256 fingerprint of the leaf certificate, as
// colon-separated upper-case hex (the form users compare by eye and the
// provisioning document's TLS pin).
func Fingerprint(cert tls.Certificate) string {
	if len(cert.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(cert.Certificate[0])
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
