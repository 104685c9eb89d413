"""The demo fixture of CONTRACT.md, loaded idempotently (a second start duplicates nothing).

Demo mode only: ``caseflow serve --demo``. Every account's password is
``CASEFLOW_DEMO_PASSWORD`` (``caseflow-demo`` when unset).
"""

from __future__ import annotations

from server.auth.accounts import Accounts

PARTNERSHIPS = {
    "east-sussex": ("East Sussex Safeguarding Children Partnership", "ESX"),
    "west-sussex": ("West Sussex Safeguarding Children Partnership", "WSX"),
    "brighton-hove": ("Brighton & Hove Safeguarding Children Partnership", "BH"),
}

AGENCIES = [
    ("esx-childrens-services", "east-sussex", "local_authority", "East Sussex Children's Services"),
    ("nhs-sussex-icb", "east-sussex", "health", "NHS Sussex Integrated Care Board"),
    ("uh-sussex", "east-sussex", "health", "University Hospitals Sussex"),
    ("sussex-police", "east-sussex", "police", "Sussex Police"),
    ("esx-schools", "east-sussex", "education", "East Sussex Schools"),
    ("wsx-schools", "west-sussex", "education", "West Sussex Schools"),
]

USERS = [
    ("esx.admin", "east-sussex", None, ["admin"]),
    ("esx.business", "east-sussex", None, ["business_team"]),
    ("esx.crg", "east-sussex", None, ["crg_member"]),
    ("esx.hos", "east-sussex", "esx-childrens-services", ["la_head_of_safeguarding"]),
    ("esx.la-lead", "east-sussex", "esx-childrens-services", ["statutory_lead"]),
    ("esx.health-lead", "east-sussex", "nhs-sussex-icb", ["statutory_lead"]),
    ("esx.police-lead", "east-sussex", "sussex-police", ["statutory_lead"]),
    ("esx.scrutineer", "east-sussex", None, ["independent_scrutineer"]),
    ("esx.reviewer", "east-sussex", None, ["lead_reviewer"]),
    ("esx.school-dsl", "east-sussex", "esx-schools", ["agency_safeguarding_lead"]),
    ("esx.health-dsl", "east-sussex", "uh-sussex", ["agency_safeguarding_lead"]),
    ("esx.police-dsl", "east-sussex", "sussex-police", ["agency_safeguarding_lead"]),
    ("esx.social-worker", "east-sussex", "esx-childrens-services", ["practitioner"]),
    ("esx.health-visitor", "east-sussex", "uh-sussex", ["practitioner"]),
    ("wsx.business", "west-sussex", None, ["business_team"]),
    ("wsx.school-dsl", "west-sussex", "wsx-schools", ["agency_safeguarding_lead"]),
]


def load_demo(accounts: Accounts, password: str) -> dict[str, int]:
    """Create whatever of the fixture is missing; returns counts of what was added."""
    added = {"partnerships": 0, "agencies": 0, "users": 0}
    for pid, (name, prefix) in PARTNERSHIPS.items():
        added["partnerships"] += accounts.add_partnership(pid, name, prefix)
    for agency_id, partnership, sector, name in AGENCIES:
        added["agencies"] += accounts.add_agency(agency_id, partnership, sector, name)
    for username, partnership, agency, roles in USERS:
        if accounts.user_by_username(username) is None:
            accounts.add_user(username, password, partnership, roles, agency=agency)
            added["users"] += 1
    return added
