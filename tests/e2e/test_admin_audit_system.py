"""Admins read the audit log (filters, CSV export) and the system page; others are refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .flows import (
    GENERIC_SIGN_IN_ERROR,
    expect_sign_in_refused,
    new_account,
    open_form,
    register,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_admin_filters_the_audit_log_and_exports_it(
    admin_context: BrowserContext, page: Page
) -> None:
    # A failed sign-in from another browser is a security event the admin must see.
    stranger = new_account("stranger")
    expect_sign_in_refused(page, stranger.email, "wrong password 1", GENERIC_SIGN_IN_ERROR)

    admin_page = admin_context.new_page()
    open_form(admin_page, "/admin/audit")
    expect(admin_page.get_by_test_id("audit-table")).to_be_visible()
    expect(admin_page.get_by_test_id("audit-page-info")).to_contain_text("Page 1")

    admin_page.get_by_test_id("audit-filter-actor").fill(stranger.email)
    admin_page.get_by_test_id("audit-apply").click()
    rows = admin_page.get_by_test_id("audit-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("auth.sign_in_failed")
    expect(rows.first).to_contain_text(stranger.email)

    export = admin_page.get_by_test_id("audit-export")
    query = stranger.email.replace("@", "%40")
    expect(export).to_have_attribute("href", f"/api/admin/audit.csv?actor={query}")
    with admin_page.expect_download() as info:
        export.click()
    body = info.value.path().read_text(encoding="utf-8")
    assert body.splitlines()[0].startswith("time,actor_email,actor_id,action")
    assert "auth.sign_in_failed" in body and stranger.email in body


def test_admin_sees_dependency_health_and_no_secrets(admin_context: BrowserContext) -> None:
    page = admin_context.new_page()
    open_form(page, "/admin/system")
    expect(page.get_by_test_id("probe-database")).to_contain_text("ok")
    expect(page.get_by_test_id("probe-database")).to_contain_text("ms")
    expect(page.get_by_test_id("llm-model")).to_be_visible()
    expect(page.get_by_test_id("version-row").filter(has_text="Reflex")).to_have_count(1)
    secret = page.get_by_test_id("setting-row").filter(has_text="SECURITY__ROOT_API_KEY")
    expect(secret).to_contain_text("set")
    page.get_by_test_id("system-refresh").click()
    expect(page.get_by_test_id("probe-database")).to_contain_text("ok")


def test_non_admin_is_refused_on_audit_and_system(page: Page) -> None:
    register(page, new_account("plain"))
    for path in ("/admin/audit", "/admin/system"):
        page.goto(path)
        expect(page.get_by_test_id("access-denied")).to_be_visible()
    expect(page.get_by_test_id("audit-row")).to_have_count(0)
    response = page.request.get("/api/admin/audit.csv")
    assert response.status == 403
