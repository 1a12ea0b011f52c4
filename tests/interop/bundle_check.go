// bundle_check.go - checks a cairn bundle's FILE.tlog-proof with software
// cairn did not write: Go's golang.org/x/mod/sumdb/note and sumdb/tlog
// (Debian golang-golang-x-mod-dev), built in GOPATH mode by
// tests/cli/bundle_proof.sh.
//
//	bundle_check PUBKEY TLOG-PROOF RECORD
//
// PUBKEY is the minisign public key file of the run (line 2: base64 of
// "Ed" || key id (8) || Ed25519 key (32)); the verifier key is derived
// from it with note.NewEd25519VerifierKey under the checkpoint's origin
// (cairn's key name).  The checkpoint of TLOG-PROOF (C2SP tlog-proof@v1)
// must open with note.Open under that key, and tlog.CheckRecord must
// prove leaf tlog.RecordHash(RECORD) at the proof's index under the
// checkpoint's size and root.  Prints "ok index=I size=N" and exits 0;
// anything else prints "FAIL: ..." and exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func pubkey(path string) ed25519.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) < 2 {
		fail("%s: not a minisign public key", path)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[1])
	if err != nil || len(raw) != 42 || string(raw[:2]) != "Ed" {
		fail("%s: not a minisign Ed25519 public key", path)
	}
	return ed25519.PublicKey(raw[10:])
}

// proof parses "c2sp.org/tlog-proof@v1\nindex N\n<hashes>\n\n<note>".
func proof(data []byte) (int64, tlog.RecordProof, []byte) {
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		fail("tlog-proof: no blank line")
	}
	lines := strings.Split(string(data[:i]), "\n")
	if len(lines) < 2 || lines[0] != "c2sp.org/tlog-proof@v1" ||
		!strings.HasPrefix(lines[1], "index ") {
		fail("tlog-proof: bad header")
	}
	index, err := strconv.ParseInt(lines[1][6:], 10, 64)
	if err != nil {
		fail("tlog-proof: index: %v", err)
	}
	var p tlog.RecordProof
	for _, l := range lines[2:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("tlog-proof: hash %q: %v", l, err)
		}
		p = append(p, h)
	}
	return index, p, data[i+2:]
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: bundle_check PUBKEY TLOG-PROOF RECORD")
	}
	pk := pubkey(os.Args[1])
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	record, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v", err)
	}
	index, p, msg := proof(data)
	origin := string(msg[:bytes.IndexByte(msg, '\n')])
	vkey, err := note.NewEd25519VerifierKey(origin, pk)
	if err != nil {
		fail("verifier key: %v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != origin {
		fail("checkpoint: bad text")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint: size: %v", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint: root: %v", err)
	}
	leaf := tlog.RecordHash(record)
	if err := tlog.CheckRecord(p, size, root, index, leaf); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	fmt.Printf("ok index=%d size=%d vkey=%s\n", index, size, vkey)
}
