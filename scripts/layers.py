#!/usr/bin/env python3
"""layers.py - dependency figures of lib/: rooms, floors, arrows, circles.

A room is a source file together with the header of the same name in the
same folder (a header without a source is a room of its own).  Room A has
an arrow to room B when A includes B's header or A's object file uses a
symbol B's object file defines (nm).  Floors are the levels of the graph
once circles are merged: a room that uses nothing is on floor 1, any other
one floor above the highest room it uses.  An arrow runs back up when it
leaves its folder for a folder that is not below it (scripts/check-layers.sh
has the order).

It also follows symbols from every object of verify/ to everything they
link: a verifier-only program must link no transition code (commit/) and
no runner.

Usage: scripts/layers.py [--check] [--map FILE] [ROOT [BUILD]]
  --check     exit 1 on an arrow running back up, a circle that spans
              folders, or verify/ linking commit/ or runner/ (make test).
  --map FILE  for a flat lib/: lines "FOLDER file file ..." assign folders.
"""
import os, re, subprocess, sys

BELOW = {
    'base': set(), 'format': {'base'}, 'keys': {'base'}, 'plan': {'base'},
    'store': {'base'}, 'state': {'base', 'format', 'plan'},
    'journal': {'base', 'format', 'keys', 'plan', 'state', 'store'},
}
BELOW['commit'] = BELOW['journal'] | {'journal'}
BELOW['verify'] = BELOW['journal'] | {'journal'}
BELOW['runner'] = BELOW['commit'] | {'commit'}
BELOW['witness'] = {'base', 'format', 'keys', 'store'}


def main(argv):
    mapping = None
    check = False
    if argv and argv[0] == '--check':
        check = True
        argv = argv[1:]
    if argv and argv[0] == '--map':
        mapping = {}
        for line in open(argv[1]):
            p = line.split()
            for f in p[1:]:
                mapping[f] = p[0]
        argv = argv[2:]
    root = argv[0] if argv else '.'
    build = argv[1] if len(argv) > 1 else os.path.join(root, 'build')
    files = []
    for d, _, fs in os.walk(os.path.join(root, 'lib')):
        for f in fs:
            if f.endswith(('.c', '.h')):
                files.append(os.path.relpath(os.path.join(d, f), root))
    files.sort()

    def folder(path):
        parts = path.split('/')
        if len(parts) == 3:
            return parts[1]
        name = parts[-1]
        if mapping is None or name not in mapping:
            return 'lib'
        return mapping[name]

    def room(path):
        stem = os.path.splitext(path)[0]
        if path.endswith('.h') and not os.path.exists(os.path.join(root, stem + '.c')):
            return path
        return stem + '.c'

    by_name = {}
    for f in files:
        by_name[f] = f
        by_name[os.path.relpath(f, 'lib')] = f
    edges = set()
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in files:
        for h in inc.findall(open(os.path.join(root, f)).read()):
            cand = by_name.get(h) or by_name.get(os.path.join(os.path.dirname(os.path.relpath(f, 'lib')), h))
            if cand and room(cand) != room(f):
                edges.add((room(f), room(cand)))
    defs, uses = {}, {}
    for f in files:
        if not f.endswith('.c'):
            continue
        obj = os.path.join(build, os.path.splitext(f)[0] + '.o')
        if not os.path.exists(obj):
            sys.exit(f'layers.py: {obj} missing: build first (make)')
        out = subprocess.check_output(['nm', obj]).decode()
        for line in out.splitlines():
            p = line.split()
            if len(p) == 2 and p[0] == 'U':
                uses.setdefault(f, set()).add(p[1])
            elif len(p) == 3 and p[1] in 'TDBRG':
                defs[p[2]] = f
    for f, syms in uses.items():
        for s in syms:
            if s in defs and defs[s] != f:
                edges.add((room(f), room(defs[s])))
    rooms = sorted({room(f) for f in files})
    succ = {r: set() for r in rooms}
    for a, b in edges:
        succ[a].add(b)
    # Tarjan's strongly connected components.
    index, low, stack, on, comps = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in succ[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop()
                on.discard(w)
                c.append(w)
                if w == v:
                    break
            comps.append(c)
    for r in rooms:
        if r not in index:
            strong(r)
    comp_of = {r: i for i, c in enumerate(comps) for r in c}
    level = {}
    for i, c in enumerate(comps):  # Tarjan emits sinks first
        lv = 1
        for r in c:
            for w in succ[r]:
                j = comp_of[w]
                if j != i:
                    lv = max(lv, level[j] + 1)
        level[i] = lv
    circles = [sorted(c) for c in comps if len(c) > 1]
    up = sorted((a, b) for a, b in edges
                if folder(a) != folder(b) and folder(b) not in BELOW.get(folder(a), set()))
    fedges = {(folder(a), folder(b)) for a, b in edges if folder(a) != folder(b)}
    inside = len([1 for a, b in edges if folder(a) == folder(b)])
    print(f'rooms (files, a .c with its .h): {len(rooms)} in {len({folder(r) for r in rooms})} folders')
    print(f'floors: {max(level.values())}')
    print(f'arrows: {len(edges)} ({len(edges) - inside} between folders, {inside} inside)')
    print(f'folder-to-folder arrows: {len(fedges)}')
    print(f'arrows running back up (to a folder not below): {len(up)}')
    for a, b in up:
        print(f'  {a} -> {b}')
    print(f'circles: {len(circles)}')
    for c in circles:
        print('  ' + ' '.join(os.path.basename(x) for x in c))
    spanning = [c for c in circles if len({folder(r) for r in c}) > 1]
    # What a program calling only verify/ links, following symbols.
    reach = {f for f in uses if folder(f) == 'verify'}
    todo = list(reach)
    while todo:
        f = todo.pop()
        for sym in uses.get(f, ()):
            d = defs.get(sym)
            if d and d not in reach:
                reach.add(d)
                todo.append(d)
    linked = sorted({folder(f) for f in reach})
    print('verify/ links (by symbol): ' + ', '.join(linked))
    if not check:
        return 0
    bad = []
    if up:
        bad.append(f'{len(up)} arrow(s) running back up')
    if spanning:
        bad.append(f'{len(spanning)} circle(s) spanning folders')
    if 'commit' in linked or 'runner' in linked:
        bad.append('verify/ links transition or runner code')
    if bad:
        print('layers: FAILED: ' + '; '.join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
