"""Suite-wide set-up: what must be imported once, before any child pytest run.

`pytester`'s in-process runs (``runpytest``) snapshot `sys.modules` and, afterwards, drop
every module first imported inside the child run. trustme's ``cryptography`` has a Rust core
that keeps the Python classes it saw at its first import: once a child run has imported it
and the snapshot has dropped its Python half, the next ``trustme.CA()`` in this process gets
fresh classes the core does not know ("TypeError: curve must be an EllipticCurve instance").
Under ``-n 2`` that depended on which worker ran which test first. Imported here, in the
outer process, the modules are in every snapshot and never dropped.
"""

from __future__ import annotations

import contextlib
import importlib
import os

for _name in ("trustme", "cryptography.hazmat.primitives.asymmetric.ec"):
    # Without the tls extra there is nothing to keep; the TLS tests say what is missing.
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

# Property tests explore new examples on every developer run; CI runs the same examples
# every time (derived from each test's name), so a landing is never decided by chance.
# A defect a developer's run finds becomes a kept regression example.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")
