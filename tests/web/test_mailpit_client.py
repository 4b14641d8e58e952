"""The npm ``mailpit-api`` client, unchanged, against ``/inbox/NAME/`` and the tags API.

``.ci/run`` installs ``mailpit-api@2.1.0`` into ``tests/web/clients``; `mailpit_client.cjs`
drives it against ``mailcatcher serve`` and prints what it got. The test skips when node is
missing, or (outside CI) when the client is not installed; in CI (``CI`` set, as ``.ci/run``
sets it) a missing client fails it instead, so CI cannot pass by skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests import support
from tests.support import HOST

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients" / "node_modules"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (apt-get install nodejs npm)")


def send(port: int, login: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = subject
    message.set_content("hello\n")
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        client.login(login, "any password")
        client.send_message(message)


def test_the_mailpit_api_client_works_per_inbox_and_with_tags(tmp_path: Path) -> None:
    assert NODE is not None
    if not (CLIENTS / "mailpit-api").is_dir():
        install = "npm install --prefix tests/web/clients mailpit-api@2.1.0"
        if os.environ.get("CI"):
            pytest.fail(f"the mailpit-api client is missing: {install}")
        pytest.skip(f"needs the mailpit-api client: {install}")
    first, second = "app one", "app/two"  # a space and a slash: the URL encodes them
    with support.catcher("serve", tmp_path / "mail", http=True) as proc:
        send(proc.port, first, "first app's mail")
        send(proc.port, second, "second app's mail")
        result = subprocess.run(
            [NODE, str(HERE / "mailpit_client.cjs"), proc.url, first, second],
            env={**os.environ, "NODE_PATH": str(CLIENTS)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["listed"] == ["first app's mail"]
    assert out["listedTotal"] == 1
    assert out["summary"] == out["latest"] == "first app's mail"
    assert "404" in out["otherInboxsMessage"]
    assert out["searched"] == ["first app's mail"]
    assert out["searchedOther"] == 0
    assert out["setTags"] == "ok"
    assert out["tags"] == ["two words", "welcome"]
    assert out["tagsOther"] == []  # its message was another inbox's: left alone
    assert out["tagged"] == ["welcome", "two words"]
    assert out["byTag"] == ["first app's mail"]
    assert out["byTagOther"] == 0
    assert (out["renamed"], out["deletedTag"]) == ("ok", "ok")
    assert out["tagsAfter"] == ["hello"]
    assert "tag not found: nothing" in out["renameMissing"]
    assert (out["cleared"], out["tagsCleared"]) == ("ok", [])
    assert (out["rootTags"], out["tagsOfSecond"]) == ("ok", ["from root"])
    assert out["info"] == 1
    # deleteMessages() sends no body: delete all, answered empty (MailHog's clients need it).
    assert out["deleted"] == ""
    assert out["leftInFirst"] == 0
    assert out["leftInSecond"] == ["second app's mail"]
    assert out["leftInAll"] == 1
