"""The demo data set's accounts (fixtures/demo.json), so that production can
refuse to run with them."""

import json
from functools import cache
from pathlib import Path

from django.conf import settings

DEMO_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
# Every demo user's password (README, "Demo data"); seed_demo sets it.
DEMO_PASSWORD = "chat-demo-2026"


@cache
def demo_accounts() -> dict[str, str]:
    """username -> password hash of every user in the demo fixture."""
    records = json.loads(DEMO_FIXTURE.read_text())
    return {r["fields"]["username"]: r["fields"]["password"] for r in records if r["model"] == "auth.user"}
