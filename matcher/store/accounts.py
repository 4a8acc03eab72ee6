"""Web accounts, passwords, login limits and server-side sessions.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults). A
session is a random token in an HttpOnly cookie; the store keeps only its
SHA-256, the account it belongs to, its CSRF token and when it ends. A
login that fails counts against the account, not the address: after
:data:`LOGIN_FAILURES_ALLOWED` failures within :data:`LOGIN_WINDOW` the
account refuses every login, right or wrong, until the window has passed
(many family finders behind one office address keep working while one
account is being guessed at). Disabling an account ends its sessions in
the same transaction. None of this bumps the data version: accounts are
not what a region is built from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL

from matcher.errors import InputError, LoginRefused, LookupInputError, option_problem
from matcher.store import schema
from matcher.store.audit import record_audit
from matcher.store.direct import as_utc
from matcher.store.register import _require_ready, _transaction

ROLES = ("family_finder", "agency_manager", "admin")
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)
MIN_PASSWORD_LENGTH = 12


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    """Who a session acts for."""

    id: int
    username: str
    role: str
    agency_id: str | None
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    """A session just opened: the token for the cookie (shown once, never
    stored) and the CSRF token every state-changing request must carry."""

    token: str
    csrf_token: str
    account: Account
    expires_at: dt.datetime


def check_password(password: str) -> str:
    """A new password, or bad input saying what a password needs."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(option_problem("password", "(hidden)", f"a password of at least {MIN_PASSWORD_LENGTH} "
                                                               "characters"))
    return password


def add_user(url: URL, username: str, role: str, agency_id: str | None, password: str) -> Account:
    """Add an account (one transaction, audited)."""
    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise InputError(option_problem("username", username, "a user name without spaces"))
    if role not in ROLES:
        raise InputError(option_problem("role", role, "one of " + ", ".join(ROLES)))
    agency_id = (agency_id or "").strip() or None
    if agency_id is None and role != "admin":
        raise InputError(option_problem("agency", "", "the agency this user acts for (every role but admin)"))
    digest = _hasher().hash(check_password(password))
    users = schema.users
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        if connection.execute(sa.select(users.c.id).where(users.c.username == username)).first() is not None:
            raise InputError(option_problem("username", username, "a user name not taken yet"))
        new_id = connection.execute(sa.insert(users).values(
            username=username, password_hash=digest, role=role, agency_id=agency_id, disabled=False,
            must_change_password=False, failed_logins=0, first_failure_at=None, created_at=_now())
            .returning(users.c.id)).scalar_one()
        record_audit(connection, "add user", f"added user {username} ({role}, agency {agency_id or 'none'})")
    return Account(int(new_id), username, role, agency_id)


def _account(row) -> Account:
    return Account(int(row["id"]), row["username"], row["role"], row["agency_id"], bool(row["must_change_password"]))


def login(url: URL, username: str, password: str) -> Session:
    """Open a session for ``username`` when the password is right and the
    account is neither disabled nor over its limit of failed logins; a
    :class:`LoginRefused` otherwise (the same words for an unknown name and
    a wrong password)."""
    users, sessions = schema.users, schema.web_sessions
    refusal = None
    # The slow argon2 check runs before the write transaction, so logins do
    # not queue behind one another holding the store's write lock (nor the
    # reads' audit rows behind them); the write transaction checks the hash
    # it reads is the one checked (else checks again) and counts failures.
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        seen = connection.execute(sa.select(users.c.password_hash).where(users.c.username == username)).first()
    checked: dict[str, bool] = {}

    def verified(password_hash: str) -> bool:
        if password_hash not in checked:
            checked[password_hash] = _password_matches(password_hash, password)
        return checked[password_hash]

    if seen is None:
        _hasher().hash(password)  # the same work as a wrong password: no timing tells which names exist
    else:
        verified(seen[0])
    now = _now()
    with _transaction(url, write=True) as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            refusal = LoginRefused("wrong user name or password")
        else:
            refusal = _check_login(connection, row, username, verified, now)
        if refusal is None:
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            expires = now + SESSION_LIFETIME
            connection.execute(sa.insert(sessions).values(token_sha256=_token_hash(token), user_id=row["id"],
                                                          csrf_token=csrf, created_at=now, expires_at=expires))
            record_audit(connection, "login", f"{username} logged in")
    # Raised after the transaction: a failure's count and audit row are kept.
    if refusal is not None:
        raise refusal
    return Session(token, csrf, _account(row), expires)


def _password_matches(password_hash: str, password: str) -> bool:
    from argon2.exceptions import VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except VerificationError:
        return False


def _check_login(connection, row, username: str, verified, now: dt.datetime) -> LoginRefused | None:
    """Why the login of ``row`` is refused, or None; ``verified(hash)``
    says whether the password given matches a stored hash."""
    users = schema.users
    first = (as_utc(row["first_failure_at"]) if row["first_failure_at"] is not None else None)
    failures = int(row["failed_logins"])
    if first is not None and now - first >= LOGIN_WINDOW:
        failures, first = 0, None
    if failures >= LOGIN_FAILURES_ALLOWED:
        wait = int((first + LOGIN_WINDOW - now).total_seconds()) + 1
        record_audit(connection, "login refused", f"login refused for {username}: too many failed logins")
        return LoginRefused("too many failed logins for this account; try again later", locked=True,
                            retry_after_s=wait)
    if not verified(row["password_hash"]):
        connection.execute(sa.update(users).where(users.c.id == row["id"]).values(
            failed_logins=failures + 1, first_failure_at=first or now))
        record_audit(connection, "login refused", f"login refused for {username}: wrong password")
        return LoginRefused("wrong user name or password")
    if row["disabled"]:
        record_audit(connection, "login refused", f"login refused for {username}: account disabled")
        return LoginRefused("wrong user name or password")
    connection.execute(sa.update(users).where(users.c.id == row["id"]).values(failed_logins=0,
                                                                              first_failure_at=None,
                                                                              last_login_at=now))
    return None


def session_account(url: URL, token: str | None) -> tuple[Account, str] | None:
    """The account and CSRF token of a live session, or None (no such
    session, ended, expired, or its account disabled)."""
    if not token:
        return None
    users, sessions = schema.users, schema.web_sessions
    with _transaction(url, write=False) as connection:
        row = connection.execute(
            sa.select(users, sessions.c.csrf_token, sessions.c.expires_at)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_sha256 == _token_hash(token))).mappings().first()
    if row is None or row["disabled"] or as_utc(row["expires_at"]) <= _now():
        return None
    return _account(row), row["csrf_token"]


def logout(url: URL, token: str) -> None:
    """End one session."""
    with _transaction(url, write=True) as connection:
        connection.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.token_sha256 ==
                                                                _token_hash(token)))


def set_disabled(url: URL, username: str, disabled: bool) -> None:
    """Disable an account (its sessions end at once) or enable it again."""
    users = schema.users
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        row = connection.execute(sa.select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise LookupInputError(f"no user {username!r} in the store")
        connection.execute(sa.update(users).where(users.c.id == row[0]).values(disabled=disabled))
        if disabled:
            connection.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.user_id == row[0]))
        record_audit(connection, "disable user" if disabled else "enable user",
                     f"{'disabled' if disabled else 'enabled'} user {username}")


# --- passwords changed and reset; the list of accounts ----------------------------------------------------------

def _verified(password_hash: str, password: str) -> bool:
    from argon2.exceptions import VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except VerificationError:
        return False


def change_password(url: URL, token: str, current: str, new: str) -> Account:
    """Set a new password for the account of the live session ``token``,
    given its current password: every OTHER session of the account ends
    (this one stays), a reset's must-set-a-new-password flag is cleared; one
    transaction, audited. Bad input when the current password is wrong,
    the new one breaks the password rules (:func:`check_password`) or is the
    current one again."""
    found = session_account(url, token)
    if found is None:
        raise LookupInputError("no live session: log in again")
    users, sessions = schema.users, schema.web_sessions
    check_password(new)
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        row = connection.execute(sa.select(users).where(users.c.id == found[0].id)).mappings().first()
        if row is None or row["disabled"]:
            raise LookupInputError("no live session: log in again")
        now = _now()
        first = as_utc(row["first_failure_at"]) if row["first_failure_at"] is not None else None
        failures = int(row["failed_logins"])
        if first is not None and now - first >= LOGIN_WINDOW:
            failures, first = 0, None
        # A wrong current password counts against the login limit: a session left open is no way to guess.
        if failures >= LOGIN_FAILURES_ALLOWED or not _verified(row["password_hash"], current):
            refused = True
            if failures < LOGIN_FAILURES_ALLOWED:
                connection.execute(sa.update(users).where(users.c.id == row["id"]).values(
                    failed_logins=failures + 1, first_failure_at=first or now))
        else:
            refused = False
            if _verified(row["password_hash"], new):
                raise InputError(option_problem("new password", "(hidden)", "a password other than the current "
                                                                           "one"))
            connection.execute(sa.update(users).where(users.c.id == row["id"]).values(
                password_hash=_hasher().hash(new), must_change_password=False, password_changed_at=_now()))
            connection.execute(sa.delete(sessions).where(sessions.c.user_id == row["id"],
                                                         sessions.c.token_sha256 != _token_hash(token)))
        record_audit(connection, "password refused" if refused else "change password",
                     f"{row['username']} {'gave a wrong current password' if refused else 'set a new password'}"
                     + ("" if refused else "; the account's other sessions ended"))
    # Raised after the transaction: the refusal's audit row is kept.
    if refused:
        raise InputError(option_problem("current password", "(hidden)", "the account's current password"))
    return Account(int(row["id"]), row["username"], row["role"], row["agency_id"], False)


def reset_password(url: URL, username: str, temporary: str) -> None:
    """An admin's reset: ``temporary`` becomes the password, the account
    must set a new one at its next login, its sessions end and its failed
    logins are forgotten; one transaction, audited."""
    users = schema.users
    check_password(temporary)
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        row = connection.execute(sa.select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise LookupInputError(f"no user {username!r} in the store")
        connection.execute(sa.update(users).where(users.c.id == row[0]).values(
            password_hash=_hasher().hash(temporary), must_change_password=True, password_changed_at=_now(),
            failed_logins=0, first_failure_at=None))
        connection.execute(sa.delete(schema.web_sessions).where(schema.web_sessions.c.user_id == row[0]))
        record_audit(connection, "reset password", f"reset the password of {username}; a new one must be set "
                                                   "at the next login; its sessions ended")


def list_users(url: URL) -> list[dict]:
    """Every account (never a password hash), by user name: role, agency,
    disabled, must set a new password, created, last login, password last
    set, and how many live sessions it has."""
    users, sessions = schema.users, schema.web_sessions
    now = _now()
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        rows = connection.execute(sa.select(users).order_by(users.c.username)).mappings().all()
        live = connection.execute(sa.select(sessions.c.user_id, sessions.c.expires_at)).all()
    counts: dict[int, int] = {}
    for user_id, expires in live:
        if as_utc(expires) > now:
            counts[user_id] = counts.get(user_id, 0) + 1

    def when(at):
        return None if at is None else as_utc(at).isoformat(timespec="seconds")

    return [{"username": r["username"], "role": r["role"], "agency_id": r["agency_id"], "disabled": bool(r["disabled"]),
             "must_change_password": bool(r["must_change_password"]), "created_at": when(r["created_at"]),
             "last_login_at": when(r["last_login_at"]), "password_changed_at": when(r["password_changed_at"]),
             "sessions": counts.get(int(r["id"]), 0)} for r in rows]
