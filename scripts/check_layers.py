#!/usr/bin/env python3
"""Checks that every source file includes only what its layer may use.

The layers are those of the top-level CMakeLists.txt: each folder is a
library that links only the libraries below it. Linking catches a call into
a layer above; this also catches a header-only use (an inline function, a
struct) and any <uv.h> outside server/net and the peer links. Prints each
offending include and exits 1; run by ctest as Layout.IncludesFollowTheLayers.
"""
import pathlib
import re
import sys

import tempfile

ROOT = pathlib.Path(__file__).parent.parent

PEER_WIRE = ("server/peer/auth", "server/peer/batch", "server/peer/codec", "server/peer/fields",
             "server/peer/fingerprint",
             "server/peer/peer_status")
LOWER = ("base/", "protocol/", "cluster/")
# (folder or file prefix, what it may include besides itself), most specific first.
RULES = [
    ("base/", ()),
    ("protocol/", ("base/",)),
    ("cluster/", ("base/",)),
    ("server/security/", ("base/", "protocol/")),
    ("server/config/", LOWER + ("server/security/",)),
    ("server/script/", LOWER),
    ("server/uv/", ()),
    ("server/peer/links", LOWER + ("server/security/", "server/config/", "server/uv/") + PEER_WIRE),
    ("server/peer/", LOWER + ("server/security/", "server/config/")),
    ("server/engine/", LOWER + ("server/security/", "server/config/", "server/script/")
     + PEER_WIRE),
    ("server/commands/", LOWER + ("server/security/", "server/config/", "server/script/",
                                  "server/engine/") + PEER_WIRE),
    ("server/net/", None),  # The top: anything.
    ("server/main.cc", None),
    ("server/run", None),
    ("server/", LOWER),     # The state file, data dir, boot clock.
]
UV_ALLOWED = ("server/net/", "server/peer/links", "server/uv/")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def rule_for(path):
    for prefix, allowed in RULES:
        if path.startswith(prefix):
            return prefix, allowed
    return None, None


def check(root):
    problems = []
    for file in sorted(root.glob("**/*")):
        if file.suffix not in (".cc", ".h"):
            continue
        path = file.relative_to(root).as_posix()
        prefix, allowed = rule_for(path)
        if prefix is None:
            continue  # tests/, bench/: they may use anything.
        own = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/"
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = match.group(1)
            if target == "uv.h" and not path.startswith(UV_ALLOWED):
                problems.append(f"{path}:{number}: <uv.h> outside server/net and the peer links")
                continue
            if "/" not in target or allowed is None:
                continue  # A system header, or the top layer.
            if not target.startswith(("base/", "protocol/", "cluster/", "server/")):
                continue  # A library's own folder (openssl/, gtest/).
            if target.startswith(own) and not (own == "server/peer/" and target.startswith(
                    "server/peer/links") and not path.startswith("server/peer/links")):
                if own != "server/" or target.count("/") == 1:
                    continue
            if target.startswith(allowed):
                continue
            problems.append(f"{path}:{number}: includes {target}, above its layer ({prefix})")
    return problems


def self_test():
    """The checker must catch each kind of break: a tree with one of each."""
    breaks = {
        "server/engine/a.cc": "#include <uv.h>\n",
        "cluster/b.cc": '#include "server/engine/engine.h"\n',
        "server/commands/c.cc": '#include "server/peer/links.h"\n',
        "server/d.cc": '#include "server/net/server.h"\n',
        "server/engine/e.cc": '#include "server/commands/handlers.h"\n',
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in breaks.items():
            (pathlib.Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (pathlib.Path(tmp) / name).write_text(text)
        found = check(pathlib.Path(tmp))
    missed = [name for name in breaks if not any(p.startswith(name + ":") for p in found)]
    for name in missed:
        print(f"self-test: the break in {name} was not found")
    return 1 if missed else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    problems = check(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} include(s) break the layering of CMakeLists.txt")
        return 1
    print("every include follows the layering of CMakeLists.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
