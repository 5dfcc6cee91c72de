"""Scale-out shells: `dflab batch` (many files, local processes or a Ray cluster) and queue workers.

Everything here calls the public facade (`dflab.Scanner`, `dflab.register`), never the layers under it, so a
batch line is exactly what `dflab scan --json` prints for the same file. See docs/scale-out.md.
"""
