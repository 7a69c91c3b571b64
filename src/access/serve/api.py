"""The JSON API of ``access serve``: Flask routes on the Dash server.

========================== =========================================================================================
``GET /api/areas``         the base indicators per area (EPCI): ``time_<cat>_mean``, ``time_<cat>_share_beyond_15min``,
                           ``..._30min`` for ``cat`` = any and each venue category, the typology class
``GET /api/venues``        the base venues (id, name, category, lon, lat)
``POST /api/scenario``     body ``{"add_venues": [{"lon", "lat", "category"[, "id", "capacity"]}], "remove_venues":
                           [ids], "close_streets": {"polygon": [[lon, lat], ...]}}`` (the whole scenario relative to
                           the base); answers per area before/after/delta, class changes, population affected, the
                           changed cells' delta and ``elapsed_ms``; ``?category=library`` picks the cells' indicator
``POST /api/scenario.toml`` the same body -> the scenario as a TOML file (``docs/scenarios.md``)
``POST /api/compare``      the same body -> a zip of the comparison as ``access scenario compare --no-maps`` writes it
========================== =========================================================================================

State is kept per session: the cookie ``access_session`` (set on the first answer) or the header ``X-Session-Id``.
A bad request gets a 400 ``{"error": "..."}`` naming the field; a body over :data:`MAX_BODY_BYTES` a 413. Nothing in
a request is used as a file path.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from .._errors import AccessError
from .engine import MAX_BODY_BYTES, Engine, RequestError

COOKIE = "access_session"
HEADER = "X-Session-Id"


def session_id(engine: Engine) -> tuple[str, bool]:
    """The request's session id (header, then cookie) and whether it is new (then set as a cookie)."""
    from flask import request

    sid = request.headers.get(HEADER) or request.cookies.get(COOKIE)
    if sid:
        return sid, False
    return engine.new_session_id(), True


def register_api(server, engine: Engine) -> None:
    """Add the ``/api/*`` routes to a Flask ``server``."""
    from flask import Response, jsonify, request

    def error(msg: str, status: int = 400):
        r = jsonify({"error": msg})
        r.status_code = status
        return r

    def body():
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise _TooLarge()
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            raise _TooLarge()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f"the request body is not valid JSON: {e}") from None

    def answer(fn):
        def wrapped():
            try:
                return fn()
            except _TooLarge:
                return error(f"the request body is over {MAX_BODY_BYTES} bytes", 413)
            except RequestError as e:
                return error(str(e))
            except AccessError as e:  # e.g. a closure polygon that holds no street
                return error(f"`close_streets`: {e}" if "streets" in str(e) else str(e))
        wrapped.__name__ = fn.__name__
        return wrapped

    def with_cookie(resp, sid: str, new: bool):
        if new:
            resp.set_cookie(COOKIE, sid, httponly=True, samesite="Strict")
        resp.headers[HEADER] = sid
        return resp

    @server.get("/api/areas")
    @answer
    def api_areas():
        return jsonify(engine.base_areas_json())

    @server.get("/api/venues")
    @answer
    def api_venues():
        return jsonify({"venues": engine.venues_json(), "categories": engine.categories})

    @server.post("/api/scenario")
    @answer
    def api_scenario():
        req = engine.parse(body())
        sid, new = session_id(engine)
        cat = request.args.get("category", "any")
        return with_cookie(jsonify(engine.evaluate(sid, req, indicator_category=cat)), sid, new)

    @server.post("/api/scenario.toml")
    @answer
    def api_scenario_toml():
        req = engine.parse(body())
        return Response(engine.scenario_toml(req), mimetype="application/toml",
                        headers={"Content-Disposition": "attachment; filename=scenario.toml"})

    @server.post("/api/compare")
    @answer
    def api_compare():
        req = engine.parse(body())
        sid, new = session_id(engine)
        data = comparison_zip(engine, sid, req)
        return with_cookie(Response(data, mimetype="application/zip",
                                    headers={"Content-Disposition": "attachment; filename=comparison.zip"}), sid, new)


def comparison_zip(engine: Engine, sid: str, req) -> bytes:
    """The comparison's files (and the scenario's TOML) in one zip, built in a temporary folder."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="access-serve-") as tmp:
        paths = engine.write_comparison(sid, req, tmp)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("scenario.toml", engine.scenario_toml(req))
            for p in paths:
                p = Path(p)
                z.write(p, p.relative_to(tmp).as_posix())
    return buf.getvalue()


class _TooLarge(Exception):
    pass
