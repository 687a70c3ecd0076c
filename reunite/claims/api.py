"""JSON API for one's own claims: file, list, read, replace, and read the history."""

from __future__ import annotations

from typing import Any

from flask import jsonify, url_for
from flask.typing import ResponseReturnValue

from reunite import openapi as oa
from reunite.auth.access import current, people_required
from reunite.claims import bp, services
from reunite.claims.models import Claim, ClaimRevision
from reunite.claims.tasks import enqueue_match
from reunite.extensions import db
from reunite.jsonapi import json_body

# OpenAPI declarations (reunite/openapi.py): the body is claims-v1 without ``id``, checked by its JSON Schema.
_NEW_CLAIM = oa.claims_v1(without_id=True)
_CLAIM = oa.component(
    "Claim",
    oa.obj(
        {
            "id": oa.string(),
            "role": oa.string(enum=["child", "parent"]),
            "version": oa.integer(1),
            "created_at": oa.TIMESTAMP,
            "updated_at": oa.TIMESTAMP,
            "data": _NEW_CLAIM,
            "changed": {"type": "boolean"},
        },
        ["id", "role", "version", "created_at", "updated_at", "data"],
    ),
)


def claim_json(claim: Claim) -> dict[str, Any]:
    """What the owner sees of a claim."""
    return {
        "id": claim.public_id,
        "role": claim.role.value,
        "version": claim.version,
        "created_at": claim.created_at.isoformat(),
        "updated_at": claim.updated_at.isoformat(),
        "data": claim.data,
    }


def revision_json(revision: ClaimRevision) -> dict[str, Any]:
    """One version in a claim's history."""
    return {"version": revision.version, "created_at": revision.created_at.isoformat(), "data": revision.data}


@bp.post("/api/v1/claims")
@oa.api_doc(body=_NEW_CLAIM, responses={201: _CLAIM})
@people_required
def api_create() -> ResponseReturnValue:
    """File a claim: a claims-v1 object without ``id`` whose role is the account's."""
    claim = services.create_claim(current(), json_body(allowed=None))
    claim_id, body = claim.id, claim_json(claim)
    db.session.commit()
    enqueue_match(claim_id)
    return jsonify(body), 201, {"Location": url_for("claims.api_get", public_id=body["id"])}


@bp.get("/api/v1/claims")
@oa.api_doc(responses={200: oa.obj({"claims": oa.array(_CLAIM)}, ["claims"])})
@people_required
def api_list() -> ResponseReturnValue:
    """The account's own claims."""
    return jsonify(claims=[claim_json(claim) for claim in services.list_own_claims(current())])


@bp.get("/api/v1/claims/<public_id>")
@oa.api_doc(responses={200: _CLAIM})
@people_required
def api_get(public_id: str) -> ResponseReturnValue:
    """One of the account's own claims."""
    return jsonify(claim_json(services.get_own_claim(current(), public_id)))


@bp.put("/api/v1/claims/<public_id>")
@oa.api_doc(body=_NEW_CLAIM, responses={200: _CLAIM})
@people_required
def api_update(public_id: str) -> ResponseReturnValue:
    """Replace a claim's content; a changed claim gets a new version, identical content does not."""
    claim, is_changed = services.update_claim(current(), public_id, json_body(allowed=None))
    claim_id, body = claim.id, claim_json(claim)
    body["changed"] = is_changed
    db.session.commit()
    if is_changed:
        enqueue_match(claim_id)
    return jsonify(body)


@bp.get("/api/v1/claims/<public_id>/history")
@oa.api_doc(
    responses={
        200: oa.obj(
            {
                "id": oa.string(),
                "revisions": oa.array(
                    oa.obj(
                        {"version": oa.integer(1), "created_at": oa.TIMESTAMP, "data": _NEW_CLAIM},
                        ["version", "created_at", "data"],
                    )
                ),
            },
            ["id", "revisions"],
        )
    }
)
@people_required
def api_history(public_id: str) -> ResponseReturnValue:
    """Every version of one of the account's own claims, oldest first."""
    revisions = services.history(current(), public_id)
    return jsonify(id=public_id, revisions=[revision_json(revision) for revision in revisions])
