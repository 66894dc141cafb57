"""The journeys a person makes, in a real Chromium against the live app."""

from __future__ import annotations

import base64
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import FilePayload, Page, expect

from accounts.models import Tier, User
from gallery.models import Image
from tests.factories import UserFactory
from tests.gallery import images

pytestmark = pytest.mark.e2e


def file_payload(name: str, data: bytes, mime: str = "image/jpeg") -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


def drop_files(page: Page, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files on the drop zone the way a browser does: a drop event carrying a DataTransfer."""
    payload = [[name, base64.b64encode(data).decode(), mime] for name, data, mime in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data, type] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type }));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_sign_up_upload_by_chooser_and_drop_then_share(page: Page):
    page.goto("/accounts/signup/")
    page.locator("#id_username").fill("newcomer")
    page.locator("#id_email").fill("newcomer@example.com")
    page.locator("#id_password1").fill("a quite long passphrase")
    page.locator("#id_password2").fill("a quite long passphrase")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    expect(page.locator("#tier-summary")).to_contain_text("Basic plan: thumbnails of 200 px")

    # By the file chooser: two images and one impostor; the impostor fails alone.
    page.set_input_files(
        "#upload-input",
        [
            file_payload("first.jpg", images.jpeg_bytes(640, 480)),
            file_payload("notes.png", b"not an image at all", "image/png"),
            file_payload("second.png", images.png_bytes(300, 500, mode="RGBA"), "image/png"),
        ],
    )
    expect(page.locator(".image-card")).to_have_count(2)
    expect(page.locator("#upload-queue")).to_contain_text("notes.png: ")
    expect(page.locator("#upload-queue .is-failed .progress-bar.bg-danger")).to_have_count(1)

    # By drag and drop.
    drop_files(page, [("dropped.jpg", images.jpeg_bytes(400, 400), "image/jpeg")])
    expect(page.locator(".image-card")).to_have_count(3)
    expect(page.locator(".image-card").first).to_contain_text("dropped.jpg")
    assert Image.objects.filter(owner__username="newcomer").count() == 3

    # Basic sees one size, and its link works for anyone.
    card = page.locator(".image-card").first
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(["Copy 200 px link"])
    card.get_by_role("button", name="Copy 200 px link").click()
    expect(card.get_by_role("button", name="Copied!")).to_be_visible()
    link = clipboard(page)
    assert "/s/" in link
    response = page.request.get(link)
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"

    # The thumbnail itself shows in the grid.
    thumbnail = card.locator("img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.complete && img.naturalHeight") == 200


def test_upload_without_javascript(new_context, sign_in):
    user = UserFactory.create()
    page = sign_in(new_context(java_script_enabled=False).new_page(), user)
    page.set_input_files("#upload-input", [file_payload("plain.jpg", images.jpeg_bytes())])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("Uploaded plain.jpg.")
    expect(page.locator(".image-card")).to_have_count(1)


def test_enterprise_makes_an_expiring_link(page: Page, sign_in):
    user = UserFactory.create(tier=Tier.objects.get(name="Enterprise"))
    sign_in(page, user)
    page.set_input_files("#upload-input", [file_payload("a.jpg", images.jpeg_bytes(800, 600))])
    card = page.locator(".image-card")
    expect(card).to_have_count(1)
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(
        ["Copy 200 px link", "Copy 400 px link", "Copy Original link"]
    )

    card.get_by_text("Expiring link…").click()
    card.get_by_label("Seconds").fill("100")
    card.get_by_role("button", name="Create").click()
    expect(card).to_contain_text("greater than or equal to 300")

    card.get_by_label("Size").select_option("400")
    card.get_by_label("Seconds").fill("600")
    card.get_by_role("button", name="Create").click()
    output = card.locator("[data-link-output]")
    expect(output).to_have_value(re.compile(r"/files/thumbnails/.+expires="))
    expect(card.get_by_role("button", name="Copied!")).to_be_visible()
    link = clipboard(page)
    assert link == output.input_value()
    response = page.request.get(link)
    assert response.status == 200
    assert "max-age=" in response.headers["cache-control"]


def test_delete_with_confirmation(page: Page, sign_in):
    user = UserFactory.create()
    sign_in(page, user)
    page.set_input_files("#upload-input", [file_payload("bye.jpg", images.jpeg_bytes())])
    card = page.locator(".image-card")
    expect(card).to_have_count(1)

    # One handler for the whole test: Playwright subscribes to dialogs without
    # waiting, and a dialog nobody is subscribed to is dismissed on its own.
    answers: list[bool] = []
    page.on("dialog", lambda dialog: dialog.accept() if answers.pop(0) else dialog.dismiss())

    answers.append(False)
    card.get_by_role("link", name="Delete").click()
    expect(card).to_have_count(1)

    answers.append(True)
    card.get_by_role("link", name="Delete").click()
    expect(card).to_have_count(0)
    expect(page.get_by_text("No images yet")).to_be_visible()
    assert not Image.objects.filter(owner=user).exists()


def test_admin_changes_a_users_tier(new_context, sign_in):
    user = UserFactory.create(username="customer")
    admin = UserFactory.create(username="boss", is_staff=True, is_superuser=True)
    page = sign_in(new_context().new_page(), user)
    page.set_input_files("#upload-input", [file_payload("a.jpg", images.jpeg_bytes(900, 900))])
    card = page.locator(".image-card")
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(["Copy 200 px link"])

    admin_page = sign_in(new_context().new_page(), admin)
    admin_page.goto(f"/admin/accounts/user/{user.pk}/change/")
    admin_page.get_by_label("Tier").select_option(label="Premium")
    admin_page.get_by_role("button", name="Save", exact=True).click()
    expect(admin_page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert User.objects.get(pk=user.pk).tier.name == "Premium"

    page.reload()
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(
        ["Copy 200 px link", "Copy 400 px link", "Copy Original link"]
    )
    card.get_by_role("button", name="Copy 400 px link").click()
    response = page.request.get(clipboard(page))
    assert response.status == 200

    admin_page.goto(f"/admin/accounts/user/{user.pk}/change/")
    admin_page.get_by_label("Tier").select_option(label="Basic")
    admin_page.get_by_role("button", name="Save", exact=True).click()
    page.reload()
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(["Copy 200 px link"])


def test_keyboard_opens_the_file_chooser_and_paste_uploads(page: Page, sign_in):
    user = UserFactory.create()
    # Playwright turns file-chooser interception on without waiting for it; a
    # listener registered now has it on long before the key press below, which
    # could otherwise open a dialog that no event ever reports.
    page.on("filechooser", lambda chooser: None)
    sign_in(page, user)

    # The drop zone is the label of a real file input: Tab reaches it, Space opens it.
    page.locator("body").focus()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "upload-input":
            break
    assert page.evaluate("document.activeElement.id") == "upload-input"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([file_payload("chosen.jpg", images.jpeg_bytes())])
    expect(page.locator(".image-card")).to_have_count(1)

    # An image pasted anywhere on the page is uploaded too.
    data = base64.b64encode(images.png_bytes(120, 90)).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "image.png", { type: "image/png" }));
            document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer }));
        }""",
        data,
    )
    expect(page.locator(".image-card")).to_have_count(2)
    expect(page.locator(".image-card").first).to_contain_text("image.png")
    expect(page.locator(".image-card").first).to_contain_text("120 × 90")


def test_card_updates_itself_when_the_worker_is_done(page: Page, sign_in, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    user = UserFactory.create()
    sign_in(page, user)
    page.set_input_files("#upload-input", [file_payload("later.jpg", images.jpeg_bytes(900, 600))])
    card = page.locator(".image-card")
    expect(card).to_contain_text("Making thumbnails…")
    expect(card.locator("img")).to_have_count(0)

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    # No reload: the card polls its own URL and swaps itself in.
    expect(card.locator("img")).to_be_visible(timeout=10_000)
    expect(card).not_to_contain_text("Making thumbnails…")
    expect(card.get_by_role("button", name=re.compile("Copy"))).to_have_text(["Copy 200 px link"])


def test_no_page_breaks_the_content_security_policy(new_context, sign_in):
    admin = UserFactory.create(
        tier=Tier.objects.get(name="Enterprise"), is_staff=True, is_superuser=True
    )
    context = new_context()
    context.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    page = sign_in(context.new_page(), admin)

    def assert_clean(where: str) -> None:
        assert page.evaluate("window.violations") == [], where

    page.set_input_files("#upload-input", [file_payload("csp.jpg", images.jpeg_bytes(600, 400))])
    card = page.locator(".image-card")
    expect(card.locator("img")).to_be_visible()
    card.get_by_text("Expiring link…").click()
    card.get_by_role("button", name="Create").click()
    expect(card.locator("[data-link-output]")).to_be_visible()
    assert_clean("grid, upload and htmx link")
    for path in [
        f"/images/{Image.objects.get(owner=admin).public_id}/",
        "/accounts/password/change/",
        f"/admin/accounts/user/{admin.pk}/change/",
        f"/admin/accounts/tier/{Tier.objects.get(name='Basic').pk}/change/",
        "/api/docs/",
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert_clean(path)
    expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI ran
