// minisign_note.go - shared by anchor_check.go and bundle_check.go (each
// is built together with this file): a minisign public key file, and a
// cairn checkpoint note opened with Go's golang.org/x/mod/sumdb/note
// under the vkey derived from that key, named like the note's origin
// (cairn's key name).
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

// minisignKey reads a minisign public key file: a comment line, then
// base64("Ed" || key id (8 bytes) || Ed25519 public key (32 bytes)).
func minisignKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[len(lines)-1]))
	if err != nil || len(raw) != 42 || raw[0] != 'E' || raw[1] != 'd' {
		return nil, fmt.Errorf("%s: not a minisign Ed25519 public key", path)
	}
	return ed25519.PublicKey(raw[10:]), nil
}

// openCheckpoint verifies msg (a signed note) with the vkey of pk named
// like msg's origin (note.Open) and returns that vkey and the
// checkpoint's size and root.
func openCheckpoint(msg []byte, pk ed25519.PublicKey) (string, int64, tlog.Hash, error) {
	var root tlog.Hash
	nl := bytes.IndexByte(msg, '\n')
	if nl < 0 {
		return "", 0, root, fmt.Errorf("not a note: no line")
	}
	origin := string(msg[:nl])
	vkey, err := note.NewEd25519VerifierKey(origin, pk)
	if err != nil {
		return "", 0, root, fmt.Errorf("vkey: %v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return vkey, 0, root, fmt.Errorf("verifier %s: %v", vkey, err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return vkey, 0, root, fmt.Errorf("note.Open (vkey %s): %v", vkey, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != origin {
		return vkey, 0, root, fmt.Errorf("not a checkpoint: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return vkey, 0, root, fmt.Errorf("checkpoint: size: %v", err)
	}
	root, err = tlog.ParseHash(lines[2])
	if err != nil {
		return vkey, 0, root, fmt.Errorf("checkpoint: root %q: %v", lines[2], err)
	}
	return vkey, size, root, nil
}
