// tlog_check - check cairn's Merkle trees (lib/format/merkle.c) with Go's
// golang.org/x/mod/sumdb/tlog, software cairn did not write, and produce
// tlog's own proofs for cairn to check (tests/cli/interop_tlog.sh).
//
// Input (stdin), written by `test_merkle --tlog-emit`, one item a line,
// hashes in lowercase hex:
//
//	leaf <data>                 leaf i (in order); its hash is tlog.RecordHash
//	root <n> <hash>             cairn's root of the first n leaves
//	incl <n> <i> <hash>...      cairn's inclusion proof of leaf i in size n
//	cons <m> <n> <hash>...      cairn's consistency proof from m to n
//
// Every root must equal tlog.TreeHash over tlog.StoredHashes of the
// leaves; every proof must pass tlog.CheckRecord / tlog.CheckTree and be
// exactly what tlog.ProveRecord / tlog.ProveTree return; each proof with
// one bit flipped must fail.  Output (stdout), read by
// `test_merkle --tlog-check`: the leaf lines again, then
//
//	groot <n> <hash>            tlog.TreeHash for every n
//	gincl <n> <i> <hash>...     tlog.ProveRecord for pairs tlog_check picks
//	gcons <m> <n> <hash>...     tlog.ProveTree
//
// Exit 0 when every check passed, 1 (naming each failure on stderr)
// otherwise, 2 on unreadable input.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

type store struct{ hashes []tlog.Hash }

func (s *store) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s.hashes)) {
			return nil, fmt.Errorf("hash index %d out of range", x)
		}
		out[i] = s.hashes[x]
	}
	return out, nil
}

var failures, checks int

func fail(format string, args ...interface{}) {
	failures++
	fmt.Fprintf(os.Stderr, "tlog_check: FAIL: "+format+"\n", args...)
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashes(f []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(f))
	for _, s := range f {
		h, err := parseHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func equal(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hexs(p []tlog.Hash) string {
	var b strings.Builder
	for _, h := range p {
		b.WriteByte(' ')
		b.WriteString(hex.EncodeToString(h[:]))
	}
	return b.String()
}

type tree struct {
	st     store
	leaves [][]byte
	roots  []tlog.Hash // roots[n], n >= 1
}

func (t *tree) add(data []byte) error {
	n := int64(len(t.leaves))
	hs, err := tlog.StoredHashes(n, data, &t.st)
	if err != nil {
		return err
	}
	t.st.hashes = append(t.st.hashes, hs...)
	t.leaves = append(t.leaves, data)
	r, err := tlog.TreeHash(n+1, &t.st)
	if err != nil {
		return err
	}
	t.roots = append(t.roots, r)
	return nil
}

func (t *tree) root(n int64) tlog.Hash { return t.roots[n-1] }

func checkIncl(t *tree, n, i int64, p []tlog.Hash) {
	checks++
	if n < 1 || n > int64(len(t.leaves)) || i < 0 || i >= n {
		fail("incl %d %d: sizes out of range", n, i)
		return
	}
	leaf := tlog.RecordHash(t.leaves[i])
	if err := tlog.CheckRecord(p, n, t.root(n), i, leaf); err != nil {
		fail("incl %d %d: tlog.CheckRecord: %v", n, i, err)
	}
	want, err := tlog.ProveRecord(n, i, &t.st)
	if err != nil || !equal(want, p) {
		fail("incl %d %d: differs from tlog.ProveRecord (%v)", n, i, err)
	}
	for j := range p {
		bad := append([]tlog.Hash(nil), p...)
		bad[j][j%tlog.HashSize] ^= 0x20
		checks++
		if tlog.CheckRecord(bad, n, t.root(n), i, leaf) == nil {
			fail("incl %d %d: tlog accepts the proof with hash %d changed", n, i, j)
		}
	}
}

func checkCons(t *tree, m, n int64, p []tlog.Hash) {
	checks++
	if m < 1 || m > n || n > int64(len(t.leaves)) {
		fail("cons %d %d: sizes out of range", m, n)
		return
	}
	if err := tlog.CheckTree(p, n, t.root(n), m, t.root(m)); err != nil {
		fail("cons %d %d: tlog.CheckTree: %v", m, n, err)
	}
	want, err := tlog.ProveTree(n, m, &t.st)
	if err != nil || !equal(want, p) {
		fail("cons %d %d: differs from tlog.ProveTree (%v)", m, n, err)
	}
	for j := range p {
		bad := append([]tlog.Hash(nil), p...)
		bad[j][(j+7)%tlog.HashSize] ^= 0x01
		checks++
		if tlog.CheckTree(bad, n, t.root(n), m, t.root(m)) == nil {
			fail("cons %d %d: tlog accepts the proof with hash %d changed", m, n, j)
		}
	}
}

func num(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// item checks one root, incl or cons line against the tree of the leaves.
func item(t *tree, f []string) error {
	if len(f) < 3 {
		return fmt.Errorf("short line")
	}
	a, err := num(f[1])
	if err != nil {
		return fmt.Errorf("bad number %q", f[1])
	}
	switch f[0] {
	case "root":
		h, err := parseHash(f[2])
		if err != nil || len(f) != 3 {
			return fmt.Errorf("bad root line")
		}
		checks++
		if a < 1 || a > int64(len(t.leaves)) {
			fail("root %d: size out of range", a)
		} else if got, err := tlog.TreeHash(a, &t.st); err != nil || got != h {
			fail("root %d: cairn%s, tlog.TreeHash%s (%v)", a, hexs([]tlog.Hash{h}), hexs([]tlog.Hash{got}), err)
		}
	case "incl", "cons":
		b, err := num(f[2])
		if err != nil {
			return fmt.Errorf("bad number %q", f[2])
		}
		p, err := parseHashes(f[3:])
		if err != nil {
			return err
		}
		if f[0] == "incl" {
			checkIncl(t, a, b, p)
		} else {
			checkCons(t, a, b, p)
		}
	default:
		return fmt.Errorf("unknown item %q", f[0])
	}
	return nil
}

// produce writes tlog's own roots and proofs for cairn to check.
func produce(t *tree, w *bufio.Writer) error {
	L := int64(len(t.leaves))
	rng := rand.New(rand.NewSource(6962))
	for n := int64(1); n <= L; n++ {
		fmt.Fprintf(w, "groot %d%s\n", n, hexs([]tlog.Hash{t.root(n)}))
	}
	for n := int64(1); n <= L; n++ {
		picks := 3
		if n <= 24 {
			picks = int(n)
		}
		for k := 0; k < picks; k++ {
			i, m := int64(k), int64(k)+1
			if n > 24 {
				i, m = rng.Int63n(n), 1+rng.Int63n(n)
			}
			p, err := tlog.ProveRecord(n, i, &t.st)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "gincl %d %d%s\n", n, i, hexs(p))
			q, err := tlog.ProveTree(n, m, &t.st)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "gcons %d %d%s\n", m, n, hexs(q))
		}
	}
	return nil
}

func main() {
	t := &tree{}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for in.Scan() {
		line++
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		if f[0] == "leaf" {
			var data []byte
			if len(f) == 2 {
				data, err = hex.DecodeString(f[1])
			} else if len(f) != 1 {
				err = fmt.Errorf("bad leaf line")
			}
			if err == nil {
				err = t.add(data)
			}
		} else {
			err = item(t, f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlog_check: stdin line %d: %v\n", line, err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil || len(t.leaves) == 0 {
		fmt.Fprintf(os.Stderr, "tlog_check: no leaves read (%v)\n", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, d := range t.leaves {
		fmt.Fprintf(w, "leaf %x\n", d)
	}
	if err := produce(t, w); err != nil {
		fmt.Fprintf(os.Stderr, "tlog_check: %v\n", err)
		os.Exit(2)
	}
	if err := w.Flush(); err != nil {
		os.Exit(2)
	}
	if failures != 0 {
		fmt.Fprintf(os.Stderr, "tlog_check: %d of %d checks failed\n", failures, checks)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "tlog_check: %d checks passed (%d leaves)\n", checks, len(t.leaves))
}
