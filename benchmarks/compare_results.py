"""Compare two study results folders file by file (e.g. before and after a refactor that must not change a number).

    python benchmarks/compare_results.py BEFORE/results book/generated/results

CSV files are compared as text, ``*.gz`` by their decompressed content (the gzip header holds a time), JSON files
key by key: the output counts identical and differing files and lists the JSON keys that differ (wall times and
the commit are expected to; a metric is not).
"""
import gzip, json, sys
from pathlib import Path

a, b = Path(sys.argv[1]), Path(sys.argv[2])
fa = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
fb = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
print(f"files: {len(fa)} before, {len(fb)} after; only before {len(fa - fb)}, only after {len(fb - fa)}")
for p in sorted(fa ^ fb)[:10]:
    print("  only one side:", p)
same = diff = 0
json_keys = {}
numeric_diff = []

def flat(d, pre=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from flat(v, f"{pre}{k}.")
    else:
        yield pre[:-1], d

for p in sorted(fa & fb):
    x, y = (a / p).read_bytes(), (b / p).read_bytes()
    if p.suffix == ".gz":
        x, y = gzip.decompress(x), gzip.decompress(y)
    if x == y:
        same += 1
        continue
    diff += 1
    if p.suffix == ".json":
        dx, dy = dict(flat(json.loads(x))), dict(flat(json.loads(y)))
        for k in set(dx) | set(dy):
            if dx.get(k) != dy.get(k):
                json_keys[k.split(".")[-1] if k.count(".") > 1 else k] = json_keys.get(k, 0) + 1
    else:
        numeric_diff.append(str(p))
print(f"identical content: {same}; differing: {diff} (JSON {diff - len(numeric_diff)}, other {len(numeric_diff)})")
print("differing non-JSON files:", numeric_diff[:20])
print("JSON keys that differ (count):", dict(sorted(json_keys.items(), key=lambda kv: -kv[1])[:25]))
