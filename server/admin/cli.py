"""``caseflow init``, ``partnerships``, ``users``, ``agencies`` and ``devices``: the admin API from the command line.

Each command is one or a few admin API calls as the operator (server/admin/client.py): to the
running server when one holds the data directory, else to the app opened in this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

if TYPE_CHECKING:
    from server.admin.client import AdminClient


def _data_dir(data: str | None) -> Path:
    from server.config import Settings

    return Settings.from_env(data_dir=Path(data) if data else None).data_dir


def _client(data: str | None) -> AdminClient:
    from server.admin.client import AdminClient, AdminUnavailable  # the app's imports, only when needed

    try:
        return AdminClient(_data_dir(data))
    except AdminUnavailable as exc:
        raise click.ClickException(str(exc)) from None


def _ok(status: int, body: Any, *expected: int) -> Any:
    if status in (expected or (200, 201)):
        return body
    body = body if isinstance(body, dict) else {}
    fields = "; ".join(f"{e.get('path') or '/'}: {e.get('message')}" for e in body.get("errors") or [])
    raise click.ClickException(f"{body.get('detail') or f'HTTP {status}'}{' (' + fields + ')' if fields else ''}")


def _password(prompt: str = "Password") -> str:
    return os.environ.get("CASEFLOW_NEW_USER_PASSWORD") or click.prompt(
        prompt, hide_input=True, confirmation_prompt=True)


def _checked_password(username: str) -> str:
    """The first admin's password, checked before anything is written (the API checks it again)."""
    from server.auth.accounts import username_problems
    from server.auth.passwords import password_problems

    problems = username_problems(username)
    if problems:
        raise click.ClickException(f"username: {'; '.join(problems)}; nothing changed")
    password = _password()
    problems = password_problems(password, username)
    if problems:
        raise click.ClickException(f"password: {'; '.join(problems)}; nothing changed")
    return password


def _find_user(client: AdminClient, username: str, partnership: str | None = None) -> dict:
    body = _ok(*client.call("GET", f"/api/v1/admin/users?username={quote(username)}", partnership=partnership))
    if not body["users"]:
        raise click.ClickException(f"no user {username}")
    return body["users"][0]


# -- init ---------------------------------------------------------------------------------------------
@click.command("init")
@click.option("--partnership", "partnership_id", required=True, help="The partnership's id, e.g. east-sussex.")
@click.option("--name", required=True, help="The partnership's name.")
@click.option("--admin", "admin", required=True, help="Username of its first admin.")
@click.option("--display-name", default=None, help="The admin's name as colleagues see it.")
@click.option("--data", default=None)
def init(partnership_id: str, name: str, admin: str, display_name: str | None, data: str | None) -> None:
    """Create a partnership and its first admin (password prompted, or CASEFLOW_NEW_USER_PASSWORD).
    Run again, it changes nothing and says so."""
    with _client(data) as client:
        # every refusal comes before the first write, so a refused init leaves nothing behind
        users = _ok(*client.call("GET", f"/api/v1/admin/users?username={quote(admin)}"))["users"]
        if users and (users[0]["partnership"] != partnership_id or "admin" not in users[0]["roles"]):
            raise click.ClickException(f"username {admin} is taken by another account; nothing changed")
        existing = _ok(*client.call("GET", "/api/v1/admin/partnerships"))
        named = next((p for p in existing if p["id"] == partnership_id), None)
        if named is not None and named["name"] != name:
            raise click.ClickException(f"partnership {partnership_id} already exists as '{named['name']}'; "
                                       "nothing changed")
        password = None if users else _checked_password(admin)
        saved = _ok(*client.call("POST", "/api/v1/admin/partnerships",
                                 {"partnership_id": partnership_id, "name": name}))
        if saved["partnership"]["name"] != name:  # made by someone else since the look-up above
            raise click.ClickException(f"partnership {partnership_id} already exists as "
                                       f"'{saved['partnership']['name']}'; nothing changed")
        if users:
            user, created_user = users[0], False
        else:
            body = {"username": admin, "password": password, "roles": ["admin"]}
            if display_name:
                body["display_name"] = display_name
            user = _ok(*client.call("POST", "/api/v1/admin/users", body, partnership=partnership_id))
            created_user = True
    if not saved["created"] and not created_user:
        click.echo(f"already initialised: partnership {partnership_id} and admin {admin} ({user['user_id']}) "
                   "exist; nothing changed")
        return
    what = "created partnership" if saved["created"] else "partnership exists:"
    click.echo(f"{what} {partnership_id} ({name}); "
               f"{'created' if created_user else 'existing'} admin {admin} ({user['user_id']})")


# -- partnerships ---------------------------------------------------------------------------------------
@click.group("partnerships")
def partnerships() -> None:
    """Partnerships (works while a server runs; create one with ``caseflow init``)."""


@partnerships.command("list")
@click.option("--data", default=None)
def partnerships_list(data) -> None:
    """List partnerships: id, reference prefix, name."""
    with _client(data) as client:
        body = _ok(*client.call("GET", "/api/v1/admin/partnerships"))
    for p in body:
        click.echo(f"{p['id']}\t{p.get('reference_prefix') or '-'}\t{p['name']}")


@partnerships.command("update")
@click.argument("partnership_id")
@click.option("--name", required=True, help="The partnership's new name.")
@click.option("--data", default=None)
def partnerships_update(partnership_id, name, data) -> None:
    """Rename a partnership (its id and reference prefix stay)."""
    with _client(data) as client:
        status, body = client.call("PATCH", f"/api/v1/admin/partnerships/{quote(partnership_id, safe='')}",
                                   {"name": name})
        if status == 404:
            raise click.ClickException(f"no partnership {partnership_id}; nothing changed")
        result = _ok(status, body)
    click.echo(f"{'renamed' if result['changed'] else 'unchanged'} partnership {partnership_id}: "
               f"{result['partnership']['name']}")


# -- users --------------------------------------------------------------------------------------------
@click.group("users")
def users() -> None:
    """Manage user accounts (works while a server runs on the data directory)."""


@users.command("add")
@click.argument("username")
@click.option("--partnership", required=True)
@click.option("--agency", default=None)
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--display-name", default=None)
@click.option("--temporary", is_flag=True, help="The user must change the password at the first login.")
@click.option("--data", default=None)
def users_add(username, partnership, agency, roles, display_name, temporary, data) -> None:
    """Create a user (password prompted, or CASEFLOW_NEW_USER_PASSWORD)."""
    with _client(data) as client:
        body = {"username": username, "password": _password(), "roles": list(roles), "agency": agency,
                "must_change_password": temporary}
        if display_name:
            body["display_name"] = display_name
        user = _ok(*client.call("POST", "/api/v1/admin/users", body, partnership=partnership))
    click.echo(f"created {user['username']} ({user['user_id']})")


@users.command("list")
@click.option("--partnership", default=None, help="Only this partnership's users.")
@click.option("--data", default=None)
def users_list(partnership, data) -> None:
    """List users: username, partnership, agency, roles, status, user id."""
    with _client(data) as client:
        body = _ok(*client.call("GET", "/api/v1/admin/users", partnership=partnership))
    for u in sorted(body["users"], key=lambda u: u["username"]):
        state = "disabled" if u["disabled"] else "active"
        click.echo(f"{u['username']}\t{u['partnership']}\t{u.get('agency') or '-'}\t{','.join(u['roles'])}\t"
                   f"{state}\t{u['user_id']}")


@users.command("show")
@click.argument("username")
@click.option("--data", default=None)
def users_show(username, data) -> None:
    """One user's account and devices."""
    with _client(data) as client:
        user = _find_user(client, username)
        devices = _ok(*client.call("GET", f"/api/v1/admin/users/{user['user_id']}/devices"))["devices"]
    for key in ("user_id", "username", "display_name", "partnership", "agency", "roles", "disabled",
                "must_change_password", "created_at"):
        value = ",".join(user[key]) if key == "roles" else user[key]
        click.echo(f"{key}\t{value if value is not None else '-'}")
    for d in devices:
        click.echo(f"device\t{d['device_id']}\tlast seen {d['last_seen'] or '-'}\t"
                   f"{'revoked' if d['revoked'] else 'active'}")


@users.command("update")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="The user's roles (replaces them; repeat for several).")
@click.option("--agency", default=None, help="The user's agency ('-' for none).")
@click.option("--display-name", default=None)
@click.option("--data", default=None)
def users_update(username, roles, agency, display_name, data) -> None:
    """Change a user's roles, agency or display name."""
    body: dict[str, Any] = {}
    if roles:
        body["roles"] = list(roles)
    if agency is not None:
        body["agency"] = None if agency == "-" else agency
    if display_name is not None:
        body["display_name"] = display_name
    if not body:
        raise click.UsageError("give --role, --agency or --display-name")
    with _client(data) as client:
        user = _find_user(client, username)
        result = _ok(*client.call("PATCH", f"/api/v1/admin/users/{user['user_id']}", body))
    click.echo(f"{'updated' if result['changed'] else 'unchanged'} {username}")


def _set_state(username: str, data: str | None, action: str) -> None:
    with _client(data) as client:
        user = _find_user(client, username)
        result = _ok(*client.call("POST", f"/api/v1/admin/users/{user['user_id']}/{action}"))
    click.echo(f"{action}d {username}" + ("" if result["changed"] else " (it already was)"))


@users.command("disable")
@click.argument("username")
@click.option("--data", default=None)
def users_disable(username, data) -> None:
    """Disable a user: their tokens stop working on the next request."""
    _set_state(username, data, "disable")


@users.command("enable")
@click.argument("username")
@click.option("--data", default=None)
def users_enable(username, data) -> None:
    """Enable a disabled user."""
    _set_state(username, data, "enable")


@users.command("reset-password")
@click.argument("username")
@click.option("--temporary", is_flag=True,
              help="Set a temporary password (prompted, or CASEFLOW_NEW_USER_PASSWORD) instead of a one-time token.")
@click.option("--data", default=None)
def users_reset_password(username, temporary, data) -> None:
    """Print a one-time reset token for the user (or set a temporary password they must change)."""
    with _client(data) as client:
        user = _find_user(client, username)
        path = f"/api/v1/admin/users/{user['user_id']}"
        if temporary:
            _ok(*client.call("POST", path + "/password", {"temporary_password": _password("Temporary password")}))
            click.echo(f"temporary password set for {username}: it must be changed at the next login")
            return
        token = _ok(*client.call("POST", path + "/reset-token"))
    click.echo(f"reset token for {username} (valid until {token['expires_at']}, works once):")
    click.echo(token["reset_token"])


# -- agencies -------------------------------------------------------------------------------------------
@click.group("agencies")
def agencies() -> None:
    """A partnership's agencies (works while a server runs)."""


@agencies.command("add")
@click.argument("agency_id")
@click.option("--partnership", required=True)
@click.option("--sector", required=True, help="local_authority, health, police, education or other")
@click.option("--name", required=True)
@click.option("--data", default=None)
def agencies_add(agency_id, partnership, sector, name, data) -> None:
    """Add an agency."""
    with _client(data) as client:
        _ok(*client.call("POST", "/api/v1/admin/agencies", {"agency_id": agency_id, "sector": sector, "name": name},
                         partnership=partnership))
    click.echo(f"created agency {agency_id}")


@agencies.command("list")
@click.option("--partnership", required=True)
@click.option("--data", default=None)
def agencies_list(partnership, data) -> None:
    """List agencies: id, sector, name, active."""
    with _client(data) as client:
        body = _ok(*client.call("GET", "/api/v1/admin/agencies", partnership=partnership))
    for a in body["agencies"]:
        click.echo(f"{a['id']}\t{a['sector']}\t{a['name']}\t{'active' if a['active'] else 'inactive'}")


@agencies.command("update")
@click.argument("agency_id")
@click.option("--sector", default=None)
@click.option("--name", default=None)
@click.option("--active/--inactive", default=None)
@click.option("--data", default=None)
def agencies_update(agency_id, sector, name, active, data) -> None:
    """Rename an agency, change its sector, or make it (in)active."""
    body = {k: v for k, v in (("sector", sector), ("name", name), ("active", active)) if v is not None}
    with _client(data) as client:
        _ok(*client.call("PATCH", f"/api/v1/admin/agencies/{agency_id}", body))
    click.echo(f"updated agency {agency_id}")


# -- devices ---------------------------------------------------------------------------------------------
@click.group("devices")
def devices() -> None:
    """Users' devices (works while a server runs)."""


@devices.command("list")
@click.argument("username")
@click.option("--data", default=None)
def devices_list(username, data) -> None:
    """A user's devices: id, last seen, status."""
    with _client(data) as client:
        user = _find_user(client, username)
        body = _ok(*client.call("GET", f"/api/v1/admin/users/{user['user_id']}/devices"))
    for d in body["devices"]:
        click.echo(f"{d['device_id']}\t{d['last_seen'] or '-'}\t{'revoked' if d['revoked'] else 'active'}")


@devices.command("revoke")
@click.argument("device_id")
@click.option("--data", default=None)
def devices_revoke(device_id, data) -> None:
    """Revoke a lost device: its next request fails and tells it to wipe local data."""
    with _client(data) as client:
        status, body = client.call("POST", f"/api/v1/admin/devices/{device_id}/revoke")
        if status == 404:
            raise click.ClickException(f"no device {device_id}")
        _ok(status, body)
    click.echo(f"revoked {device_id}")


COMMANDS = [init, partnerships, users, agencies, devices]
