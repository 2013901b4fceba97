package accounts

import (
	"context"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"sort"
	"strings"

	"cusax.dev/bridge/store"
)

// Errors returned by Accounts.
var (
	ErrExists      = errors.New("accounts: account exists")
	ErrNotFound    = errors.New("accounts: no such account")
	ErrInvalidName = errors.New("accounts: invalid account name (1–64 of a-z 0-9 . _ -, starting with a letter or digit)")
	ErrBadPassword = errors.New("accounts: password must be 1–1024 bytes without NUL")
)

// DefaultIterations is the PBKDF2 iteration count of new SCRAM keys
// (RFC 7677 §4 recommends at least 4096).
const DefaultIterations = 4096

// SCRAM mechanism names whose keys are stored.
const (
	ScramSHA1   = "SCRAM-SHA-1"
	ScramSHA256 = "SCRAM-SHA-256"
)

// Digest algorithms whose HA1 is stored.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName reports whether name can be an account: a JID localpart and a
// SIP user part that need no escaping.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Options configure Accounts.
type Options struct {
	Store     store.AccountStore
	Host      string // xmpp.host: JIDs are NAME@Host
	SIPDomain string // sip.domain: AORs are sip:NAME@SIPDomain
	Realm     string // sip.auth.realm: the digest realm of the HA1 values
	// Video marks the account's vCard TEL with the video type (accounts.video).
	Video bool
	// Iterations of PBKDF2 for new SCRAM keys; DefaultIterations if 0.
	Iterations int
}

// Accounts manages the shared accounts. It is safe for concurrent use; every
// read goes to the store, so changes made by another process on the same
// database (bridge user …) take effect at once.
type Accounts struct {
	o Options
}

// New returns Accounts over o.Store.
func New(o Options) (*Accounts, error) {
	if o.Store == nil {
		return nil, errors.New("accounts: nil store")
	}
	if o.Host == "" || o.SIPDomain == "" || o.Realm == "" {
		return nil, errors.New("accounts: host, SIP domain and realm are required")
	}
	if o.Iterations <= 0 {
		o.Iterations = DefaultIterations
	}
	return &Accounts{o: o}, nil
}

// Host returns the XMPP domain of the accounts.
func (a *Accounts) Host() string { return a.o.Host }

// Video reports whether vCard TELs carry the video type.
func (a *Accounts) Video() bool { return a.o.Video }

// JID returns NAME@host.
func (a *Accounts) JID(name string) string { return name + "@" + a.o.Host }

// AOR returns sip:NAME@sip.domain, the account's SIP address of record and
// its locked vCard TEL.
func (a *Accounts) AOR(name string) string { return "sip:" + name + "@" + a.o.SIPDomain }

// Derive computes the stored form of password for name.
func (a *Accounts) Derive(name, password string) (store.Account, error) {
	if !ValidName(name) {
		return store.Account{}, ErrInvalidName
	}
	if password == "" || len(password) > 1024 || strings.ContainsRune(password, 0) {
		return store.Account{}, ErrBadPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return store.Account{}, fmt.Errorf("accounts: salt: %w", err)
	}
	s1, err := pbkdf2.Key(sha1.New, password, salt, a.o.Iterations, sha1.Size)
	if err != nil {
		return store.Account{}, fmt.Errorf("accounts: pbkdf2: %w", err)
	}
	s256, err := pbkdf2.Key(sha256.New, password, salt, a.o.Iterations, sha256.Size)
	if err != nil {
		return store.Account{}, fmt.Errorf("accounts: pbkdf2: %w", err)
	}
	return store.Account{
		Name: name, Realm: a.o.Realm,
		HA1MD5:    HA1(md5.New, name, a.o.Realm, password),
		HA1SHA256: HA1(sha256.New, name, a.o.Realm, password),
		Salt:      salt, Iterations: a.o.Iterations, SaltedSHA1: s1, SaltedSHA256: s256,
	}, nil
}

// HA1 is hex(H(user:realm:password)) (RFC 7616 §3.4.2).
func HA1(h func() hash.Hash, user, realm, password string) string {
	d := h()
	d.Write([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(d.Sum(nil))
}

// Add creates an account. It fails with ErrExists if the name is taken.
func (a *Accounts) Add(ctx context.Context, name, password string) error {
	acc, err := a.Derive(name, password)
	if err != nil {
		return err
	}
	if _, ok, err := a.o.Store.Account(ctx, name); err != nil {
		return err
	} else if ok {
		return ErrExists
	}
	return a.o.Store.SaveAccount(ctx, acc)
}

// SetPassword replaces the password of an existing account.
func (a *Accounts) SetPassword(ctx context.Context, name, password string) error {
	acc, err := a.Derive(name, password)
	if err != nil {
		return err
	}
	if _, ok, err := a.o.Store.Account(ctx, name); err != nil {
		return err
	} else if !ok {
		return ErrNotFound
	}
	return a.o.Store.SaveAccount(ctx, acc)
}

// Delete removes an account with its roster and vCard.
func (a *Accounts) Delete(ctx context.Context, name string) error {
	ok, err := a.o.Store.DeleteAccount(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// List returns the account names, sorted.
func (a *Accounts) List(ctx context.Context) ([]string, error) {
	accs, err := a.o.Store.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(accs))
	for _, x := range accs {
		out = append(out, x.Name)
	}
	sort.Strings(out)
	return out, nil
}

// Exists reports whether the account exists.
func (a *Accounts) Exists(ctx context.Context, name string) (bool, error) {
	_, ok, err := a.o.Store.Account(ctx, name)
	return ok, err
}

// Check verifies a plain password (SASL PLAIN over TLS, HTTP Basic on the
// provisioning endpoint) against the stored SCRAM-SHA-256 key, in constant
// time. An unknown account costs the same PBKDF2 work as a known one.
func (a *Accounts) Check(ctx context.Context, name, password string) (bool, error) {
	acc, ok, err := a.o.Store.Account(ctx, name)
	if err != nil {
		return false, err
	}
	salt, iter, want := acc.Salt, acc.Iterations, acc.SaltedSHA256
	if !ok {
		salt, iter, want = make([]byte, 16), a.o.Iterations, make([]byte, sha256.Size)
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return false, nil
	}
	return ok && subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Salted returns the SCRAM salt, salted password and iteration count of
// name for mechanism mech (ScramSHA1 or ScramSHA256).
func (a *Accounts) Salted(ctx context.Context, name, mech string) (salt, salted []byte, iter int, err error) {
	acc, ok, err := a.o.Store.Account(ctx, name)
	if err != nil {
		return nil, nil, 0, err
	}
	if !ok {
		return nil, nil, 0, ErrNotFound
	}
	switch mech {
	case ScramSHA1:
		return acc.Salt, acc.SaltedSHA1, acc.Iterations, nil
	case ScramSHA256:
		return acc.Salt, acc.SaltedSHA256, acc.Iterations, nil
	}
	return nil, nil, 0, fmt.Errorf("accounts: no keys for mechanism %q", mech)
}

// DigestHA1 returns the stored HA1 of user for algorithm (MD5 or SHA-256)
// when the account exists and realm is the one its HA1 was computed for.
func (a *Accounts) DigestHA1(ctx context.Context, user, realm, algorithm string) (string, bool) {
	acc, ok, err := a.o.Store.Account(ctx, user)
	if err != nil || !ok || acc.Realm != realm {
		return "", false
	}
	switch algorithm {
	case MD5:
		return acc.HA1MD5, true
	case SHA256:
		return acc.HA1SHA256, true
	}
	return "", false
}

// Binding returns the JID bound to a SIP AOR by an account, for the
// identity rules (DESIGN §6: in embedded mode accounts are JID+AOR pairs, so
// a binding verifies locally): for aor sip:NAME@sip.domain (canonical form:
// scheme and host compared case-insensitively, no parameters) of an existing
// account NAME it returns NAME@xmpp.host.
func (a *Accounts) Binding(ctx context.Context, aor string) (jid string, ok bool, err error) {
	if len(aor) < 4 || !strings.EqualFold(aor[:4], "sip:") {
		return "", false, nil
	}
	name, host, found := strings.Cut(aor[4:], "@")
	if !found || !strings.EqualFold(host, a.o.SIPDomain) || !ValidName(name) {
		return "", false, nil
	}
	exists, err := a.Exists(ctx, name)
	if err != nil || !exists {
		return "", false, err
	}
	return a.JID(name), true, nil
}
