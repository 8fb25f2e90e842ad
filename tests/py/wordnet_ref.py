"""An independent reference for errtree's severities: LCA and height in the
WordNet class hierarchy, computed from the definitions with Python sets.

    wordnet_ref.py DATA_NOUN WNIDS PAIRS_IN PAIRS_OUT

PAIRS_IN: lines "TRUE PRED" (class indices). PAIRS_OUT gets, per line,
"TRUE PRED LCA_WNID SEVERITY" with
  hierarchy: the classes' synsets and all synsets above them ('@', '@i')
  height:    longest path down to a leaf of the hierarchy (leaves 0)
  LCA:       the common ancestor (self included) of least height, ties to
             the smaller synset offset
"""
import functools
import sys


def read_noun(path):
    parents = {}
    for line in open(path, encoding="ascii", errors="replace"):
        if line.startswith(" ") or not line.strip():
            continue
        f = line.split()
        nwords = int(f[3], 16)
        p = 4 + 2 * nwords
        ups = []
        for i in range(int(f[p])):
            sym, off, pos = f[p + 1 + 4 * i: p + 4 + 4 * i]
            if sym in ("@", "@i") and pos == "n":
                ups.append(int(off))
        parents[int(f[0])] = ups
    return parents


def main():
    data_noun, wnids, pairs_in, pairs_out = sys.argv[1:5]
    parents = read_noun(data_noun)
    classes = [int(w[1:]) for w in open(wnids).read().split()]
    nodes, todo = set(), list(classes)
    while todo:
        x = todo.pop()
        if x not in nodes:
            nodes.add(x)
            todo.extend(parents[x])
    children = {n: [] for n in nodes}
    for n in nodes:
        for p in parents[n]:
            children[p].append(n)
    sys.setrecursionlimit(100000)

    @functools.lru_cache(maxsize=None)
    def height(n):
        return 1 + max(height(c) for c in children[n]) if children[n] else 0

    @functools.lru_cache(maxsize=None)
    def ancestors(n):
        s = {n}
        for p in parents[n]:
            s |= ancestors(p)
        return frozenset(s)

    with open(pairs_out, "w") as out:
        for line in open(pairs_in):
            t, p = map(int, line.split())
            common = ancestors(classes[t]) & ancestors(classes[p])
            lca = min(common, key=lambda n: (height(n), n))
            out.write("%d %d n%08d %d\n" % (t, p, lca, height(lca)))


if __name__ == "__main__":
    main()
