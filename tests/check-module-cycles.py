#!/usr/bin/env python3
"""Checks that the modules of a Rust crate import each other without cycles.

    tests/check-module-cycles.py [-v] SRC_DIR...

For each module file under SRC_DIR it collects the crate modules the file refers to
(`crate::…`, `super::…`, `self::…` and `child::…` paths, in `use` items and inline;
comments and string literals stripped; a file's own `mod tests` counts as the file), then
looks for cycles (strongly connected components of more than one module). A file that
refers to an item through a re-export (`pub use`) depends on the module that defines it; a
child module using its parent's items (the area's interface) is no dependency. Exits 1 on a
cycle; -v prints the graph.
"""
import os, re, sys


def check(src, verbose):

    def module_of(path):
        rel = os.path.relpath(path, src)[:-3].split(os.sep)
        if rel == ["lib"] or rel == ["main"]:
            return ("crate",)
        if rel[-1] == "mod":
            rel = rel[:-1]
        return ("crate", *rel)

    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(root, n)
                files[module_of(p)] = p
    modules = set(files)

    def strip(text):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
        return re.sub(r"//[^\n]*", "", text)

    IDENT = r"[A-Za-z_][A-Za-z0-9_]*"

    def expand(head, rest):
        """Paths named by `head::rest`, where rest may start with a `{…}` group."""
        rest = rest.lstrip()
        if rest.startswith("{"):
            depth, i = 0, 0
            for i, c in enumerate(rest):
                depth += c == "{"
                depth -= c == "}"
                if depth == 0:
                    break
            inner, out, depth, cur = rest[1:i], [], 0, ""
            for c in inner + ",":
                if c == "," and depth == 0:
                    cur = cur.strip()
                    if cur:
                        m = re.match(rf"({IDENT}(?:\s*::\s*{IDENT})*)\s*(::\s*(\{{.*))?$", cur, re.S)
                        if m:
                            segs = tuple(s.strip() for s in m.group(1).split("::"))
                            if m.group(3):
                                out += expand(head + segs, m.group(3))
                            else:
                                out.append(head + segs)
                    cur = ""
                    continue
                depth += c == "{"
                depth -= c == "}"
                cur += c
            return out
        m = re.match(rf"{IDENT}(?:\s*::\s*{IDENT})*", rest)
        return [head + tuple(s.strip() for s in m.group(0).split("::"))] if m else [head]

    # Re-exports (`pub use a::b::X;`, `pub use child::{X, Y};`): a path through one leads
    # to where the item is defined, and the `pub use` line itself is no dependency (a
    # module's facade over its children).
    reexport_line = re.compile(r"\bpub(?:\s*\([^)]*\))?\s+use\s+([^;]*);")
    texts, reexports = {}, {m: {} for m in modules}
    for mod, path in files.items():
        text = strip(open(path, encoding="utf-8").read())
        for m in reexport_line.finditer(text):
            body = m.group(1).strip()
            first = re.match(IDENT, body)
            if not first:
                continue
            word = first.group(0)
            if word == "crate":
                head, rest = (), body
            elif word == "super":
                head, rest = mod[:-1], body[len("super"):].lstrip(" :")
            elif word == "self":
                head, rest = mod, body[len("self"):].lstrip(" :")
            else:
                head, rest = mod, body  # a child module, or another crate (never resolved)
            for full in expand(head, rest):
                alias = re.search(rf"\bas\s+({IDENT})$", full[-1])
                reexports[mod][alias.group(1) if alias else full[-1]] = full
        texts[mod] = reexport_line.sub("", text)

    def resolve(path, depth=0):
        for k in range(len(path), 0, -1):
            if path[:k] in modules:
                target = reexports[path[:k]].get(path[k]) if k < len(path) else None
                if target is not None and depth < 8:
                    return resolve(target + path[k + 1:], depth + 1) or path[:k]
                return path[:k]
        return None

    edges = {m: set() for m in modules}
    for mod, path in sorted(files.items()):
        text = texts[mod]
        for m in re.finditer(r"\b(crate|super)\s*::\s*", text):
            if m.group(1) == "crate":
                head = ("crate",)
            else:
                # `super` in the file's own nested `mod tests` means the file itself; elsewhere
                # it is the parent module.
                before = text[: m.start()]
                in_child = re.search(r"\bmod\s+" + IDENT + r"\s*\{", before) is not None
                head = mod if in_child else mod[:-1]
            for target in expand(head, text[m.end():]):
                t = resolve(target)
                # A child may use what its parent (the area's interface) declares: only
                # references elsewhere count.
                if t is not None and t != mod and t != mod[: len(t)]:
                    edges[mod].add(t)
        # Paths relative to the file's own module: `self::child::…`, or `child::…` for a child
        # module it declares (`mod child;`), e.g. `use db::Db;` in lib.rs.
        children = set(re.findall(rf"\bmod\s+({IDENT})\s*;", text))
        for m in re.finditer(rf"(?<![\w:])(?:self\s*::\s*)?({IDENT})\s*::", text):
            if m.group(1) in children:
                for target in expand(mod, text[m.start(1):]):
                    t = resolve(target)
                    if t is not None and t != mod:
                        edges[mod].add(t)

    name = lambda m: "::".join(m)
    if verbose:
        print(f"{src}: module -> modules it refers to")
        for m in sorted(edges):
            print(f"  {name(m):28} -> {', '.join(sorted(map(name, edges[m]))) or '(none)'}")

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            sccs.append(comp)
    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    cycles = [c for c in sccs if len(c) > 1]
    n_edges = sum(map(len, edges.values()))
    if cycles:
        for c in cycles:
            print(f"{src}: CYCLE among:", ", ".join(sorted(map(name, c))))
        return False
    print(f"{src}: {len(modules)} modules, {n_edges} edges, no cycles")
    return True


if __name__ == "__main__":
    args = sys.argv[1:]
    verbose = "-v" in args
    dirs = [a for a in args if a != "-v"]
    if not dirs:
        sys.exit(__doc__)
    results = [check(d, verbose) for d in dirs]
    sys.exit(0 if all(results) else 1)
