"""The import_images command: a thin door over the import pipeline, and its crash safety."""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from PIL import Image as PILImage

from images.models import Image
from sessions_app.models import SessionEvent, SessionImage, SessionImageTag, TaggingSession
from tags.models import Tag
from tests.support.samples import SAMPLES

KILL_IMAGES = 60


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def noise_jpeg(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    PILImage.frombytes("RGB", size, pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def caption_of(index: int) -> str:
    return f"subject {index}, shared tag, {'even' if index % 2 == 0 else 'odd'}"


@pytest.fixture(scope="module")
def kill_folder(tmp_path_factory) -> Path:
    """KILL_IMAGES distinct JPEGs in two subfolders, a caption beside every one."""
    folder = tmp_path_factory.mktemp("kill-import")
    for index in range(KILL_IMAGES):
        path = folder / f"part{index % 2}" / f"img{index:03}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(noise_jpeg(index, size=(320, 240)))
        path.with_suffix(".txt").write_text(caption_of(index))
    return folder


def import_json(*args: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_images", *args, "--json", stdout=out, stderr=err)
    return json.loads(out.getvalue())


# --- the door -------------------------------------------------------------------------


def test_samples_import_with_exact_json(alice):
    result = import_json(str(SAMPLES), "--session", "Samples", "--owner", "alice")
    assert result == {
        "imported": 8,
        "duplicates": 0,
        "skipped": [
            {"path": str(SAMPLES / "README.md"), "reason": "not an image"},
            {"path": str(SAMPLES / "bad-images" / "empty_file.png"), "reason": "empty file"},
        ],
    }
    session = TaggingSession.objects.get(name="Samples")
    assert session.owner == alice
    assert SessionImage.objects.filter(session=session).count() == 8
    duck = Image.objects.get(original_name="automatic1111_cropped.png")
    assert duck.metadata["prompt"] == "photo of a duck"
    assert list(
        SessionImageTag.objects.filter(entry__image=duck).values_list("tag__name", "source")
    ) == [("photo of a duck", "prompt")]


def test_rerun_counts_what_is_there_as_duplicates(alice):
    import_json(str(SAMPLES), "--session", "Samples", "--owner", "alice")
    again = import_json(str(SAMPLES), "--session", "Samples")
    assert (again["imported"], again["duplicates"], len(again["skipped"])) == (0, 8, 2)
    assert Image.objects.count() == 8


def test_summary_without_json(alice, tmp_path):
    (tmp_path / "a.jpg").write_bytes(noise_jpeg(1))
    (tmp_path / "b.jpg").write_bytes(noise_jpeg(1))
    (tmp_path / "c.jpg").write_bytes(noise_jpeg(2)[:-200])
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_images", str(tmp_path), "--session", "S", "--owner", "alice", stdout=out, stderr=err
    )
    assert out.getvalue().splitlines() == [
        "Imported 1, duplicates 1, skipped 1 into session 'S'.",
        f"  skipped {tmp_path / 'c.jpg'}: truncated or corrupt image data",
    ]
    assert "3/3" in err.getvalue()  # the progress bar went to stderr


def test_invalid_caption_tokens_are_reported_on_stderr(alice, tmp_path):
    (tmp_path / "a.jpg").write_bytes(noise_jpeg(1))
    (tmp_path / "a.txt").write_text("ok, bad\x01token")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_images", str(tmp_path), "--session", "S", "--owner", "alice", "--json",
        stdout=out, stderr=err,
    )  # fmt: skip
    assert json.loads(out.getvalue())["imported"] == 1
    assert (
        f"{tmp_path / 'a.jpg'}: tag 'bad\\x01token' skipped: control characters" in err.getvalue()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session", "Nope"], "no session called 'Nope'; pass --owner USER to create it"),
        (["--session", "Nope", "--owner", "zed"], "no user called 'zed' (--owner)"),
        (["--session", "Cats", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(session, args, message):
    events = SessionEvent.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("import_images", str(SAMPLES), *args, stdout=io.StringIO())
    assert str(refused.value) == message
    assert not Image.objects.exists()
    assert not TaggingSession.objects.filter(name="Nope").exists()
    assert SessionEvent.objects.count() == events


def test_missing_path_is_refused_before_anything(session, tmp_path):
    with pytest.raises(CommandError, match=r"no such file or folder: .*missing"):
        call_command("import_images", str(SAMPLES), str(tmp_path / "missing"), "--session", "Cats")
    assert not Image.objects.exists()


# --- start-up --------------------------------------------------------------------------


# Loaded only where they serve: numpy and onnxruntime (~0.1 CPU-s, and OpenBLAS's
# threads) for auto-tagging; ninja, pydantic and the django.test that ninja
# imports (~0.15 CPU-s) for the API; the dataset formats for exports.
NOT_AT_START_UP = {
    "numpy",
    "onnxruntime",
    "ninja",
    "pydantic",
    "django.test",
    "datasets.exporting",
    "datasets.importing_formats",
}


def test_the_command_starts_without_what_it_does_not_use():
    probe = (
        "import sys\n"
        "from django.core.management import ManagementUtility\n"
        "try:\n"
        "    ManagementUtility(['manage.py', 'import_images', '--help']).execute()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(set({sorted(NOT_AT_START_UP)!r}) & set(sys.modules)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tagger_project.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


# --- killed and run again ---------------------------------------------------------------


def database_url() -> str:
    """The test database as a URL a subprocess's settings can read."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def import_command(folder: Path) -> list[str]:
    return [
        sys.executable, "manage.py", "import_images", str(folder),
        "--session", "Crash", "--owner", "alice", "--workers", "2", "--json",
    ]  # fmt: skip


def subprocess_env(media: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(media)}


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name, or None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has ended


def assert_ended(workers: list[int]) -> None:
    """Every one of the import's workers ends within 10 s."""
    until = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < until:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)], "workers outlived the import"


def start_import(folder: Path, media: Path, **popen) -> subprocess.Popen:
    """import_images of `folder` in a process of its own, its output piped."""
    return subprocess.Popen(
        import_command(folder),
        cwd=django_settings.BASE_DIR,
        env=subprocess_env(media),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def kill_after_progress(process: subprocess.Popen, deadline: float) -> None:
    """SIGKILL the import once its progress bar (or the database) shows a few images done."""
    os.set_blocking(process.stderr.fileno(), False)
    seen = b""
    while time.monotonic() < deadline and process.poll() is None:
        seen += process.stderr.read() or b""
        shown = [int(n) for n in re.findall(rb"\| *(\d+)/%d " % KILL_IMAGES, seen)]
        # The bar redraws at most every 0.2 s; on a fast machine the committed
        # rows are the earlier sign of progress.
        committed = SessionImage.objects.filter(session__name="Crash").count()
        if max(shown, default=0) >= 3 or committed >= 3:
            workers = children_of(process.pid)
            assert workers, "the import runs its files in worker processes"
            process.send_signal(signal.SIGKILL)
            process.wait()
            # A killed import cannot stop its workers: they must end on their own.
            assert_ended(workers)
            return
        time.sleep(0.005)
    pytest.fail(f"the import never showed progress before finishing: {seen[-500:]!r}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_import_finishes_on_rerun_with_exact_counts(alice, kill_folder, media_root):
    env = subprocess_env(media_root)
    process = start_import(kill_folder, media_root)
    kill_after_progress(process, deadline=time.monotonic() + 120)
    assert process.returncode == -signal.SIGKILL
    session = TaggingSession.objects.get(name="Crash")
    committed = SessionImage.objects.filter(session=session).count()
    assert 0 < committed < KILL_IMAGES
    assert Image.objects.count() == committed  # a group commits whole: no row without its entry

    rerun = subprocess.run(
        import_command(kill_folder),
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert json.loads(rerun.stdout) == {
        "imported": KILL_IMAGES - committed,
        "duplicates": committed,
        "skipped": [],
    }
    assert Image.objects.count() == KILL_IMAGES
    entries = SessionImage.objects.filter(session=session)
    assert entries.count() == KILL_IMAGES
    assert len(set(entries.values_list("position", flat=True))) == KILL_IMAGES
    for image in Image.objects.all():
        assert default_storage.exists(image.file.name), image.file.name
        assert default_storage.exists(image.thumbnail.name), image.thumbnail.name
        index = int(image.original_name[3:6])
        expected = [f"subject {index}", "shared tag", "even" if index % 2 == 0 else "odd"]
        assert (
            list(
                SessionImageTag.objects.filter(entry__image=image).values_list(
                    "tag__name", flat=True
                )
            )
            == expected
        )
    # Content addressing: files written before a kill were reused, never copied.
    for root in ("originals", "thumbnails"):
        assert sum(1 for p in (media_root / root).rglob("*") if p.is_file()) == KILL_IMAGES
    counts = Tag.objects.annotate(rows=Count("entry_tags")).values_list(
        "name", "image_count", "rows"
    )
    assert all(count == rows for _, count, rows in counts)
    assert Tag.objects.get(name="shared tag").image_count == KILL_IMAGES
    assert SessionImageTag.objects.count() == KILL_IMAGES * 3
    seqs = list(session.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def wait_for_workers(process: subprocess.Popen, deadline: float) -> list[int]:
    while time.monotonic() < deadline and process.poll() is None:
        workers = children_of(process.pid)
        if len(workers) >= 2:
            return workers
        time.sleep(0.005)
    pytest.fail("the import never started its workers")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_stops_the_import_with_a_clear_error(alice, kill_folder, media_root):
    process = start_import(kill_folder, media_root)
    workers = wait_for_workers(process, time.monotonic() + 60)
    os.kill(workers[0], signal.SIGKILL)  # as the kernel's OOM killer would
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.decode().splitlines()[-1] == (
        "CommandError: a worker process died (killed, or out of memory);"
        " run the same command again to finish"
    )
    assert_ended(workers)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_the_import_and_its_workers_quietly(alice, kill_folder, media_root):
    # A group of its own, as a terminal gives a command.
    process = start_import(kill_folder, media_root, start_new_session=True)
    workers = wait_for_workers(process, time.monotonic() + 60)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: to every process of the group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    # One line, the command's: no worker's traceback.
    assert "Traceback" not in stderr.decode()
    assert stderr.decode().splitlines()[-1] == (
        "CommandError: interrupted; run the same command again to finish"
    )
    assert_ended(workers)
