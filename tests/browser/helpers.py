"""What a person does in the browser, written once for every browser test."""

from __future__ import annotations

from flask import Flask

from tests.factories import PASSWORD, make_partner, make_user


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Fill the real sign-in form and submit it, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def partner_admin(
    app: Flask, partner_name: str = "Northwind Traders", name: str = "Pat Partner"
) -> str:
    """A partner admin who can sign in with the factory password; returns the email."""
    with app.app_context():
        partner = make_partner(partner_name)
        return make_user("partner_admin", partner=partner, name=name).email


def vendor_admin(app: Flask, name: str = "Vera Vendor") -> str:
    with app.app_context():
        return make_user("admin", name=name).email


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0 = no sideways scrolling)."""
    return page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")


def nav(page, name: str):
    """A link in the main navigation bar (page content may repeat the words)."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
