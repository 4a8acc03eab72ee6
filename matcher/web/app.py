"""``matcher serve``: the JSON API of CONTRACT.md's "Web service" over the
register, through the domain API.

Sessions are server-side (:mod:`matcher.store.accounts`): the cookie holds
a random token (HttpOnly, SameSite=Strict, Secure behind TLS), the store
only its hash. Every state-changing request carries the session's CSRF
token in ``X-CSRF-Token``. A family finder or agency manager acts for their
own agency's children only: anything about another agency's child answers
404, as an unknown child does (so ids of other agencies' children cannot be
probed). Redaction is structural: each role's answer is a pydantic model
that has no field for what the role may not see (a household's location
outside its own agency). Every read of a child's record or ranking goes to
the audit with the account's name and ``web``.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from matcher import api
from matcher.web.pages_accounts import MUST_SET, reset_pending

COOKIE = "matcher_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# --- answers -----------------------------------------------------------------------------------------------------

class LoginRequest(BaseModel):
    username: str
    password: str


class LoginAnswer(BaseModel):
    csrf_token: str
    username: str
    role: str
    agency_id: str | None


class Problem(BaseModel):
    detail: str


# The error answers each JSON endpoint may give (besides FastAPI's own 422
# for a request that does not fit its parameters), declared in the OpenAPI.
BAD_INPUT = {400: {"model": Problem, "description": "an option or id that is not valid"}}
NO_SESSION = {401: {"model": Problem, "description": "no live session (log in first)"}}
NO_CSRF = {403: {"model": Problem, "description": "the session's CSRF token is missing or wrong"}}
NOT_FOUND = {404: {"model": Problem, "description": "unknown, or outside the account's agency"}}


class RankedLink(BaseModel):
    model_config = ConfigDict(extra="allow")
    household_id: str | None = None
    unit_id: str | None = None
    score: float
    factors: dict[str, float]
    reasons: list[str]


class RankAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    unit_id: str
    child_ids: list[str]
    results: list[RankedLink]


class Violation(BaseModel):
    model_config = ConfigDict(extra="allow")
    rule: int
    child_id: str | None
    message: str


class WhyNotAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    unit_id: str
    child_ids: list[str]
    household_id: str
    eligible: bool
    violations: list[Violation]
    score: float | None


class ChildRecord(BaseModel):
    """A child's row in full: for the child's own agency and admins."""

    child_id: str
    agency_id: str
    region: str
    date_of_birth: str
    sex: str
    ethnicity: str
    sibling_group_id: str | None
    sibling_plan: str | None
    need_physical: int
    need_learning: int
    need_health: int
    need_developmental_uncertainty: int
    need_emotional: int
    need_prenatal_exposure: int
    entered_care_date: str
    placement_order_date: str | None
    early_permanence: bool | None
    contact_plan: str | None
    lat: float
    lon: float
    birth_family_lat: float | None
    birth_family_lon: float | None
    min_distance_km: float | None
    status: str


class HouseholdForMatching(BaseModel):
    """What matching needs of a household: its approval criteria, region,
    agency; never where it lives (for users of other agencies)."""

    household_id: str
    agency_id: str
    agency_type: str
    region: str
    approval_date: str
    adults: int
    ethnicities: list[str]
    can_promote: list[str] | None
    min_children: int
    max_children: int
    min_age_months: int
    max_age_months: int
    sexes: list[str]
    accept_physical: int
    accept_learning: int
    accept_health: int
    accept_developmental_uncertainty: int
    accept_emotional: int
    accept_prenatal_exposure: int
    consider_physical: int | None
    consider_learning: int | None
    consider_health: int | None
    consider_developmental_uncertainty: int | None
    consider_emotional: int | None
    consider_prenatal_exposure: int | None
    dual_approved: bool | None
    accepts_direct_contact: bool | None
    youngest_child_months: int | None
    max_travel_km: float | None
    status: str


class HouseholdRecord(HouseholdForMatching):
    """A household's row in full: for its own agency and admins."""

    lat: float
    lon: float


# --- the application ---------------------------------------------------------------------------------------------

def create_app(db: str | os.PathLike | None = None, *, as_of: dt.date | None = None) -> FastAPI:
    """The web application over the store ``db`` (``MATCHER_DB`` or the
    embedded default when None). ``as_of`` fixes the date queries run at
    (today when None)."""
    store = api.query_store(db)
    # No /docs or /redoc: FastAPI's pages load scripts from a CDN and run inline
    # ones, which the Content-Security-Policy (and working offline) rule out.
    app = FastAPI(title="matcher", version=_version(), description=__doc__.split("\n\n")[0], docs_url=None,
                  redoc_url=None)

    audit = AuditGroup(store)

    def today() -> dt.date:
        return as_of or dt.date.today()

    def region():
        return api.region_from_store(store, today())

    def account(request: Request, x_csrf_token: str | None = Header(default=None)):
        found = api.web_session(store, request.cookies.get(COOKIE))
        if found is None:
            raise HTTPException(401, "log in first (POST /api/login)")
        who, csrf = found
        if reset_pending(who, request.url.path):  # an admin reset the password: a new one comes first
            raise HTTPException(403, MUST_SET)
        if request.method in UNSAFE_METHODS and not _csrf_ok(csrf, x_csrf_token):
            raise HTTPException(403, "this request needs the session's CSRF token in X-CSRF-Token")
        return who

    def own_child(region, who, child_id: str) -> dict:
        record = api.child_in_scope(region, child_id, None if who.is_admin else who.agency_id)
        if record is None:
            raise HTTPException(404, f"no child {child_id!r} among your agency's children")
        return record

    @app.exception_handler(api.InputError)
    async def bad_input(_request: Request, error: api.InputError):
        return JSONResponse({"detail": error.render() if hasattr(error, "render") else str(error)}, status_code=400)

    @app.post("/api/login", response_model=LoginAnswer,
              responses={**BAD_INPUT, 401: {"model": Problem, "description": "bad credentials"},
                         429: {"model": Problem, "description": "too many failed logins: wait"}})
    def login(body: LoginRequest, request: Request, response: Response):
        try:
            with api.acting(how="web", acting_for=body.username):
                session = api.web_login(store, body.username, body.password)
        except api.LoginRefused as refused:
            if refused.locked:
                raise HTTPException(429, str(refused), headers={"Retry-After": str(refused.retry_after_s)}) from None
            raise HTTPException(401, str(refused)) from None
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https",
                            max_age=int((session.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds()))
        who = session.account
        return LoginAnswer(csrf_token=session.csrf_token, username=who.username, role=who.role,
                           agency_id=who.agency_id)

    @app.post("/api/logout", status_code=204, responses={**NO_SESSION, **NO_CSRF})
    def logout(request: Request, who=Depends(account)):
        api.web_logout(store, request.cookies.get(COOKIE))
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/api/rank", response_model=RankAnswer, responses={**BAD_INPUT, **NO_SESSION, **NOT_FOUND})
    def rank(child: str = Query(..., description="a child of the unit to rank households for"),
             top: str = Query("10", description="how many households"), who=Depends(account)):
        here = region()
        own_child(here, who, child)
        options = api.QueryOptions(top=top)
        with api.acting(how="web", acting_for=who.username):
            answer = api.rank(here, child_id=child, options=options)
            audit.record("rank", f"rank --child {child} --top {top}", child_id=child)
        return JSONResponse(_plain(answer))

    @app.get("/api/why-not", response_model=WhyNotAnswer,
             responses={**BAD_INPUT, **NO_SESSION, **NOT_FOUND})
    def why_not(child: str = Query(...), household: str = Query(...), who=Depends(account)):
        here = region()
        own_child(here, who, child)
        with api.acting(how="web", acting_for=who.username):
            try:
                answer = api.why_not(here, child_id=child, household_id=household)
            except api.LookupInputError:
                raise HTTPException(404, f"no household {household!r}") from None
            audit.record("why-not", f"why-not --child {child} --household {household}", child_id=child,
                         household_id=household)
        return JSONResponse(_plain(answer))

    @app.get("/api/children/{child_id}", response_model=ChildRecord,
             responses={**BAD_INPUT, **NO_SESSION, **NOT_FOUND})
    def child_record(child_id: str, who=Depends(account)):
        record = own_child(region(), who, child_id)
        with api.acting(how="web", acting_for=who.username):
            audit.record("child record", f"child record {child_id}", child_id=child_id)
        return ChildRecord(**_plain(record))

    @app.get("/api/households/{household_id}", response_model=HouseholdRecord | HouseholdForMatching,
             responses={**BAD_INPUT, **NO_SESSION, **NOT_FOUND})
    def household_record(household_id: str, who=Depends(account)):
        try:
            record = _plain(api.household_record(region(), household_id))
        except api.LookupInputError:
            raise HTTPException(404, f"no household {household_id!r}") from None
        if who.is_admin or record["agency_id"] == who.agency_id:
            return HouseholdRecord(**record)
        # The model has no location fields: they cannot leave by mistake.
        return HouseholdForMatching(**{k: v for k, v in record.items() if k in HouseholdForMatching.model_fields})

    _add_pages(app, store, today, region, audit.record)
    return app


# --- the audit rows of reads, committed in groups ------------------------------------------------------------------

class AuditGroup:
    """Group commit of the audit rows of reads. A request's row is committed
    before its answer leaves (:meth:`record` returns only then), but the
    rows of requests that come while another commit is under way wait for
    it and then go together in the next transaction: one write lock and one
    commit (one fsync on SQLite, ``synchronous=FULL``) for many readers,
    not one each. Whoever finds no commit under way writes the rows waiting
    (its own among them); the others wait to be told theirs is written."""

    def __init__(self, store) -> None:
        self._store = store
        self._changed = threading.Condition()
        self._waiting: list[dict] = []
        self._writing = False

    def record(self, action: str, what: str, *, child_id: str | None = None,
               household_id: str | None = None) -> None:
        """Write the audit row of a read made now, for whom the caller acts
        (:func:`matcher.api.acting`); a RuntimeError (from what writing
        the group raised) when it could not be written: no answer then."""
        mine = {"read": api.audit_entry(action, what, child_id=child_id, household_id=household_id),
                "done": False, "error": None}
        with self._changed:
            self._waiting.append(mine)
            while self._writing and not mine["done"]:
                self._changed.wait()
            if not mine["done"]:
                self._writing = True
                group, self._waiting = self._waiting, []
        if not mine["done"]:
            error = None
            try:
                api.audit_reads(self._store, [entry["read"] for entry in group])
            except BaseException as exc:  # noqa: BLE001 - given to every request of the group
                error = exc
            with self._changed:
                for entry in group:
                    entry["done"], entry["error"] = True, error
                self._writing = False
                self._changed.notify_all()
        if mine["error"] is not None:
            raise RuntimeError("the audit row of this read could not be written") from mine["error"]


# --- the pages and the headers of every response ------------------------------------------------------------------

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _SecurityHeaders:
    """The security headers (and Cache-Control) on every HTTP response, as a
    plain ASGI middleware: it only adds headers to the start of a response,
    without the task and streams of Starlette's ``BaseHTTPMiddleware``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = "no-cache" if scope["path"].startswith("/static/") else "no-store"

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                from starlette.datastructures import MutableHeaders

                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    # A whole document of ours with a stricter policy of its own keeps it.
                    if name != "Content-Security-Policy" or not headers.get(name, "").startswith("default-src 'none'"):
                        headers[name] = value
                headers["Cache-Control"] = cache
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_pages(app: FastAPI, store, today, region, audit_read) -> None:
    """The server-side pages (:mod:`matcher.web.pages`), the vendored static
    files (HTMX, the style sheet) and the security headers on every
    response, the JSON API's included. The pages' reads are audited through
    ``audit_read``: the API's group commit."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from matcher.web.pages import add_pages

    app.add_middleware(_SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    add_pages(app, store, today, region, COOKIE, audit_read)


def _csrf_ok(expected: str, given: str | None) -> bool:
    return api.csrf_matches(expected, given)


def _plain(value):
    """Frozen answers as plain JSON values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("matcher")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "0"
