"""``python -m reszoo.bench``: exit with ``reszoo.bench.main``'s status."""

from reszoo.bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
