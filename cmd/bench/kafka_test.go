package main

import (
	"context"
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
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMutualTLS: --tls-ca, --tls-cert and --tls-key reach a broker that
// requires a client certificate; without the certificate it refuses.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := cert(t, nil, nil, "ca", true)
	srv, srvKey := cert(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := cert(t, ca, caKey, "bench", false)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	certFile := write("client.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cli.Raw})
	keyFile := write("client.key", keyBlock(t, cliKey))

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srvPair := tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srvPair},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := func(k kafkaFlags) error {
		opts, err := k.opts()
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.brokers...), kgo.DisableClientMetrics(), kgo.RequestRetries(0)}, opts...)...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	}
	addrs := c.ListenAddrs()
	if err := ping(kafkaFlags{brokers: addrs, tlsCA: caFile, tlsCert: certFile, tlsKey: keyFile}); err != nil {
		t.Errorf("with the client certificate: %v", err)
	}
	if err := ping(kafkaFlags{brokers: addrs, tlsCA: caFile}); err == nil {
		t.Error("without a client certificate: the broker answered; want it to refuse")
	}
	if _, err := (&kafkaFlags{brokers: addrs, tlsCert: certFile, tlsKey: caFile}).opts(); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("a key file without a key: got %v, want an error naming --tls-key", err)
	}
}

// TestOAuthTokenFile: the OAUTHBEARER token is read from its file at every
// authentication, so a refreshed token is used.
func TestOAuthTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := kafkaFlags{saslMechanism: "OAUTHBEARER", saslTokenFile: p, brokers: []string{"127.0.0.1:9092"}}
	token, err := k.oauthToken()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := token(); got != "first" || err != nil {
		t.Errorf("token: got %q, %v; want first", got, err)
	}
	if err := os.WriteFile(p, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := token(); got != "second" || err != nil {
		t.Errorf("token after a refresh: got %q, %v; want second", got, err)
	}
	if _, err := k.opts(); err != nil {
		t.Errorf("opts: %v", err)
	}
}

func cert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: isCA}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func keyBlock(t *testing.T, k *ecdsa.PrivateKey) *pem.Block {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
}
