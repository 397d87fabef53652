"""A person's analysis, end to end in a real browser: sign up, upload a real dermoscopy photo,
read the result (condition, probability, "not a diagnosis"), see the Grad-CAM heatmap a worker
computed, find it on the history timeline; and staff edits to advice reaching the next result."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.browser.conftest import REPO, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

LESIONS_BUNDLE = REPO / "models" / "lesions" / "model.onnx"
# Melanocytic nevi the shipped lesions model answers confidently (so the result page names a
# condition rather than "we can't tell"); any readable photo of the class would do otherwise.
NEVI = ("ISIC_0024309.jpg", "ISIC_0024319.jpg", "ISIC_0024326.jpg")


@pytest.fixture
def lesions_bundle():
    if not LESIONS_BUNDLE.is_file():
        pytest.skip(f"{LESIONS_BUNDLE.relative_to(REPO)} is absent (the default bundles)")
    return LESIONS_BUNDLE


@pytest.fixture
def nevus_photos(shared_data):
    folder = shared_data / "ham10000" / "images" / "nv"
    photos = [folder / name for name in NEVI if (folder / name).is_file()]
    if len(photos) < 2:
        photos = sorted(folder.glob("*.jpg"))[:3]
    if len(photos) < 2:
        pytest.skip(f"{folder} holds fewer than two photos")
    return photos


def _analyse(page, photo) -> dict:
    """Upload `photo` for the lesions task from the upload page; returns the result's data."""
    page.goto("/analysis/")
    page.check("#task-lesions")
    page.set_input_files("#image-input", str(photo))
    page.locator("#preview").wait_for()  # the page shows the chosen photo before sending it
    page.click("#analyse-button")
    page.wait_for_url(re.compile(r"/analysis/\d+/$"), timeout=60_000)
    return json.loads(page.locator("#analysis-data").text_content())


def test_sign_up_analyse_heatmap_and_history(
    lesions_bundle, nevus_photos, live_platform, new_session, shot
):
    person = new_session()
    page = person.new_page()
    username = f"pat-{secrets.token_hex(3)}"

    # Sign up in the browser: the account is created and logged in.
    page.goto("/")
    page.click("a.btn:has-text('Sign up')")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.org")
    page.fill("#id_password1", "a long browser passphrase 7")
    page.fill("#id_password2", "a long browser passphrase 7")
    shot(page, "1-signup")
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/signup/" not in url)
    assert page.locator(".navbar .dropdown-toggle").inner_text().strip() == username

    # The upload page, reached from the navigation, offers the lesions task.
    page.click(".navbar a.nav-link:text-is('Analyse')")
    page.wait_for_url("**/analysis/")
    assert page.locator("#task-lesions").count() == 1
    assert "spot" in page.locator("label[for=task-lesions]").inner_text()
    data = _analyse(page, nevus_photos[0])
    shot(page, "2-result")

    # The result: the condition named, its probability, and the not-a-diagnosis notice.
    assert data["task"] == "lesions"
    assert not data["uncertain"], data
    condition = page.locator("#top-class").inner_text().strip()
    assert condition == data["advice"]["display_name"]
    assert condition
    assert condition != data["top_class"]  # a readable name, not the class key
    assert page.locator("#top-percent").inner_text() == f"{data['top_percent']}%"
    assert 0 < data["top_percent"] <= 100
    bars = page.locator("#prob-bars .progress")
    assert bars.count() == len(data["probabilities"]) == 7
    assert bars.first.get_attribute("aria-label") == data["top_class"]
    notice = page.locator(".not-diagnosis").first
    assert notice.is_visible()
    assert "not a diagnosis" in notice.inner_text().lower()

    # Grad-CAM: asked for on the page, computed by the platform's worker, shown when it arrives.
    assert page.locator("#gradcam").count() == 0
    page.click("#gradcam-button")
    heatmap = page.locator("#gradcam")
    heatmap.wait_for(state="visible", timeout=90_000)
    page.wait_for_function(
        "() => { const img = document.getElementById('gradcam');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    assert page.locator("#gradcam-toggle").is_checked()
    shot(page, "3-gradcam")
    page.uncheck("#gradcam-toggle")
    assert heatmap.is_hidden()
    page.check("#gradcam-toggle")
    assert heatmap.is_visible()
    status = page.request.get(f"/api/analyses/{data['id']}").json()
    assert status["gradcam_status"] == "ready"
    heatmap_png = page.request.get(status["gradcam_url"])
    assert heatmap_png.status == 200
    assert heatmap_png.headers["content-type"] == "image/png"

    # History: the analysis is listed and plotted on the timeline.
    page.click(".navbar a.nav-link:text-is('History')")
    page.wait_for_url("**/analysis/history/")
    page.locator("canvas#timeline").wait_for()
    page.wait_for_function("() => window.Chart && Chart.getChart('timeline')")
    timeline = page.evaluate(
        "() => { const c = Chart.getChart('timeline');"
        " return { labels: c.data.labels.length, lines: c.data.datasets.map(d => d.label) }; }"
    )
    assert timeline["labels"] == 1
    assert data["top_class"] in timeline["lines"]
    cards = page.locator(".analysis-card")
    assert cards.count() == 1
    assert cards.first.locator(f"a[href='/analysis/{data['id']}/']").count() == 1
    assert cards.first.inner_text().count(f"{data['top_percent']}%") == 1
    assert data["top_class"] in cards.first.inner_text()
    shot(page, "4-history")
    assert person.page_errors == []


def test_admin_product_edit_reaches_the_next_result(
    lesions_bundle, nevus_photos, live_platform, new_session, shot
):
    passwords = live_platform.passwords
    alice = log_in(new_session(), "alice", passwords["alice"])
    first = _analyse(alice, nevus_photos[0])
    products = alice.locator(".advice-products h4").all_inner_texts()
    assert products, "the result offers no products to edit"
    old_name = products[0].strip()
    new_name = f"{old_name} (edited {secrets.token_hex(2)})"
    shot(alice, "1-result-before")

    # Staff renames the product in the Django admin.
    staff = new_session()
    admin = staff.new_page()
    admin.goto("/admin/")
    admin.fill("#id_username", "admin")
    admin.fill("#id_password", passwords["admin"])
    admin.click("input[type=submit]")
    admin.wait_for_url("**/admin/")
    admin.goto("/admin/recommendations/product/")
    admin.fill("#searchbar", old_name)
    admin.press("#searchbar", "Enter")
    admin.wait_for_url(re.compile(r"\?q="))
    admin.locator("#result_list").get_by_role("link", name=old_name, exact=True).click()
    admin.wait_for_url(re.compile(r"/admin/recommendations/product/\d+/change/"))
    assert admin.input_value("#id_name") == old_name
    admin.fill("#id_name", new_name)
    admin.click("input[name=_save]")
    admin.wait_for_url(re.compile(r"/admin/recommendations/product/(\?.*)?$"))
    assert new_name in admin.locator(".messagelist").inner_text()
    shot(admin, "2-admin-saved")

    # The next analysis shows the new name; the earlier result keeps the advice it was given.
    second = _analyse(alice, nevus_photos[1])
    assert second["id"] != first["id"]
    assert second["top_class"] == first["top_class"], "pick photos the model files together"
    names = alice.locator(".advice-products h4").all_inner_texts()
    assert new_name in names
    assert old_name not in names
    shot(alice, "3-result-after")
    alice.goto(f"/analysis/{first['id']}/")
    assert old_name in alice.locator(".advice-products h4").all_inner_texts()
    assert staff.page_errors == []
