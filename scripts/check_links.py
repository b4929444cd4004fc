#!/usr/bin/env python3
"""Check the relative links and images of the project's Markdown pages.

    python3 scripts/check_links.py [FILE.md ...]

Without arguments it checks README.md, every page of the book (docs/src/**/*.md) and every
other Markdown file of the repository (tracked, or new and not ignored: `git ls-files`).

For each inline link or image (`[text](target)`, `![alt](target)`), reference definition
(`[label]: target`) and HTML `href`/`src` outside code:

- a relative target (a file or a folder, relative to the page; `/x` is relative to the
  repository root) must exist;
- an `#anchor`, alone (this page) or after a `.md` target, must be the slug of a heading of
  that page, as GitHub or mdBook spell it (lower case, punctuation dropped, spaces to `-`,
  `-1`, `-2`, ... for repeated headings), or an explicit `id="..."` / `{#id}` in it.

External links (`http:`, `https:`, `mailto:` and any other scheme) are not checked: CI
reaches no web site. Python 3 standard library only. Exit status 1, with one `file:line: link (why)`
line per broken link, when any is broken.
"""

import os
import re
import subprocess
import sys
import unicodedata
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# `[text](target)` / `![alt](target)`: target in <...> or without spaces, optional title.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ATTR = re.compile(r"""<(?:a|img|source)\b[^>]*?\b(?:href|src)\s*=\s*("[^"]*"|'[^']*')""", re.I)
HTML_ID = re.compile(r"""\b(?:id|name)\s*=\s*("[^"]*"|'[^']*')""", re.I)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def pages():
    """README.md, the book's pages and every other Markdown file git knows of (or would)."""
    found = set()
    for args in (["ls-files", "-z", "--", "*.md"],
                 ["ls-files", "-z", "--others", "--exclude-standard", "--", "*.md"]):
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        found.update(p for p in out.decode().split("\0") if p)
    if os.path.exists(os.path.join(ROOT, "README.md")):
        found.add("README.md")
    for dirpath, _, files in os.walk(os.path.join(ROOT, "docs", "src")):
        for f in files:
            if f.endswith(".md"):
                found.add(os.path.relpath(os.path.join(dirpath, f), ROOT))
    return sorted(p for p in found if os.path.isfile(os.path.join(ROOT, p)))


def prose_lines(text, keep_code=False):
    """(line number, line) of the lines outside fenced code blocks, inline code blanked
    unless keep_code."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None:
            # A backtick fence's info string has no backtick (CommonMark), else it is inline code.
            if m and not (m.group(1)[0] == "`" and "`" in line.strip()[len(m.group(1)):]):
                fence = m.group(1)
                continue
        else:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
            continue
        yield number, line if keep_code else CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)


def heading_text(raw):
    """The text a heading renders to: links reduced to their text, code marks and HTML gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\{#[^}]*\}\s*$", "", text)
    return text.replace("`", "").replace("*", "").strip()


def github_slug(text):
    out = []
    for ch in text.lower():
        if ch in " ":
            out.append("-")
        elif ch in "-_" or unicodedata.category(ch)[0] in "LNM":
            out.append(ch)
    return "".join(out)


def mdbook_slug(text):
    out = []
    for ch in text:
        if ch.isalnum() or ch in "-_":
            out.append(ch.lower() if ch.isascii() else ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def anchors(path, cache={}):
    """Every anchor a page defines: heading slugs (GitHub's and mdBook's) and explicit ids."""
    if path in cache:
        return cache[path]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found, seen = set(), {}
    lines = list(prose_lines(text, keep_code=True))
    headings = []
    for i, (number, line) in enumerate(lines):
        m = HEADING.match(line)
        if m:
            headings.append(m.group(2))
        elif SETEXT.match(line) and i > 0 and lines[i - 1][0] == number - 1:
            # `Text` over `===` or `---` (a setext heading), not a table, list or thematic break.
            above = lines[i - 1][1].strip()
            if above and not above.startswith(("|", "-", "*", "+", "#", ">")):
                headings.append(above)
        for m in HTML_ID.finditer(line):
            found.add(m.group(1)[1:-1])
        for m in re.finditer(r"\{#([^}\s]+)\}", line):
            found.add(m.group(1))
    for raw in headings:
        text = heading_text(raw)
        for slug in {github_slug(text), mdbook_slug(text)}:
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    cache[path] = found
    return found


def links(text):
    """(line number, target) of every link, image, reference definition and HTML href/src."""
    for number, line in prose_lines(text):
        for m in INLINE.finditer(line):
            yield number, m.group(1)
        m = REFDEF.match(line)
        if m:
            yield number, m.group(1)
        for m in HTML_ATTR.finditer(line):
            yield number, m.group(1)[1:-1]


def check(page):
    path = os.path.join(ROOT, page)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for number, target in links(text):
        link = target[1:-1] if target.startswith("<") and target.endswith(">") else target
        if not link or SCHEME.match(link) or link.startswith("//"):
            continue
        file_part, _, anchor = link.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        if file_part.startswith("/"):
            dest = os.path.normpath(os.path.join(ROOT, file_part.lstrip("/")))
        elif file_part:
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        else:
            dest = path
        why = None
        if not os.path.exists(dest):
            why = "no such file or folder"
        elif os.path.relpath(dest, ROOT).startswith(".."):
            why = "outside the repository"
        elif anchor and dest.endswith(".md") and os.path.isfile(dest):
            if unquote(anchor) not in anchors(dest):
                why = f"no heading #{anchor} in {os.path.relpath(dest, ROOT)}"
        if why:
            yield f"{page}:{number}: {target} ({why})"


def main(argv):
    todo = [os.path.relpath(os.path.abspath(p), ROOT) for p in argv] if argv else pages()
    broken, count = [], 0
    for page in todo:
        for problem in check(page):
            broken.append(problem)
        count += 1
    for problem in broken:
        print(problem)
    print(f"check_links: {count} pages, {len(broken)} broken links", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
