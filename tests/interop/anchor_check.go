// anchor_check.go - checks `cairn checkpoint` output of a real journal with
// Go's golang.org/x/mod/sumdb/note and sumdb/tlog (tests/cli/interop_anchor.sh).
//
//	anchor_check PUB NOTE                 note.Open verifies NOTE under the
//	                                      vkey derived from the minisign
//	                                      public key file PUB, named like
//	                                      NOTE's origin
//	anchor_check PUB NOTE OLDNOTE REQUEST also: REQUEST (`cairn checkpoint
//	                                      --from OLD`) is "old N", a proof,
//	                                      a blank line and NOTE; OLDNOTE
//	                                      (size N) verifies, and
//	                                      tlog.CheckTree accepts the proof
//	                                      from OLDNOTE's root to NOTE's
//
// Exit 0 when everything holds, 1 (with the reason on stderr) otherwise.
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

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "anchor_check: "+format+"\n", args...)
	os.Exit(1)
}

// minisign public key file: a comment line, then base64("Ed" || key id
// (8 bytes) || Ed25519 public key (32 bytes)).
func minisignKey(path string) ed25519.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[len(lines)-1]))
	if err != nil || len(raw) != 42 || raw[0] != 'E' || raw[1] != 'd' {
		die("%s: not a minisign public key", path)
	}
	return ed25519.PublicKey(raw[10:])
}

// open verifies msg with the vkey of pk named like msg's origin and
// returns the checkpoint's size and root.
func open(msg []byte, pk ed25519.PublicKey) (int64, tlog.Hash) {
	origin := string(msg[:bytes.IndexByte(msg, '\n')])
	vkey, err := note.NewEd25519VerifierKey(origin, pk)
	if err != nil {
		die("vkey: %v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		die("verifier %s: %v", vkey, err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		die("note.Open (vkey %s): %v", vkey, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != origin {
		die("not a checkpoint: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		die("size: %v", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		die("root: %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	return size, h
}

func read(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	return b
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 5 {
		die("usage: anchor_check PUB NOTE [OLDNOTE REQUEST]")
	}
	pk := minisignKey(os.Args[1])
	msg := read(os.Args[2])
	size, root := open(msg, pk)
	if len(os.Args) == 3 {
		fmt.Printf("note.Open: ok, size %d\n", size)
		return
	}
	oldSize, oldRoot := open(read(os.Args[3]), pk)
	req := read(os.Args[4])
	i := bytes.Index(req, []byte("\n\n"))
	if bytes.HasPrefix(req, []byte("old 0\n\n")) {
		i = len("old 0")
	}
	if i < 0 || !bytes.Equal(req[i+2:], msg) {
		die("request: the checkpoint after the blank line is not NOTE")
	}
	lines := strings.Split(string(req[:i]), "\n")
	old, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil || !strings.HasPrefix(lines[0], "old ") || old != oldSize {
		die("request: first line %q, old note has size %d", lines[0], oldSize)
	}
	var proof tlog.TreeProof
	for _, l := range lines[1:] {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(b) != tlog.HashSize {
			die("request: proof line %q", l)
		}
		var h tlog.Hash
		copy(h[:], b)
		proof = append(proof, h)
	}
	if err := tlog.CheckTree(proof, size, root, oldSize, oldRoot); err != nil {
		die("tlog.CheckTree(%d -> %d, %d hashes): %v", oldSize, size, len(proof), err)
	}
	fmt.Printf("tlog.CheckTree: ok, %d -> %d with %d hashes\n", oldSize, size, len(proof))
}
