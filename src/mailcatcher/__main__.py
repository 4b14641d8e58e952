"""``python -m mailcatcher``: the same as the ``mailcatcher`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
