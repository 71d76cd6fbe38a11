// Command signfeed signs an advisory feed for iotgw, after checking that
// the feed parses and validates, and makes signing keys.
//
//	signfeed -key KEY.pem [-out FEED.sig] FEED.json     sign (writes FEED.json.sig)
//	signfeed -genkey -key KEY.pem -pub PUB.pem          make a key pair
//	signfeed -verify [-pub PUB.pem] FEED.json           check FEED.json.sig
//	signfeed -keyid -pub PUB.pem                        print a public key's id
//
// The private key never belongs in the repository; docs/advisories.md
// describes the procedure.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/iotgw/iotgw/pkg/advisory"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "signfeed:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("signfeed", flag.ContinueOnError)
	keyPath := fs.String("key", "", "ed25519 private key, PKCS#8 PEM")
	pubPath := fs.String("pub", "", "public key, PKIX PEM (written by -genkey, read by -verify)")
	out := fs.String("out", "", "signature file to write (default FEED.sig)")
	genkey := fs.Bool("genkey", false, "make a new key pair")
	verifyOnly := fs.Bool("verify", false, "verify FEED with FEED.sig against -pub, or the embedded keys")
	keyID := fs.Bool("keyid", false, "print the key id of -pub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *genkey:
		return genKey(*keyPath, *pubPath)
	case *keyID:
		return printKeyID(*pubPath)
	case fs.NArg() != 1:
		return errors.New("want exactly one feed file")
	case *verifyOnly:
		return verifyFeed(fs.Arg(0), *pubPath)
	}
	return sign(fs.Arg(0), *keyPath, *out)
}

func genKey(keyPath, pubPath string) error {
	if keyPath == "" || pubPath == "" {
		return errors.New("-genkey needs -key and -pub")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privPEM, err := advisory.MarshalPrivateKey(priv)
	if err != nil {
		return err
	}
	pubPEM, err := advisory.MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite an existing signing key.
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	if _, err := f.Write(privPEM); err != nil {
		f.Close()
		return fmt.Errorf("private key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	fmt.Printf("key %s: private %s, public %s\n", advisory.KeyID(pub), keyPath, pubPath)
	return nil
}

func sign(feedPath, keyPath, out string) error {
	if keyPath == "" {
		return errors.New("signing needs -key")
	}
	feed, err := os.ReadFile(feedPath)
	if err != nil {
		return err
	}
	if _, err := advisory.ParseFeed(feed); err != nil {
		return fmt.Errorf("%s: %w (not signed)", feedPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	priv, err := advisory.ParsePrivateKey(keyPEM)
	if err != nil {
		return err
	}
	if out == "" {
		out = feedPath + ".sig"
	}
	if err := os.WriteFile(out, advisory.Sign(priv, feed), 0o644); err != nil {
		return err
	}
	fmt.Printf("signed %s with key %s: %s\n", feedPath, advisory.KeyID(priv.Public().(ed25519.PublicKey)), out)
	return nil
}

func printKeyID(pubPath string) error {
	k, err := readPublicKey(pubPath)
	if err != nil {
		return err
	}
	fmt.Println(advisory.KeyID(k))
	return nil
}

func readPublicKey(pubPath string) (ed25519.PublicKey, error) {
	if pubPath == "" {
		return nil, errors.New("needs -pub")
	}
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return nil, err
	}
	return advisory.ParsePublicKey(b)
}

func verifyFeed(feedPath, pubPath string) error {
	feed, err := os.ReadFile(feedPath)
	if err != nil {
		return err
	}
	sig, err := os.ReadFile(feedPath + ".sig")
	if err != nil {
		return err
	}
	var opts advisory.Options
	if pubPath != "" {
		k, err := readPublicKey(pubPath)
		if err != nil {
			return err
		}
		opts.TrustedKeys = []ed25519.PublicKey{k}
	}
	f, err := advisory.Verify(feed, sig, opts)
	if err != nil {
		return err
	}
	fmt.Printf("%s: version %s, %d advisories, signature good\n", feedPath, f.Version, len(f.Advisories))
	return nil
}
