"""``matcher serve --demo``: the web pages over a throwaway store holding a
generated region, with one account per role."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile

import click
import polars as pl

from matcher import api

DEMO_SEED = 7
DEMO_CHILDREN = 400
DEMO_HOUSEHOLDS = 600
ROLES = ("family_finder", "agency_manager", "admin")


def demo_store(out: str | None, as_of: dt.date) -> tuple[str, str, list[tuple[str, str, str | None, str]]]:
    """Make a store under ``out`` (a new temporary folder when None) holding
    a region generated for ``as_of`` and one account per role (the finder
    and the manager of the agency with the most waiting children), each with
    a random password. Returns the folder, the store's path and the
    accounts (name, role, agency, password)."""
    if out is None:
        folder = tempfile.mkdtemp(prefix="matcher-serve-demo-")
    else:
        folder = os.fspath(api.check_output_folder(out))
        os.makedirs(folder, exist_ok=True)
        api.check_region_folder(folder, replace=False, made_by="serve --demo")
    db = os.path.join(folder, "register.sqlite3")
    if os.path.exists(db):
        raise api.InputError(api.option_problem("out", folder, "a folder without a register.sqlite3 (a new demo "
                                                               "store is made each time)"))
    kids, homes = api.generate(DEMO_SEED, DEMO_CHILDREN, DEMO_HOUSEHOLDS, as_of)
    made = api.provenance("serve --demo", as_of=as_of, options={"seed": DEMO_SEED, "children": DEMO_CHILDREN,
                                                                "households": DEMO_HOUSEHOLDS, "format": "csv"})
    children, households = api.write_region(kids, homes, folder, "csv", made)
    api.init_store(db)
    api.import_files(children, households, as_of, db)
    waiting = kids.filter(pl.col("status") == "waiting").group_by("agency_id").len() \
        .sort(["len", "agency_id"], descending=[True, False])
    agency = waiting["agency_id"][0]
    accounts = []
    for role, name in zip(ROLES, ("finder", "manager", "admin")):
        password = secrets.token_urlsafe(12)
        with api.acting(how="cli"):
            api.add_user(db, name, role, None if role == "admin" else agency, password)
        accounts.append((name, role, None if role == "admin" else agency, password))
    return folder, db, accounts


def print_accounts(folder: str, db: str, accounts, url: str) -> None:
    click.echo(f"Demo store {db} (region and store under {folder}; delete the folder when done).")
    click.echo("Accounts (the passwords are shown only now):")
    for name, role, agency, password in accounts:
        click.echo(f"  {name:8} {role:15} agency {agency or 'every':6} password {password}")
    click.echo(f"Open {url}/login")
