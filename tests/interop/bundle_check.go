// bundle_check.go - checks a cairn bundle's FILE.tlog-proof with software
// cairn did not write: Go's golang.org/x/mod/sumdb/note and sumdb/tlog
// (Debian golang-golang-x-mod-dev), built in GOPATH mode with
// minisign_note.go by tests/cli/bundle_proof.sh.
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
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
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
	pk, err := minisignKey(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	record, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v", err)
	}
	index, p, msg := proof(data)
	vkey, size, root, err := openCheckpoint(msg, pk)
	if err != nil {
		fail("%v", err)
	}
	leaf := tlog.RecordHash(record)
	if err := tlog.CheckRecord(p, size, root, index, leaf); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	fmt.Printf("ok index=%d size=%d vkey=%s\n", index, size, vkey)
}
