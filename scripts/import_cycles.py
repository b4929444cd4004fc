#!/usr/bin/env python3
"""Lists the import cycles between the source files of each crate of the workspace.

A file imports another when one of its `use crate::…`, `use super::…` or `crate::…`/`super::…`
paths names an item defined in the other (a struct, enum, trait, fn, type, const, static or
macro) or the other module itself. Paths are resolved through the module tree and through the
`pub use` re-exports of the modules they pass (`crate::Sae` is `sae.rs` when `lib.rs` has
`pub use sae::*`). A cycle is a strongly connected component of more than one file: files
that import each other, directly or through others.

    python3 scripts/import_cycles.py            # print the cycles of every crate; exit 1 if any
    python3 scripts/import_cycles.py DIR...     # the crates whose src/ folders are DIR...
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:struct|enum|trait|fn|type|const|static|union)\s+(\w+)",
    re.M)
MACRO_ITEMS = re.compile(r"^\s*(?:pub\s+)?(?:enum|struct)\s+(\w+)", re.M)
MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
REEXPORT = re.compile(r"^\s*pub(?:\([^)]*\))?\s+use\s+([^;]+);", re.M)
USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]+);", re.S)
PATH = re.compile(r"\b((?:crate|super)(?:::\w+)+)")
REGISTRY_LINE = re.compile(r"^\s*(\w+)\s*=>\s*(\w+)\s*,\s*(\w+)", re.M)


def strip_comments(text):
    """The code without comments, and without the unit tests (an inline `#[cfg(test)] mod`,
    at the end of a file by this workspace's convention: its `super` is the file itself)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)[0]


class Crate:
    def __init__(self, src):
        self.src = src
        self.modules = {}  # module path (tuple) -> file
        self.items = {}  # file -> set of item names
        self.reexports = {}  # file -> list of (path tuple, glob?)
        self.walk((), src / "lib.rs")

    def walk(self, path, file):
        self.modules[path] = file
        text = strip_comments(file.read_text())
        names = set(ITEM.findall(text)) | set(MACRO_ITEMS.findall(text))
        # Registries (`penalties!`, `architectures!`) declare modules and re-export items.
        for module, item, config in REGISTRY_LINE.findall(text):
            names.discard(module)
        self.items[file] = names
        self.reexports[file] = []
        for target in REEXPORT.findall(text):
            for p, glob in expand(target.strip()):
                self.reexports[file].append((p, glob))
        children = MOD.findall(text) + [m for m, _, _ in REGISTRY_LINE.findall(text)]
        for child in children:
            base = file.parent if file.name in ("lib.rs", "mod.rs") else file.with_suffix("")
            for cand in (base / f"{child}.rs", base / child / "mod.rs"):
                if cand.exists():
                    self.walk(path + (child,), cand)
                    break
        # Registry lines re-export their items: `pub use module::{Item, Config}`.
        for module, item, config in REGISTRY_LINE.findall(text):
            self.reexports[file].append(((module, item), False))
            self.reexports[file].append(((module, config), False))

    def module_of(self, file):
        for p, f in self.modules.items():
            if f == file:
                return p
        raise KeyError(file)

    def resolve(self, module, names, seen=None):
        """The file defining `names` (a tuple) seen from module path `module` (absolute)."""
        seen = seen or set()
        if not names:
            return self.modules.get(module)
        key = (module, names)
        if key in seen:
            return None
        seen.add(key)
        head, rest = names[0], names[1:]
        if module + (head,) in self.modules:
            return self.resolve(module + (head,), rest, seen) if rest else self.modules[module + (head,)]
        file = self.modules.get(module)
        if file is None:
            return None
        if head in self.items[file]:
            return file
        for target, glob in self.reexports[file]:
            base = absolute(module, target)
            if base is None:
                continue
            if glob:
                found = self.resolve(base, names, seen)
            elif base[-1] == head:
                found = self.resolve(base[:-1], (head,) + rest, seen)
            else:
                continue
            if found is not None:
                return found
        return None


def absolute(module, target):
    """A `use` path made absolute from `module`, or None for an external crate."""
    parts = list(target)
    if parts[0] == "crate":
        return tuple(parts[1:])
    if parts[0] == "self":
        return module + tuple(parts[1:])
    if parts[0] == "super":
        base = list(module)
        while parts and parts[0] == "super":
            base.pop()
            parts.pop(0)
        return tuple(base) + tuple(parts)
    return module + tuple(parts)  # a child module, e.g. `pub use sae::*`


def expand(tree):
    """`a::{b, c::*}` as [(("a", "b"), False), (("a", "c"), True)]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def go(prefix, t):
        if "{" in t and t.endswith("}"):
            head, inner = t.split("{", 1)
            inner = inner[:-1]
            head = [p for p in head.split("::") if p]
            depth, start = 0, 0
            for i, ch in enumerate(inner + ","):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    part = inner[start:i]
                    if part:
                        go(prefix + head, part)
                    start = i + 1
            return
        t = re.sub(r"as\w+$", "", t) if False else t.split(" as ")[0]
        t = re.sub(r"as[A-Za-z_]\w*$", "", t) if "::" not in t and t.startswith("as") else t
        parts = [p for p in t.split("::") if p]
        if parts and parts[-1] == "*":
            out.append((tuple(prefix + parts[:-1]), True))
        elif parts and parts[-1] == "self":
            out.append((tuple(prefix + parts[:-1]), False))
        else:
            out.append((tuple(prefix + parts), False))

    go([], tree)
    return out


def edges(crate):
    graph = {f: set() for f in crate.items}
    for module, file in crate.modules.items():
        raw = file.read_text()
        text = strip_comments(raw)
        # `use x as y` would confuse expand: drop the aliases.
        text = re.sub(r"\s+as\s+\w+", "", text)
        paths = []
        for tree in USE.findall(text):
            paths += [p for p, glob in expand(tree)]
        paths += [tuple(p.split("::")) for p in PATH.findall(text)]
        for p in paths:
            base = absolute(module, p)
            if base is None:
                continue
            # Try the longest prefix that resolves to a file.
            for n in range(len(base), 0, -1):
                target = crate.resolve((), base[:n])
                if target is not None:
                    break
            if target is not None and target != file:
                graph[file].add(target)
    return graph


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def main():
    roots = [Path(a) for a in sys.argv[1:]] or sorted(p.parent for p in ROOT.glob("crates/*/src"))
    total = 0
    for crate_dir in roots:
        src = crate_dir / "src" if (crate_dir / "src").is_dir() else crate_dir
        if not (src / "lib.rs").exists():
            continue
        crate = Crate(src)
        found = cycles(edges(crate))
        # lib.rs declares every module and re-exports their items: it is the crate's root,
        # not an import, so cycles through it alone are not counted.
        for comp in found:
            rel = [str(f.relative_to(src)) for f in comp]
            print(f"{crate_dir.name}: cycle of {len(rel)} files: {', '.join(rel)}")
        total += len(found)
    print(f"{total} import cycle(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
