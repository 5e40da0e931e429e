"""The README's source map names every file of src/ and csoftmax/, and names
no file that is not there (a .pyi stub goes with its module)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
SOURCE_SUFFIXES = (".c", ".h", ".py", ".pyi", ".pyx", ".pxi", ".typed")
FILE_NAME = re.compile(r"`(\w+\.(?:c|h|py|pyi|pyx|pxi|typed))`")  # not `.pyi` or `*_impl.h`
GENERATED = {"csoftmax/_core.c"}  # Cython's output


def _map_section():
    with open(README) as f:
        text = f.read()
    start = text.index("### Source map")
    end = text.index("\n### ", start + 1)
    return text[start:end]


def _named_files():
    """The paths the map names: `src/`'s part, then `csoftmax/`'s, whose
    bullet on `vocab/` names that subpackage's files."""
    section = _map_section()
    src_part, package_part = section.split("`csoftmax/`, the package", 1)
    names = {"src/" + name for name in FILE_NAME.findall(src_part)}
    for bullet in package_part.split("\n- "):
        prefix = "csoftmax/vocab/" if bullet.startswith("`vocab/`") else "csoftmax/"
        names |= {prefix + name for name in FILE_NAME.findall(bullet)}
    return names


def _tree_files():
    files = set()
    for top in ("src", "csoftmax"):
        for directory, subdirs, filenames in os.walk(os.path.join(ROOT, top)):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            for name in filenames:
                path = os.path.relpath(os.path.join(directory, name), ROOT).replace(os.sep, "/")
                if name.endswith(SOURCE_SUFFIXES) and path not in GENERATED:
                    files.add(path)
    return files


@pytest.mark.skipif(not os.path.exists(README), reason="no README.md beside the tests")
def test_the_source_map_matches_the_tree():
    named, tree = _named_files(), _tree_files()
    stubs_of_named = {path + "i" for path in named if path.endswith(".py")}
    stubs_of_named |= {path[:-4] + ".pyi" for path in named if path.endswith(".pyx")}
    unmapped = sorted(tree - named - stubs_of_named)
    missing = sorted(named - tree)
    assert not unmapped, f"files the README's source map does not name: {unmapped}"
    assert not missing, f"the README's source map names files that do not exist: {missing}"
