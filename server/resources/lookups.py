"""GET /api/v1/lookups/agencies and /api/v1/lookups/users: read-only pickers for the roles that need them
(sync.lookups says which); the pull feed carries the same records as ``agency`` and ``user`` entities."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth.accounts import ROLES
from server.auth.tokens import auth_required
from server.problems import Problem
from server.resources.common import BEARER, ProblemSchema, services
from sync import lookups
from sync.actor import Actor

blp = Blueprint("lookups", __name__, url_prefix="/api/v1/lookups",
                description="Pickers: the partnership's agencies and the colleagues who can be assigned")


class AgencyPick(Schema):
    id = fields.Str()
    name = fields.Str()
    sector = fields.Str()


class AgencyPicks(Schema):
    agencies = fields.List(fields.Nested(AgencyPick))


class PersonPick(Schema):
    user_id = fields.Str()
    display_name = fields.Str()
    roles = fields.List(fields.Str())
    agency = fields.Str(allow_none=True)


class PersonPicks(Schema):
    users = fields.List(fields.Nested(PersonPick))


class PeopleQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    role = fields.Str(validate=validate.OneOf(sorted(ROLES)), metadata={"description": "only users with this role"})


def _problems(fn):
    for code in (401, 403, 422):
        fn = blp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json",
                              description=f"problem+json ({code})")(fn)
    return fn


@blp.route("/agencies", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, AgencyPicks)
@_problems
@auth_required
def agencies(actor: Actor):
    """The active agencies of your partnership."""
    if not lookups.may_pick_agencies(actor):
        raise Problem(403, "forbidden-role", "Your roles do not pick agencies.")
    docs = services().store.scan(lookups.AGENCIES, lambda a: a["partnership"] == actor.partnership
                                 and a.get("active", True))
    return {"agencies": sorted((lookups.agency_view(d.data) for d in docs), key=lambda a: a["name"])}


@blp.route("/users", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(PeopleQuery, location="query")
@blp.response(200, PersonPicks)
@_problems
@auth_required
def people(query, actor: Actor):
    """The active users of your partnership who can be assigned or asked to vote (id, name, roles)."""
    if not lookups.may_pick_people(actor):
        raise Problem(403, "forbidden-role", "Your roles do not assign people.")
    role = query.get("role")
    docs = services().store.scan(lookups.DIRECTORY, lambda u: u["partnership"] == actor.partnership
                                 and u.get("active", True) and (role is None or role in u["roles"]))
    return {"users": sorted((lookups.person_view(d.data) for d in docs), key=lambda u: u["display_name"])}
