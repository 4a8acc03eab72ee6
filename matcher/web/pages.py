"""The server-side pages of ``matcher serve``: Jinja2 templates (autoescape
on) under ``templates/``, HTMX (vendored in ``static/``) for partial
updates, every page usable without JavaScript.

Protections:

- **log in**: the form carries a token that must equal a short-lived
  HttpOnly, SameSite=Strict cookie set with the form (a double-submit
  token: a page of another site can neither read the cookie nor send it),
  and a request whose ``Origin`` is another site's is refused;
- **every other POST** (log out, explore, decline, exclude) carries the
  session's CSRF token in a hidden ``csrf_token`` field: 403 without it;
- **scope**: a family finder or agency manager sees only their agency's
  children (404 for another agency's, as for an unknown child), links and
  units; the audit page is for agency managers and admins (403 otherwise);
- every read of a child's ranking or a why-not and every action is in the
  audit with the account's name and ``web``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from matcher import api

LOGIN_COOKIE = "matcher_login"
LOGIN_FORM_SECONDS = 600
TOP = 10
AUDIT_ROWS_SHOWN = 500
DONE = {
    "explore": "Now exploring the link with household {household}.",
    "decline": "Declined household {household}; it is no longer ranked for this child.",
    "exclude": "Excluded household {household}; it is no longer ranked for this child.",
}

_env = Environment(loader=PackageLoader("matcher.web", "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)


class PageRedirect(Exception):
    """Answer with a redirect (to the login page, say)."""

    def __init__(self, url: str):
        self.url = url


class PageProblem(Exception):
    """Answer with the error page."""

    def __init__(self, status: int, title: str, message: str, who=None):
        self.status, self.title, self.message, self.who = status, title, message, who


@dataclass(frozen=True)
class Viewer:
    """The account behind a page request and its session's CSRF token."""

    account: object
    csrf: str

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def agency(self) -> str | None:
        return None if self.account.is_admin else self.account.agency_id

    @property
    def may_audit(self) -> bool:
        return self.account.role in ("agency_manager", "admin")


def _fragment(request: Request) -> bool:
    """Whether HTMX asks for a part of a page (never when it restores a page
    from history: that needs the whole page)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"


def render(template: str, status: int = 200, **values) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**values), status_code=status,
                        headers={"Vary": "HX-Request, HX-History-Restore-Request"})


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value of each)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _same_origin(request: Request) -> bool:
    """Whether a form came from a page of this site, as far as the browser
    says: ``Sec-Fetch-Site`` when sent (modern browsers), else an ``Origin``
    naming this host. (With Referrer-Policy no-referrer a browser may send
    ``Origin: null``: then the form's token alone decides.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    given = urlsplit(origin)
    return given.netloc == request.headers.get("host", "") and given.scheme == request.url.scheme


def add_pages(app: FastAPI, store, today, region, cookie: str, audit_read: Callable) -> None:
    """Add the pages to ``app`` (the JSON API's application): ``store`` is
    the store, ``today()`` the query date, ``region()`` the region now,
    ``cookie`` the session cookie's name, ``audit_read`` what writes a
    read's audit row (the API's group commit, :class:`~matcher.web.app.AuditGroup`)."""

    def viewer(request: Request) -> Viewer:
        found = api.web_session(store, request.cookies.get(cookie))
        if found is None:
            raise PageRedirect("/login?next=" + quote(request.url.path + (f"?{request.url.query}"
                                                                          if request.url.query else ""), safe=""))
        from matcher.web.pages_accounts import PASSWORD_PAGE, reset_pending

        if reset_pending(found[0], request.url.path):  # an admin reset the password: a new one comes first
            raise PageRedirect(PASSWORD_PAGE)
        return Viewer(*found)

    async def checked_form(request: Request) -> tuple[Viewer, dict[str, str]]:
        who = viewer(request)
        form = await _form(request)
        if not api.csrf_matches(who.csrf, form.get("csrf_token")) or not _same_origin(request):
            raise PageProblem(403, "Refused", "This form was not sent from a page of this site (its CSRF token "
                                              "is missing or wrong). Go back, reload the page and try again.", who)
        return who, form

    def own_child(here, who: Viewer, child_id: str) -> dict:
        record = api.child_in_scope(here, child_id, who.agency)
        if record is None:
            raise PageProblem(404, "Not found", f"There is no child {child_id} among your agency's children.", who)
        return record

    @app.exception_handler(PageRedirect)
    async def redirect(_request: Request, moved: PageRedirect):
        return RedirectResponse(moved.url, status_code=303)

    @app.exception_handler(PageProblem)
    async def problem(_request: Request, error: PageProblem):
        return render("error.html", error.status, who=error.who, title=error.title, message=error.message)

    # --- logging in and out ------------------------------------------------------------------------------------

    def login_page(request: Request, status: int = 200, message: str | None = None, username: str = "",
                   next_url: str = "/children") -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = render("login.html", status, who=None, title="Log in", token=token, message=message,
                          username=username, next_url=next_url)
        response.set_cookie(LOGIN_COOKIE, token, max_age=LOGIN_FORM_SECONDS, httponly=True, samesite="strict",
                            path="/login", secure=request.url.scheme == "https")
        return response

    def safe_next(value: str | None) -> str:
        # Only a path of this site: never another site (an open redirect).
        if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
            return "/children"
        return value

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/children", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None):
        return login_page(request, next_url=safe_next(next))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await _form(request)
        expected = request.cookies.get(LOGIN_COOKIE)
        if expected is None or not api.csrf_matches(expected, form.get("login_token")) or not _same_origin(request):
            return login_page(request, 403, "The login form had expired or did not come from this site: "
                                            "please try again.", next_url=safe_next(form.get("next")))
        username = form.get("username", "")
        try:
            with api.acting(how="web", acting_for=username):
                session = api.web_login(store, username, form.get("password", ""))
        except api.LoginRefused as refused:
            response = login_page(request, 429 if refused.locked else 401, str(refused), username,
                                  safe_next(form.get("next")))
            if refused.locked:
                response.headers["Retry-After"] = str(refused.retry_after_s)
            return response
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        response.set_cookie(cookie, session.token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https",
                            max_age=int((session.expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds()))
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, checked=Depends(checked_form)):
        api.web_logout(store, request.cookies.get(cookie))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookie, path="/", httponly=True, samesite="strict")
        return response

    # --- children waiting --------------------------------------------------------------------------------------

    def waiting(who: Viewer, need: str, age: str, size: str) -> dict:
        filters = api.waiting_filters()
        chosen = {"need": need if need in filters["need"] else "", "age": age if age in filters["age"] else "",
                  "size": size if size in filters["size"] else ""}
        table = api.waiting_table(region(), agency_id=who.agency)
        units = [u for u in table["units"] if all(not v or u[k] == v for k, v in chosen.items())]
        return {"table": table, "units": units, "filters": filters, "chosen": chosen,
                "total": len(table["units"])}

    @app.get("/children", include_in_schema=False)
    def children(request: Request, need: str = "", age: str = "", size: str = "", who=Depends(viewer)):
        values = waiting(who, need, age, size)
        if _fragment(request):
            return render("_waiting_table.html", **values)
        return render("children.html", who=who, title="Children waiting", **values)

    # --- a child's ranked households ---------------------------------------------------------------------------

    def ranking(who: Viewer, child_id: str) -> dict:
        here = region()
        record = own_child(here, who, child_id)
        with api.acting(how="web", acting_for=who.username):
            try:
                answer = api.rank(here, child_id=child_id, options=api.QueryOptions(top=TOP))
            except api.LookupInputError as error:  # a child who is not waiting, say
                raise PageProblem(409, "Not ranked", str(error), who) from None
            audit_read("rank", f"rank --child {child_id} --top {TOP}", child_id=child_id)
        results = [dict(r, signed=_signed(r)) for r in answer["results"]]
        return {"record": record, "answer": answer, "results": results,
                "near_misses": answer.get("near_misses", ())}

    @app.get("/children/{child_id}", include_in_schema=False)
    def child_page(child_id: str, done: str = "", household: str = "", who=Depends(viewer)):
        values = ranking(who, child_id)
        note = DONE[done].format(household=household) if done in DONE else None
        return render("child.html", who=who, title=f"Households for child {child_id}", child_id=child_id,
                      note=note, why=None, **values)

    @app.get("/children/{child_id}/why-not", include_in_schema=False)
    def why_not_page(request: Request, child_id: str, household: str = "", who=Depends(viewer)):
        here = region()
        own_child(here, who, child_id)
        household = household.strip()
        why = {"household_id": household, "answer": None, "problem": None, "signed": None}
        if not household:
            why["problem"] = "Give a household id."
        else:
            try:
                with api.acting(how="web", acting_for=who.username):
                    why["answer"] = api.why_not(here, child_id=child_id, household_id=household)
                    if why["answer"]["eligible"] and why["answer"].get("reasons"):
                        why["signed"] = _signed(why["answer"])
                    audit_read("why-not", f"why-not --child {child_id} --household {household}",
                               child_id=child_id, household_id=household)
            except api.LookupInputError:
                why["problem"] = f"There is no household {household} in the region."
        if _fragment(request):
            return render("_why_not.html", why=why, child_id=child_id)
        values = ranking(who, child_id)
        return render("child.html", 404 if why["problem"] and household else 200, who=who,
                      title=f"Why not household {household} for child {child_id}", child_id=child_id, note=None,
                      why=why, **values)

    def act(who: Viewer, child_id: str, household_id: str, action: str, reason: str | None) -> Response:
        here = region()
        own_child(here, who, child_id)
        try:
            api.household_record(here, household_id)
        except api.LookupInputError:
            raise PageProblem(404, "Not found", f"There is no household {household_id} in the region.",
                              who) from None
        if action in ("decline", "exclude") and not (reason or "").strip():
            raise PageProblem(400, "A reason is needed", f"To {action} household {household_id} for child "
                                                         f"{child_id}, give a reason.", who)
        try:
            with api.acting(how="web", acting_for=who.username):
                if action == "exclude":
                    api.exclude(store, child_id, household_id, reason.strip())
                else:
                    # A pair with no open link is proposed first (re-opened, with a reason, after a decline).
                    state = _link_state(store, child_id, household_id)
                    if state in (None, "declined", "closed"):
                        api.move_link(store, "propose", child_id, household_id, acting_for=who.username,
                                      reason=None if state is None else f"re-opened on the web pages to {action}")
                    api.move_link(store, action, child_id, household_id, acting_for=who.username,
                                  reason=None if action == "explore" else reason.strip())
        except api.InputError as error:
            raise PageProblem(409, "Not done", error.render() if hasattr(error, "render") else str(error),
                              who) from None
        return RedirectResponse(f"/children/{quote(child_id, safe='')}?done={action}&household="
                                f"{quote(household_id, safe='')}", status_code=303)

    @app.post("/children/{child_id}/households/{household_id}/explore", include_in_schema=False)
    def explore(child_id: str, household_id: str, checked=Depends(checked_form)):
        return act(checked[0], child_id, household_id, "explore", None)

    @app.post("/children/{child_id}/households/{household_id}/decline", include_in_schema=False)
    def decline(child_id: str, household_id: str, checked=Depends(checked_form)):
        return act(checked[0], child_id, household_id, "decline", checked[1].get("reason"))

    @app.post("/children/{child_id}/households/{household_id}/exclude", include_in_schema=False)
    def exclude(child_id: str, household_id: str, checked=Depends(checked_form)):
        return act(checked[0], child_id, household_id, "exclude", checked[1].get("reason"))

    # --- a household's ranked units ----------------------------------------------------------------------------

    @app.get("/households/{household_id}", include_in_schema=False)
    def household_page(household_id: str, who=Depends(viewer)):
        here = region()
        try:
            record = api.household_record(here, household_id)
        except api.LookupInputError:
            raise PageProblem(404, "Not found", f"There is no household {household_id} in the region.",
                              who) from None
        try:
            answer = api.rank(here, household_id=household_id, options=api.QueryOptions(top=None))
        except api.LookupInputError as error:  # a household that is not approved, say
            raise PageProblem(409, "Not ranked", str(error), who) from None
        shown = [r for r in answer["results"]
                 if who.agency is None or api.unit_agency(here, r["unit_id"]) == who.agency][:TOP]
        return render("household.html", who=who, title=f"Units for household {household_id}", record=record,
                      answer=answer, results=[dict(r, signed=_signed(r)) for r in shown])

    # --- links and the audit -----------------------------------------------------------------------------------

    @app.get("/links", include_in_schema=False)
    def links_page(who=Depends(viewer)):
        mine = api.agency_children(region(), who.agency)
        links = [link for link in api.list_links(store) if link["child_ids"][0] in mine]
        return render("links.html", who=who, title="Links", links=links)

    @app.get("/links/{child_id}/{household_id}", include_in_schema=False)
    def link_page(child_id: str, household_id: str, who=Depends(viewer)):
        own_child(region(), who, child_id)
        try:
            link = api.show_link(store, child_id, household_id)
        except api.LookupInputError:
            raise PageProblem(404, "Not found", f"There is no link of child {child_id} and household "
                                                f"{household_id}.", who) from None
        from matcher.web.pages_accounts import link_forms

        return render("link.html", who=who, title=f"Link of {child_id} and {household_id}", link=link,
                      moves=link_forms(link), problem=None)

    @app.get("/audit", include_in_schema=False)
    def audit_page(who=Depends(viewer)):
        if not who.may_audit:
            raise PageProblem(403, "Not allowed", "The audit is for agency managers and admins.", who)
        rows = api.audit_log(store)
        if who.agency is not None:
            mine = api.agency_children(region(), who.agency)
            rows = [r for r in rows if r["child_id"] in mine]
        rows = list(reversed(rows))
        return render("audit.html", who=who, title="Audit", rows=rows[:AUDIT_ROWS_SHOWN], total=len(rows))

    kit = PageKit(store=store, today=today, region=region, viewer=viewer, checked_form=checked_form,
                  own_child=own_child, audit_read=audit_read)
    for add_more in _more_pages():
        add_more(app, kit)


@dataclass(frozen=True)
class PageKit:
    """What a module of further pages needs from :func:`add_pages`: the
    store, the query date and region, and the dependencies that find the
    viewer (``viewer``), check a form's CSRF token (``checked_form``) and
    keep a child within the viewer's agency (``own_child``), and write a
    read's audit row before its answer leaves (``audit_read(action, what,
    child_id=, household_id=)``, grouped with concurrent reads' rows in one
    commit)."""

    store: object
    today: Callable
    region: Callable
    viewer: Callable
    checked_form: Callable
    own_child: Callable
    audit_read: Callable


def _more_pages() -> list[Callable]:
    """The functions ``add(app, kit)`` of the page modules beyond this one."""
    from matcher.web.pages_accounts import add_account_pages
    from matcher.web.pages_manage import add_manage_pages

    return [add_manage_pages, add_account_pages]


def _link_state(store, child_id: str, household_id: str) -> str | None:
    try:
        return api.show_link(store, child_id, household_id)["state"]
    except api.LookupInputError:
        return None


def _signed(result) -> dict:
    """A scored link's reasons as the CLI signs them: where it stands, then
    what counts against (the factor that lost most first), then what counts
    for."""
    details = result.get("reason_details") or ()
    reasons = list(result["reasons"])
    text = dict(zip((d["factor"] for d in details), reasons[1:]))
    return {"standing": reasons[0] if reasons else "",
            "against": [text[d["factor"]] for d in details if api.counts_against(d["points"], d["max_points"])],
            "for": [text[d["factor"]] for d in details if not api.counts_against(d["points"], d["max_points"])]}
