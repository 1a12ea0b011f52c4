// note_check - the Go side of tests/cli/interop_note.sh: signs, opens and
// cosigns C2SP signed notes with golang.org/x/mod/sumdb/note (Debian
// golang-golang-x-mod-dev) and makes tlog proofs with
// golang.org/x/mod/sumdb/tlog, so that cairn's lib/format/note*.c is
// checked against an independent implementation.
//
// x/mod has no tlog-cosignature code: the cosigner and cosignature
// verifier below are written here from c2sp.org/tlog-cosignature (v1,
// Ed25519, signature type 0x04) and plugged into note.Sign / note.Open.
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build.
//
// Usage (SEED is 64 hex digits, FILE "-" is stdin):
//
//	note_check vkey NAME SEED              print the Ed25519 verifier key
//	note_check pubvkey NAME PUBHEX         the same from a public key
//	note_check sign NAME SEED FILE         sign FILE's text, print the note
//	note_check open VKEY FILE              note.Open; print the text
//	note_check cosign NAME SEED TIME FILE  add a cosignature to the note
//	note_check cosig-open NAME PUBHEX FILE verify the cosignature; print time
//	note_check proof NAME SEED N INDEX     print a tlog-proof for leaf INDEX
//	                                       of a tree of N records "leaf <i>"
//
// Exit status: 0 ok; 1 usage or I/O; 2 malformed; 3 no signature by the
// key; 4 a signature of the key does not verify.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func die(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "note_check: "+format+"\n", args...)
	os.Exit(code)
}

func readInput(path string) []byte {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		die(1, "%v", err)
	}
	return b
}

func seedKey(s string) ed25519.PrivateKey {
	seed, err := hex.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		die(1, "seed must be 64 hex digits")
	}
	return ed25519.NewKeyFromSeed(seed)
}

func keyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// skey is the x/mod signer key text of an Ed25519 seed.
func skey(name string, priv ed25519.PrivateKey) string {
	pub := append([]byte{1}, priv.Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, keyID(name, 1, pub[1:]),
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
}

func cosigMessage(ts uint64, text []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), text...)
}

type cosigner struct {
	name string
	priv ed25519.PrivateKey
	ts   uint64
}

func (c *cosigner) Name() string { return c.name }
func (c *cosigner) KeyHash() uint32 {
	return keyID(c.name, 4, c.priv.Public().(ed25519.PublicKey))
}
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	out := make([]byte, 8, 8+ed25519.SignatureSize)
	binary.BigEndian.PutUint64(out, c.ts)
	return append(out, ed25519.Sign(c.priv, cosigMessage(c.ts, msg))...), nil
}

type cosigVerifier struct {
	name string
	pub  ed25519.PublicKey
	ts   *uint64
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return keyID(v.name, 4, v.pub) }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts >= 1<<63 {
		return false
	}
	*v.ts = ts
	return ed25519.Verify(v.pub, cosigMessage(ts, msg), sig[8:])
}

func open(msg []byte, v note.Verifier) *note.Note {
	n, err := note.Open(msg, note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
		return n
	case errors.As(err, &unverified):
		die(3, "%v", err)
	case errors.As(err, &invalid):
		die(4, "%v", err)
	default:
		die(2, "%v", err)
	}
	return nil
}

// unverified returns the note's text and signatures, none verified.
func unverified(msg []byte) *note.Note {
	_, err := note.Open(msg, note.VerifierList())
	var e *note.UnverifiedNoteError
	if !errors.As(err, &e) {
		die(2, "%v", err)
	}
	return e.Note
}

func proof(name string, priv ed25519.PrivateKey, n, index int64) []byte {
	var hashes []tlog.Hash
	for i := int64(0); i < n; i++ {
		h, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("leaf %d", i)),
			tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
				out := make([]tlog.Hash, len(ix))
				for k, x := range ix {
					out[k] = hashes[x]
				}
				return out, nil
			}))
		if err != nil {
			die(1, "%v", err)
		}
		hashes = append(hashes, h...)
	}
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for k, x := range ix {
			out[k] = hashes[x]
		}
		return out, nil
	})
	root, err := tlog.TreeHash(n, r)
	if err != nil {
		die(1, "%v", err)
	}
	p, err := tlog.ProveRecord(n, index, r)
	if err != nil {
		die(1, "%v", err)
	}
	leaf := []byte(fmt.Sprintf("leaf %d", index))
	if err := tlog.CheckRecord(p, n, root, index, tlog.RecordHash(leaf)); err != nil {
		die(1, "%v", err)
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", name, n,
		base64.StdEncoding.EncodeToString(root[:]))
	signer, err := note.NewSigner(skey(name, priv))
	if err != nil {
		die(1, "%v", err)
	}
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		die(1, "%v", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "c2sp.org/tlog-proof@v1\nextra %s\nindex %d\n",
		base64.StdEncoding.EncodeToString(leaf), index)
	for _, h := range p {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n")
	b.Write(signed)
	return b.Bytes()
}

func main() {
	a := os.Args[1:]
	if len(a) == 0 {
		die(1, "usage: see the comment at the top of note_check.go")
	}
	switch {
	case a[0] == "vkey" && len(a) == 3:
		priv := seedKey(a[2])
		vk, err := note.NewEd25519VerifierKey(a[1], priv.Public().(ed25519.PublicKey))
		if err != nil {
			die(1, "%v", err)
		}
		fmt.Println(vk)
	case a[0] == "pubvkey" && len(a) == 3:
		pub, err := hex.DecodeString(a[2])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			die(1, "public key must be 64 hex digits")
		}
		vk, err := note.NewEd25519VerifierKey(a[1], ed25519.PublicKey(pub))
		if err != nil {
			die(1, "%v", err)
		}
		fmt.Println(vk)
	case a[0] == "sign" && len(a) == 4:
		signer, err := note.NewSigner(skey(a[1], seedKey(a[2])))
		if err != nil {
			die(1, "%v", err)
		}
		out, err := note.Sign(&note.Note{Text: string(readInput(a[3]))}, signer)
		if err != nil {
			die(2, "%v", err)
		}
		os.Stdout.Write(out)
	case a[0] == "open" && len(a) == 3:
		v, err := note.NewVerifier(a[1])
		if err != nil {
			die(2, "verifier key: %v", err)
		}
		os.Stdout.WriteString(open(readInput(a[2]), v).Text)
	case a[0] == "cosign" && len(a) == 5:
		ts, err := strconv.ParseUint(a[3], 10, 63)
		if err != nil {
			die(1, "time: %v", err)
		}
		n := unverified(readInput(a[4]))
		out, err := note.Sign(n, &cosigner{a[1], seedKey(a[2]), ts})
		if err != nil {
			die(2, "%v", err)
		}
		os.Stdout.Write(out)
	case a[0] == "cosig-open" && len(a) == 4:
		pub, err := hex.DecodeString(a[2])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			die(1, "public key must be 64 hex digits")
		}
		var ts uint64
		open(readInput(a[3]), &cosigVerifier{a[1], pub, &ts})
		fmt.Println(ts)
	case a[0] == "proof" && len(a) == 5:
		n, err1 := strconv.ParseInt(a[3], 10, 64)
		index, err2 := strconv.ParseInt(a[4], 10, 64)
		if err1 != nil || err2 != nil || index < 0 || index >= n {
			die(1, "bad N or INDEX")
		}
		os.Stdout.Write(proof(a[1], seedKey(a[2]), n, index))
	default:
		die(1, "usage: see the comment at the top of note_check.go")
	}
}
