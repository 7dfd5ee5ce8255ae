"""``python -m ruleengine``: the command line of :mod:`ruleengine.cli`."""

from ruleengine.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
