"""Workspace speed in a real browser on a session of 10,000 images.

Measures, inside headless Chromium (performance.now), against a live
`manage.py serve` on a fresh SQLite database under var/bench/:

* time to first grid paint: navigation start → the first animation frame
  after the first page of images is in the grid (target < 1.5 s);
* Enter on a new tag → its chip painted (target < 100 ms), and → the chip
  confirmed by the server (ack and event back over the socket);
* next image shown: `j` → the panel names the next image, its picture is
  decoded and its chips are painted (target < 50 ms);
* the bytes the panel loads per image (Resource Timing's encoded body size
  of the panel's picture) against the original's size (target: never more
  than the display rendition). The session alternates two realistic
  originals: a 1024×1536 PNG with generation text, as Stable Diffusion
  writes, and a 4000×3000 camera JPEG.

Baselines from the same run: the same workspace with an empty session, the
browser's first-contentful-paint of that page, the floor of "keydown →
next frame" with no work at all, and "next image shown" with the panel
loading the originals and fetching nothing ahead (what it did before
display renditions: the /display requests are answered from /file).

Run: .venv/bin/python bench/workspace_bench.py [--images 10000] [--runs 5]
"""

import argparse
import io
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "var" / "bench" / "workspace"
DB_PATH = WORK / "db.sqlite3"
MEDIA = WORK / "media"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PASSWORD = "bench-password"

ENTER_TO_CHIP_JS = """
async (name) => {
  const input = document.getElementById("tag-input");
  const chips = document.getElementById("chips");
  const find = (sel) => chips.querySelector(`li[data-name="${name}"]${sel}`);
  const waitFor = (sel) => new Promise((resolve) => {
    const check = () => {
      if (!find(sel)) return false;
      requestAnimationFrame(() => resolve(performance.now()));
      return true;
    };
    if (check()) return;
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(chips, {childList: true, subtree: true, attributes: true});
  });
  input.value = name;
  const t0 = performance.now();
  input.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
  const shown = await waitFor("");
  const confirmed = await waitFor(":not(.pending)");
  return [shown - t0, confirmed - t0];
}
"""

NEXT_IMAGE_JS = """
async () => {
  const { panel, grid } = window.tagger;
  const caption = document.getElementById("panel-caption");
  const image = document.getElementById("panel-image");
  const before = panel.imageId;
  const shown = () => panel.imageId !== before && panel.state
    && caption.textContent.startsWith(grid.get(panel.imageId)?.name || "\u0000");
  const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "j", bubbles: true}));
  await new Promise((resolve) => {
    if (shown()) return resolve();
    const obs = new MutationObserver(() => { if (shown()) { obs.disconnect(); resolve(); } });
    obs.observe(caption, {childList: true, characterData: true, subtree: true});
  });
  await image.decode().catch(() => {});
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const took = performance.now() - t0;
  const timing = performance.getEntriesByName(image.currentSrc).pop();
  const item = grid.get(panel.imageId);
  const kind = `${item.width}×${item.height} ${item.format}`;
  return [took, timing ? timing.encodedBodySize : -1, item.size, kind];
}
"""

FRAME_FLOOR_JS = """
async () => {
  const t0 = performance.now();
  document.body.dispatchEvent(new KeyboardEvent("keydown", {key: "F13", bubbles: false}));
  const next = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await next();
  return performance.now() - t0;
}
"""


def setup_database(n_images: int) -> dict:
    """A fresh database: a user, a session of n images (sharing two stored files), an empty one."""
    shutil.rmtree(WORK, ignore_errors=True)
    MEDIA.mkdir(parents=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
    os.environ["MEDIA_ROOT"] = str(MEDIA)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from images.models import Image
    from images.processing import process_image_bytes
    from images.services import image_store
    from sessions_app import services
    from sessions_app.models import SessionImage

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password=PASSWORD)
    big = services.session_create(owner=user, name="Ten thousand").value
    empty = services.session_create(owner=user, name="Empty").value
    originals = []
    for name, data in originals_bytes():
        processed = process_image_bytes(data, max_pixels=10**8, max_bytes=10**8)
        originals.append(image_store(processed, original_name=name, actor=user)[0])
    with transaction.atomic():
        images = Image.objects.bulk_create(
            (
                Image(
                    sha256=f"{i:064x}",
                    file=like.file.name,
                    thumbnail=like.thumbnail.name,
                    display=like.display.name,
                    original_name=f"img{i:05d}{like.original_name[-4:]}",
                    width=like.width,
                    height=like.height,
                    format=like.format,
                    byte_size=like.byte_size,
                )
                for i in range(len(originals), n_images)
                for like in [originals[i % len(originals)]]
            ),
            batch_size=1000,
        )
        images = originals + images
        SessionImage.objects.bulk_create(
            (
                SessionImage(session=big, image=img, position=i, original_name=img.original_name)
                for i, img in enumerate(images)
            ),
            batch_size=1000,
        )
    return {"big": big.pk, "empty": empty.pk, "first_image": images[0].pk}


def originals_bytes() -> list[tuple[str, bytes]]:
    """A Stable Diffusion PNG and a camera JPEG, photo-like (they compress as real ones do)."""
    sys.path.insert(0, str(REPO / "bench"))
    from import_bench import photo_like
    from PIL import PngImagePlugin

    rng = random.Random(17)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "1girl, solo, smile\nSteps: 20, Sampler: Euler a, Seed: 1")
    png, jpeg = io.BytesIO(), io.BytesIO()
    photo_like(rng, (1024, 1536)).save(png, "PNG", pnginfo=info, compress_level=6)
    photo_like(rng, (4000, 3000)).save(jpeg, "JPEG", quality=90)
    return [("sd.png", png.getvalue()), ("camera.jpg", jpeg.getvalue())]


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DEBUG": "true"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def first_paint(page, url: str) -> tuple[float, float, int]:
    """(first grid paint ms, first contentful paint ms, tiles in the DOM) for one fresh load."""
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.__taggerFirstPaint !== undefined", timeout=30_000)
    grid_ms = page.evaluate("() => window.__taggerFirstPaint")
    fcp = page.evaluate(
        "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0"
    )
    tiles = page.locator(".tile").count()
    return grid_ms, fcp, tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tags", type=int, default=20)
    options = parser.parse_args()

    t0 = time.perf_counter()
    ids = setup_database(options.images)
    setup_s = time.perf_counter() - t0
    proc, base = start_server()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=base)
            page.goto("/accounts/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/sessions/")

            big_url = f"/sessions/{ids['big']}/"
            empty_url = f"/sessions/{ids['empty']}/"
            first_paint(page, big_url)  # warm caches (static files, connections)
            big = [first_paint(page, big_url) for _ in range(options.runs)]
            empty = [first_paint(page, empty_url) for _ in range(options.runs)]

            page.goto(f"{big_url}?image={ids['first_image']}")
            page.wait_for_selector("#conn-pill:text('Live')")
            page.wait_for_function("() => document.getElementById('panel-caption').textContent")
            enter = [page.evaluate(ENTER_TO_CHIP_JS, f"bench tag {i}") for i in range(options.tags)]
            floor = [page.evaluate(FRAME_FLOOR_JS) for _ in range(options.tags)]
            page.locator("#grid").focus()
            nexts = [page.evaluate(NEXT_IMAGE_JS) for _ in range(options.tags)]
            # Baseline: the panel as it was, loading each original when it gets there.
            page.evaluate("() => { tagger.panel.prefetch = () => {}; tagger.panel.ahead.clear(); }")
            page.route("**/api/images/*/display", _answer_with_original)
            originals = [page.evaluate(NEXT_IMAGE_JS) for _ in range(options.tags)]
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    med = statistics.median
    rows = [
        (f"first grid paint, {options.images:,}-image session", med(b[0] for b in big), 1500),
        ("  baseline: first grid paint, empty session", med(e[0] for e in empty), None),
        ("  baseline: first contentful paint, same page", med(b[1] for b in big), None),
        ("Enter on a new tag → chip painted", med(e[0] for e in enter), 100),
        ("  baseline: keydown → next frame, no work", med(floor), None),
        ("Enter on a new tag → chip confirmed by server", med(e[1] for e in enter), None),
        ("next image shown (j → picture and chips painted)", med(n[0] for n in nexts), 50),
        ("  baseline: the same, the panel loading originals", med(o[0] for o in originals), None),
    ]
    print(
        f"\nworkspace_bench: {options.images:,} images, {options.runs} loads, "
        f"{options.tags} tags (setup {setup_s:.1f} s)"
    )
    print(f"{'measure':<50} {'median ms':>10} {'max ms':>8} {'target':>8}  verdict")
    maxima = [
        max(b[0] for b in big),
        max(e[0] for e in empty),
        max(b[1] for b in big),
        max(e[0] for e in enter),
        max(floor),
        max(e[1] for e in enter),
        max(n[0] for n in nexts),
        max(o[0] for o in originals),
    ]
    for (label, value, target), worst in zip(rows, maxima, strict=True):
        verdict = "" if target is None else ("ok" if value < target else "MISSED")
        shown_target = f"<{target}" if target else ""
        print(f"{label:<50} {value:>10.1f} {worst:>8.1f} {shown_target:>8}  {verdict}")
    print(f"tiles in the DOM with {options.images:,} images: {big[-1][2]} (virtualized)")
    print_bytes(nexts)


def _answer_with_original(route) -> None:
    route.continue_(url=route.request.url.replace("/display", "/file"))


def print_bytes(nexts: list) -> None:
    """Bytes the panel loaded per image against the original's, per kind of original."""
    print(f"\n{'panel picture per image, by original':<40} {'loaded KB':>10} {'original KB':>12}")
    for kind in sorted({row[3] for row in nexts}):
        rows = [row for row in nexts if row[3] == kind]
        loaded = statistics.median(row[1] for row in rows) / 1024
        original = statistics.median(row[2] for row in rows) / 1024
        print(f"{kind:<40} {loaded:>10.1f} {original:>12.1f}  ({loaded / original:.1%})")


if __name__ == "__main__":
    main()
