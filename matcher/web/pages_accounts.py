"""The pages of ``matcher serve`` for accounts, link moves and exclusions.

- ``/account/password``: any logged-in user sets a new password (the
  current one, the new one twice; the rules of ``matcher user add``); the
  account's other sessions end.
- ``/admin/users``: for admins only (403 otherwise): every account, adding
  one, disabling (its sessions end at once) and enabling it, and resetting
  its password to a temporary one that must be replaced at the next login.
  Until it is, every page but the password page and logging out redirects
  there, and every ``/api/`` call but logging in and out answers 403 (the
  pages' ``viewer`` and the JSON API's ``account`` ask
  :func:`reset_pending` on the session they read anyway: no extra query).
- ``/links/{child}/{household}``: the link's legal next moves, each a form
  carrying the state and version the page showed, so a form left open
  while someone else moved the link is refused, saying what changed.
- ``/exclusions``: the exclusions in force of the agency's children, each
  with a form to lift it (a reason needed).

Every POST carries the session's CSRF token (``kit.checked_form``: 403
without it); a child of another agency is not found (404); every change
goes to the audit with the account's name and ``web``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse

from matcher import api
from matcher.web.pages import PageProblem, render

PASSWORD_PAGE = "/account/password"
ROLES = ("family_finder", "agency_manager", "admin")
OPEN_WHILE_RESET = frozenset({PASSWORD_PAGE, "/logout", "/login", "/api/login", "/api/logout"})
"""What an account whose password was reset may still reach."""
MUST_SET = ("this account's password was reset by an admin: set a new password first (the page "
            f"{PASSWORD_PAGE}); until then only logging out is allowed")


def reset_pending(account, path: str) -> bool:
    """Whether a request for ``path`` by ``account`` must wait until the
    account has set a new password after an admin's reset (the pages'
    ``viewer`` and the JSON API's ``account`` ask; they then redirect to
    :data:`PASSWORD_PAGE` or answer 403 with :data:`MUST_SET`)."""
    return account.must_change_password and path not in OPEN_WHILE_RESET


def _problem_words(error: Exception) -> str:
    return error.render() if hasattr(error, "render") else str(error)


def add_account_pages(app: FastAPI, kit) -> None:
    """Add the pages of this module to ``app`` (see :class:`matcher.web.pages.PageKit`)."""
    from matcher.web.app import COOKIE

    store, viewer, checked_form, own_child = kit.store, kit.viewer, kit.checked_form, kit.own_child

    # --- one's own password --------------------------------------------------------------------------------------

    def password_form(who, status: int = 200, problem: str | None = None, done: bool = False):
        return render("password.html", status, who=who, title="Change your password", problem=problem, done=done,
                      must=who.account.must_change_password)

    @app.get(PASSWORD_PAGE, include_in_schema=False)
    def password_page(done: str = "", who=Depends(viewer)):
        return password_form(who, done=done == "1")

    @app.post(PASSWORD_PAGE, include_in_schema=False)
    def change_password(request: Request, checked=Depends(checked_form)):
        who, form = checked
        new = form.get("new_password", "")
        if new != form.get("new_password_again", ""):
            return password_form(who, 400, "The new password and its repetition differ: type the same one twice.")
        try:
            with api.acting(how="web", acting_for=who.username):
                api.change_password(store, request.cookies.get(COOKIE), form.get("current_password", ""), new)
        except api.LookupInputError:
            raise PageProblem(401, "Log in again", "Your session has ended: log in again.", None) from None
        except api.InputError as error:
            return password_form(who, 400, _problem_words(error))
        return RedirectResponse(PASSWORD_PAGE + "?done=1", status_code=303)

    # --- the admin's page of accounts ----------------------------------------------------------------------------

    def admin_only(who) -> None:
        if not who.account.is_admin:
            raise PageProblem(403, "Not allowed", "The accounts page is for admins.", who)

    def users_page(who, status: int = 200, problem: str | None = None, note: str | None = None, values=None):
        admin_only(who)
        return render("users.html", status, who=who, title="Accounts", users=api.list_users(store), roles=ROLES,
                      problem=problem, note=note, values=values or {})

    @app.get("/admin/users", include_in_schema=False)
    def users(done: str = "", user: str = "", who=Depends(viewer)):
        notes = {"add": "Added {user}.", "disable": "Disabled {user}; its sessions have ended.",
                 "enable": "Enabled {user} again.",
                 "reset": "Reset the password of {user}: its sessions have ended and it must set a new password "
                          "at its next login."}
        return users_page(who, note=notes[done].format(user=user) if done in notes else None)

    def done(action: str, username: str) -> RedirectResponse:
        return RedirectResponse(f"/admin/users?done={action}&user={quote(username, safe='')}", status_code=303)

    @app.post("/admin/users", include_in_schema=False)
    def add_user(checked=Depends(checked_form)):
        who, form = checked
        admin_only(who)
        username, role = form.get("username", "").strip(), form.get("role", "")
        agency = form.get("agency", "").strip() or None
        password = form.get("password", "")
        kept = {"username": username, "role": role, "agency": agency or ""}
        if password != form.get("password_again", ""):
            return users_page(who, 400, "The password and its repetition differ: type the same one twice.",
                              values=kept)
        try:
            with api.acting(how="web", acting_for=who.username):
                api.add_user(store, username, role, None if role == "admin" else agency, password)
        except api.InputError as error:
            return users_page(who, 400, _problem_words(error), values=kept)
        return done("add", username)

    def change_user(who, username: str, action: str, form: dict) -> RedirectResponse:
        admin_only(who)
        if action == "disable" and username == who.username:
            return users_page(who, 409, "You cannot disable your own account (ask another admin).")
        try:
            with api.acting(how="web", acting_for=who.username):
                if action == "reset":
                    temporary = form.get("password", "")
                    if temporary != form.get("password_again", ""):
                        return users_page(who, 400, f"The temporary password for {username} and its repetition "
                                                    "differ: type the same one twice.")
                    api.reset_password(store, username, temporary)
                else:
                    api.set_user_disabled(store, username, action == "disable")
        except api.LookupInputError as error:
            raise PageProblem(404, "Not found", _problem_words(error), who) from None
        except api.InputError as error:
            return users_page(who, 400, _problem_words(error))
        return done(action, username)

    @app.post("/admin/users/{username}/disable", include_in_schema=False)
    def disable_user(username: str, checked=Depends(checked_form)):
        return change_user(checked[0], username, "disable", checked[1])

    @app.post("/admin/users/{username}/enable", include_in_schema=False)
    def enable_user(username: str, checked=Depends(checked_form)):
        return change_user(checked[0], username, "enable", checked[1])

    @app.post("/admin/users/{username}/reset-password", include_in_schema=False)
    def reset_user_password(username: str, checked=Depends(checked_form)):
        return change_user(checked[0], username, "reset", checked[1])

    # --- moving a link -------------------------------------------------------------------------------------------

    def the_link(who, child_id: str, household_id: str) -> dict:
        own_child(kit.region(), who, child_id)
        try:
            return api.show_link(store, child_id, household_id)
        except api.LookupInputError:
            raise PageProblem(404, "Not found", f"There is no link of child {child_id} and household "
                                                f"{household_id}.", who) from None

    @app.post("/links/{child_id}/{household_id}/move", include_in_schema=False)
    def move_link(child_id: str, household_id: str, checked=Depends(checked_form)):
        who, form = checked
        link = the_link(who, child_id, household_id)
        action, reason = form.get("action", ""), form.get("reason", "").strip() or None
        try:
            version = int(form.get("from_version", ""))
        except ValueError:
            version = -1
        problem = None
        if action not in api.LINK_ACTIONS:
            problem = f"There is no move {action!r}; the moves are " + ", ".join(api.LINK_ACTIONS) + "."
        elif api.link_needs_reason(action) and reason is None:
            problem = f"To {action} this link, give a reason."
        if problem is None:
            try:
                with api.acting(how="web", acting_for=who.username):
                    api.move_link_seen(store, action, child_id, household_id, from_state=form.get("from_state", ""),
                                       from_version=version, reason=reason, acting_for=who.username)
            except api.InputError as error:
                problem = _problem_words(error)
                link = api.show_link(store, child_id, household_id)  # as it is now
                return render("link.html", 409, who=who, title=f"Link of {child_id} and {household_id}",
                              link=link, moves=link_forms(link), problem=problem)
            return RedirectResponse(f"/links/{quote(child_id, safe='')}/{quote(household_id, safe='')}",
                                    status_code=303)
        return render("link.html", 400, who=who, title=f"Link of {child_id} and {household_id}", link=link,
                      moves=link_forms(link), problem=problem)

    # --- exclusions in force -------------------------------------------------------------------------------------

    @app.get("/exclusions", include_in_schema=False)
    def exclusions(lifted: str = "", household: str = "", who=Depends(viewer)):
        mine = api.agency_children(kit.region(), who.agency)
        rows = api.exclusions_in_force(store, mine)
        note = f"Lifted the exclusion of child {lifted} and household {household}." if lifted else None
        return render("exclusions.html", who=who, title="Exclusions", rows=rows, note=note)

    @app.post("/exclusions/{child_id}/{household_id}/lift", include_in_schema=False)
    def lift(child_id: str, household_id: str, checked=Depends(checked_form)):
        who, form = checked
        own_child(kit.region(), who, child_id)
        reason = form.get("reason", "").strip()
        if not reason:
            raise PageProblem(400, "A reason is needed", f"To lift the exclusion of child {child_id} and household "
                                                         f"{household_id}, give a reason.", who)
        try:
            with api.acting(how="web", acting_for=who.username):
                api.exclude(store, child_id, household_id, reason, undo=True)
        except api.InputError as error:
            raise PageProblem(409, "Not done", _problem_words(error), who) from None
        return RedirectResponse(f"/exclusions?lifted={quote(child_id, safe='')}&household="
                                f"{quote(household_id, safe='')}", status_code=303)


def link_forms(link) -> list[dict]:
    """The link page's forms: each legal move of the link (``propose`` left
    out where ``reopen`` does the same) and whether it needs a reason."""
    moves = api.link_moves(link["state"])
    return [{"action": m, "needs_reason": api.link_needs_reason(m) or (m == "propose" and link["state"] is not None)}
            for m in moves if not (m == "propose" and "reopen" in moves)]
