"""The shopper page in a real headless Chromium: fill the form, get garments, ask for variations,
try the first one on and switch sizes.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright
install``). Every request the page makes is recorded: all must go to the service's own
origin, since the page has to work offline. Screenshots are left in ``reports/serving/``: the
results (``shop.png``) and the try-on view (``tryon.png``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "reports" / "serving" / "shop.png"
TRYON_SCREENSHOT = SCREENSHOT.with_name("tryon.png")
PHOTO_PX = 128  # serving.tryon.photo_px: garments are shown as product photos of this side


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 1400})
            tab = context.new_page()
            tab.requests = []  # every URL the page asks for
            tab.on("request", lambda request: tab.requests.append(request.url))
            tab.problems = []  # console errors and uncaught exceptions
            tab.on("console", lambda msg: msg.type == "error" and tab.problems.append(msg.text))
            tab.on("pageerror", lambda err: tab.problems.append(str(err)))
            tab.goto(f"{server.url}/shop/")
            yield tab
        finally:
            browser.close()


def test_a_shopper_fills_the_form_and_sees_k_garments_with_previews(page, tmp_path):
    page.fill("#height_cm", "172")
    page.fill("#weight_kg", "64")
    page.select_option("#bust_band_cm", label="34 (86.4 cm)")
    page.select_option("#cup", "c")
    page.select_option("#occasion", "wedding")
    page.fill("#k", "6")
    page.click("#submit")
    page.wait_for_selector("#results li.card >> nth=5", timeout=30_000)
    cards = page.locator("#results li.card")
    assert cards.count() == 6
    for i in range(6):
        card = cards.nth(i)
        assert card.locator("img").evaluate("img => img.complete && img.naturalWidth") == PHOTO_PX
        assert "fit confidence" in card.inner_text()
        assert "Advised size" in card.inner_text()
    assert "6 suggestions" in page.inner_text("#status")


def test_more_variations_shows_new_images_of_that_garment(page):
    page.locator("#results li.card button", has_text="More variations").first.click()
    page.wait_for_selector("#variations img >> nth=5", timeout=30_000)
    assert page.is_visible("#variations-section")
    images = page.locator("#variations img")
    assert images.count() == 6
    assert all(images.nth(i).evaluate("img => img.naturalWidth") == PHOTO_PX for i in range(6))
    save_screenshot(page, SCREENSHOT, full_page=True)


def save_screenshot(page, path: Path, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = path.with_suffix(".tmp.png")
    page.screenshot(path=str(shot), **options)
    shutil.move(shot, path)


def test_garments_are_shown_as_product_photos_not_black_squares(page):
    # the top-left pixel of every garment image is the light backdrop
    corner = """img => { const c = document.createElement("canvas"); c.width = c.height = 1;
        const g = c.getContext("2d"); g.drawImage(img, 0, 0);
        return Array.from(g.getImageData(0, 0, 1, 1).data); }"""
    images = page.locator("#results img, #variations img")
    assert images.count() == 12
    for i in range(images.count()):
        assert min(images.nth(i).evaluate(corner)[:3]) > 200


def test_try_it_on_shows_the_advised_size_and_switching_sizes_changes_drawing_and_note(page):
    opener = page.locator("#results li.card button.try-on").first
    opener.click()
    page.wait_for_selector("#tryon[open] #tryon-image", timeout=30_000)
    choices = page.locator("#tryon-choices input[type=radio]")
    assert 2 <= choices.count() <= 3
    labels = page.locator("#tryon-choices label").all_inner_texts()
    assert all(any(word in label for word in ("no fit warning", "snug", "loose")) for label in labels)
    checked = page.locator("#tryon-choices input:checked")
    assert "(advised)" in page.locator("#tryon-choices label", has=page.locator("input:checked")).inner_text()
    image = page.locator("#tryon-image")
    page.wait_for_function("document.getElementById('tryon-image').naturalWidth === 192")
    assert "not a photo" in page.inner_text("#tryon-disclaimer")
    before = (image.get_attribute("src"), image.get_attribute("alt"), page.inner_text("#tryon-note"))
    size = checked.get_attribute("value")
    assert f"size {float(size):g}" in before[1] and before[2] in before[1]  # alt: size and fit note
    assert "P(small)" in before[2]
    # keyboard only: focus is on the advised size; an arrow key moves to the next size
    assert page.evaluate("document.activeElement.name") == "tryon-size"
    page.keyboard.press("ArrowRight" if choices.last.get_attribute("value") != size else "ArrowLeft")
    after = (image.get_attribute("src"), image.get_attribute("alt"), page.inner_text("#tryon-note"))
    assert page.locator("#tryon-choices input:checked").get_attribute("value") != size
    assert after[0] != before[0] and after[2] != before[2]
    save_screenshot(page, TRYON_SCREENSHOT)
    page.keyboard.press("Escape")
    assert not page.locator("#tryon").evaluate("d => d.open")
    assert page.evaluate("document.activeElement.textContent") == "Try it on"  # focus returns


def test_an_impossible_measurement_is_shown_as_an_error_naming_the_field(page):
    page.fill("#height_cm", "300")
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "height_cm" in page.inner_text("#status")
    page.fill("#height_cm", "172")


def test_the_page_only_talks_to_its_own_origin_and_has_no_script_errors(page, server):
    origin = urlsplit(server.url).netloc
    foreign = [url for url in page.requests if not url.startswith("data:") and urlsplit(url).netloc != origin]
    assert not foreign
    # the deliberate 400 above is logged by Chromium as a failed resource; nothing else may fail
    assert all("400" in problem for problem in page.problems), page.problems
