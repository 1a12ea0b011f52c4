// anchor_check.go - checks `cairn checkpoint` output of a real journal with
// Go's golang.org/x/mod/sumdb/note and sumdb/tlog (tests/cli/interop_anchor.sh;
// built with minisign_note.go).
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

	"golang.org/x/mod/sumdb/tlog"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "anchor_check: "+format+"\n", args...)
	os.Exit(1)
}

// open is openCheckpoint (minisign_note.go), or exit 1.
func open(msg []byte, pk ed25519.PublicKey) (int64, tlog.Hash) {
	_, size, root, err := openCheckpoint(msg, pk)
	if err != nil {
		die("%v", err)
	}
	return size, root
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
	pk, err := minisignKey(os.Args[1])
	if err != nil {
		die("%v", err)
	}
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
