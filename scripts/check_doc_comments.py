#!/usr/bin/env python3
"""Lists public declarations in Sources/ without a doc comment.

A declaration counts as documented when the lines just above it (skipping
attributes such as @inlinable or @_specialize) are a `///` comment, or when it
is a member of an extension or type whose only purpose is a protocol
conformance requirement the protocol documents (`description`, `init(from:)`,
`encode(to:)`, CodingKeys cases). Enum cases listed on one line with their
siblings share the comment above the line. Exit status 1 when any is missing.

Usage: scripts/check_doc_comments.py [Sources/Module ...]
"""
import os
import re
import sys

DECL = re.compile(r'^\s*(?:@[\w()":., ]+\s+)*public\s+(?:(?:final|static|class|override|convenience|mutating|nonisolated(?:\(unsafe\))?|indirect)\s+)*'
                  r'(func|var|let|init|subscript|struct|class|enum|protocol|typealias|case|extension)\b(.*)')
EXEMPT = re.compile(r'\b(description|debugDescription|init\(from decoder|encode\(to encoder|hash\(into|errorDescription)\b')


def documented(lines, i):
    j = i - 1
    while j >= 0 and lines[j].strip().startswith('@'):
        j -= 1
    return j >= 0 and lines[j].strip().startswith('///')


def main(roots):
    missing = []
    total = 0
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith('.swift'):
                    continue
                path = os.path.join(folder, name)
                lines = open(path, encoding='utf-8').read().split('\n')
                for i, line in enumerate(lines):
                    m = DECL.match(line)
                    if not m or m.group(1) == 'extension':
                        continue
                    if EXEMPT.search(line):
                        continue
                    total += 1
                    if not documented(lines, i):
                        missing.append(f'{path}:{i + 1}: {line.strip()[:110]}')
    for m in missing:
        print(m)
    print(f'{total - len(missing)} of {total} public declarations documented')
    return 1 if missing else 0


if __name__ == '__main__':
    roots = sys.argv[1:] or [os.path.join('Sources', d) for d in sorted(os.listdir('Sources'))
                             if d not in ('rankwise',)]
    sys.exit(main(roots))
