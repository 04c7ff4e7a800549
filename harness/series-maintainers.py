#!/usr/bin/env python3
"""series-maintainers.py FINAL NEWFILE...: print FINAL (the overlaid
MAINTAINERS) with the sections that the overlay added or changed reduced to
the F: lines that match one of NEWFILE, the files the series has added so
far. A section left without F: lines is dropped whole. This lets each patch
of the series that adds files also add their MAINTAINERS lines, so that
checkpatch has nothing to ask about.

Only sections that are not in the base tree's MAINTAINERS (its path in the
environment variable PRISTINE) are reduced; the others are copied as they
are."""
import fnmatch
import os
import sys


def sections(text):
    out, cur = [], []
    for line in text.splitlines(keepends=True):
        cur.append(line)
        if line == '\n':
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def matches(pattern, path):
    if pattern.endswith('/'):
        return path.startswith(pattern)
    return fnmatch.fnmatchcase(path, pattern)


def main():
    final = open(sys.argv[1]).read()
    new_files = sys.argv[2:]
    base = open(os.environ['PRISTINE']).read()
    base_sections = {''.join(s) for s in sections(base)}
    out = []
    for sec in sections(final):
        if ''.join(sec) in base_sections:
            out.append(''.join(sec))
            continue
        kept = [line for line in sec
                if not line.startswith('F:\t') or
                any(matches(line[3:].strip(), f) for f in new_files)]
        if any(line.startswith('F:\t') for line in kept):
            out.append(''.join(kept))
    sys.stdout.write(''.join(out))


main()
