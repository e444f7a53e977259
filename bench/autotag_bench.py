"""Images/s of predictions_for against a plain loop, on a model costed like wd-vit-tagger-v3.

The model is generated (nothing is downloaded): a ViT-B/16 at 448 px with the
WD14 signature, so it costs per image what wd-vit-tagger-v3 costs. Its
multiply-accumulates per image, counted from the architecture:

  patch embedding     784 tokens × (16·16·3) × 768             0.46 G
  per block (× 12)    qkv 784×768×2304 = 1.39 G, scores and weighted sum
                      2 × 784²×768 = 0.94 G, projection 0.46 G, MLP
                      2 × 784×768×3072 = 3.70 G                6.49 G
  head                768 × 10,861                             0.01 G
  total               ≈ 78 GMAC ≈ 157 GFLOP per image, 86 M parameters

(12 heads of 64, LayerNorm, GELU, mean-pooled tokens, sigmoid over 10,861
tags: 4 ratings, 8,000 general, the rest characters). The weights are random;
only the cost matters here, but the head's bias (mean -7) leaves most scores
near zero as a real tagger's are, so the stored size is realistic.

Two arms over the same stored images, the same loaded onnxruntime session and
the same batch size, alternating, each round from no stored predictions:

  plain loop       open each file with Pillow, the reference preprocessing,
                   session.run per batch; nothing else;
  predictions_for  the service: reads what is stored, infers the rest in
                   batches, stores compact scores per (image, model).

  job              the same images as an auto-tagging job, run by
                   the job worker thread of a real `serve` process on this
                   bench's database, chunk by chunk, each chunk applied to a
                   session as it completes; images/s from the job's claim to its end (the
                   model was loaded by a one-image warm-up job before).

The job runs twice: alone, then while a cheap API GET
(/api/sessions/{id}/progress, bearer token) probes that server ten times a
second: its p99 idle, then during the job.

Target: predictions_for and the job at least 0.9× the plain loop's images
per second, and the API's p99 during the job within 2× its idle p99.
It also prints the process's memory (VmRSS) before and after the model is
loaded, and its peak (VmHWM) after the runs.

    PYTHONPATH=. .venv/bin/python bench/autotag_bench.py [--images N] [--rounds R]
"""

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench" / "autotag"
MODEL_VERSION = "vit-b16-448-v2"
SIZE, PATCH, DIM, DEPTH, HEADS, MLP = 448, 16, 768, 12, 12, 3072
RATINGS, GENERAL, TAGS = 4, 8000, 10861


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-job", action="store_true", help="skip the job arm (no server)")
    parser.add_argument(
        "--job-nice",
        default="10",
        help="TAGGER_WORKER_NICE of the job arm's server, one run each (comma-separated)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    models = OUT / "models"
    folder = models / "wd-vit-sized"
    if not (folder / MODEL_VERSION).exists():
        # Built in a child process, so its ~350 MB of protobuf never counts in our memory.
        import multiprocessing

        child = multiprocessing.get_context("spawn").Process(target=build_model, args=(folder,))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit("building the model failed")
    db = OUT / "autotag.sqlite3"
    db.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["MEDIA_ROOT"] = str(OUT / "media")
    os.environ["TAGGER_MODELS_DIR"] = str(models)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    images = make_images(args.images)
    rss_before = memory("VmRSS")
    from taggers import runtime
    from taggers.selectors import tagger_named

    runtime.DEFAULT_BATCH = args.batch
    started = time.perf_counter()
    tagger = tagger_named("wd-vit-sized")
    load_seconds = time.perf_counter() - started
    rss_loaded = memory("VmRSS")
    results = measure(tagger, images, args.rounds)
    print_table(args, tagger, results, load_seconds, rss_before, rss_loaded, memory("VmHWM"))
    if not args.no_job:
        for nice in args.job_nice.split(","):
            print_job(job_arm(tagger, images, args.batch, int(nice), args.rounds), int(nice))


def build_model(folder: Path) -> None:
    """Write model.onnx and selected_tags.csv for the ViT-B/16-sized tagger."""
    import csv

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights = [], []

    def weight(name, *shape, scale=0.02, shift=0.0):
        values = rng.standard_normal(shape, np.float32) * scale + shift
        weights.append(numpy_helper.from_array(values, name))
        return name

    def constant(name, values, dtype=np.int64):
        weights.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    tokens = (SIZE // PATCH) ** 2
    x = node("Transpose", ["input"], "nchw", perm=[0, 3, 1, 2])
    x = node(
        "Conv",
        [x, weight("patch_w", DIM, 3, PATCH, PATCH), weight("patch_b", DIM)],
        "patches",
        strides=[PATCH, PATCH],
    )
    x = node("Reshape", [x, constant("tokens_shape", [0, DIM, tokens])], "flat")
    x = node("Transpose", [x], "tokens", perm=[0, 2, 1])
    x = node("Add", [x, weight("pos", 1, tokens, DIM)], "embedded")
    heads_shape = constant("heads_shape", [0, tokens, HEADS, DIM // HEADS])
    merge_shape = constant("merge_shape", [0, tokens, DIM])
    ones, zeros = (
        constant("ln_g", np.ones(DIM), np.float32),
        constant("ln_b", np.zeros(DIM), np.float32),
    )
    scale = constant("scale", (DIM // HEADS) ** -0.5, np.float32)
    for b in range(DEPTH):
        h = node("LayerNormalization", [x, ones, zeros], f"b{b}_ln1", axis=-1)
        qkv = node("MatMul", [h, weight(f"b{b}_qkv", DIM, 3 * DIM)], f"b{b}_qkv_out")
        parts = [f"b{b}_{n}" for n in "qkv"]
        nodes.append(
            helper.make_node("Split", [qkv, constant(f"b{b}_split", [DIM] * 3)], parts, axis=-1)
        )
        q, k, v = (
            node(
                "Transpose",
                [node("Reshape", [p, heads_shape], f"{p}_h")],
                f"{p}_t",
                perm=[0, 2, 1, 3],
            )
            for p in parts
        )
        kt = node("Transpose", [k], f"b{b}_kt", perm=[0, 1, 3, 2])
        scores = node("Mul", [node("MatMul", [q, kt], f"b{b}_qk"), scale], f"b{b}_scores")
        attn = node("Softmax", [scores], f"b{b}_attn", axis=-1)
        mixed = node(
            "Transpose", [node("MatMul", [attn, v], f"b{b}_av")], f"b{b}_mix", perm=[0, 2, 1, 3]
        )
        mixed = node("Reshape", [mixed, merge_shape], f"b{b}_merged")
        x = node(
            "Add",
            [x, node("MatMul", [mixed, weight(f"b{b}_proj", DIM, DIM)], f"b{b}_p")],
            f"b{b}_r1",
        )
        h = node("LayerNormalization", [x, ones, zeros], f"b{b}_ln2", axis=-1)
        h = node(
            "Gelu", [node("MatMul", [h, weight(f"b{b}_fc1", DIM, MLP)], f"b{b}_fc1o")], f"b{b}_g"
        )
        x = node(
            "Add", [x, node("MatMul", [h, weight(f"b{b}_fc2", MLP, DIM)], f"b{b}_fc2o")], f"b{b}_r2"
        )
    x = node("LayerNormalization", [x, ones, zeros], "final_ln", axis=-1)
    x = node("ReduceMean", [x, constant("token_axis", [1])], "pooled", keepdims=0)
    x = node(
        "Add",
        [
            node("MatMul", [x, weight("head_w", DIM, TAGS)], "head"),
            weight("head_b", TAGS, scale=2.0, shift=-7.0),
        ],
        "logits",
    )
    node("Sigmoid", [x], "output")
    graph = helper.make_graph(
        nodes,
        "wd_vit_sized",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", TAGS])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    onnx.save(model, folder / "model.onnx")
    with (folder / "selected_tags.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tag_id", "name", "category", "count"])
        for i in range(TAGS):
            category = 9 if i < RATINGS else 0 if i < RATINGS + GENERAL else 4
            writer.writerow([i, f"tag_{i}", category, TAGS - i])
    (folder / MODEL_VERSION).touch()  # hidden from nothing: a marker file, not a folder


def make_images(count: int):
    """Stored images of mixed sizes and modes (about 1 MP, as datasets hold)."""
    import io

    import numpy as np
    from django.contrib.auth import get_user_model
    from PIL import Image as PILImage

    from images.services import image_process_bytes, image_store

    user, _ = get_user_model().objects.get_or_create(username="bench")
    rng = np.random.default_rng(3)
    shapes = [(1024, 1024, "RGB", "JPEG"), (832, 1216, "RGB", "JPEG"), (1216, 832, "RGBA", "PNG")]
    images = []
    for i in range(count):
        width, height, mode, fmt = shapes[i % len(shapes)]
        # Smooth colour fields (cheap to make, realistic to decode), one per image.
        base = rng.integers(0, 256, (height // 64 + 1, width // 64 + 1, len(mode)), dtype=np.uint8)
        picture = PILImage.fromarray(base, mode).resize(
            (width, height), PILImage.Resampling.BILINEAR
        )
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        image, _ = image_store(
            image_process_bytes(buffer.getvalue()), original_name=f"b{i}", actor=user
        )
        images.append(image)
    return images


def plain_loop(tagger, paths: list[Path], batch_size: int) -> None:
    """The floor: Pillow preprocessing as the reference does it, session.run in batches."""
    import numpy as np
    from PIL import Image as PILImage

    session, size = tagger.session, tagger.signature.size
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    for start in range(0, len(paths), batch_size):
        arrays = []
        for path in paths[start : start + batch_size]:
            with PILImage.open(path) as image:
                image.load()
            if image.mode not in ("RGB", "RGBA"):
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            if image.mode == "RGBA":
                canvas = PILImage.new("RGBA", image.size, (255, 255, 255, 255))
                canvas.alpha_composite(image)
                image = canvas.convert("RGB")
            rgb = image
            side = max(rgb.size)
            square = PILImage.new("RGB", (side, side), (255, 255, 255))
            square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
            square = square.resize((size, size), PILImage.Resampling.BICUBIC)
            arrays.append(np.asarray(square, dtype=np.float32)[:, :, ::-1])
        session.run([output_name], {input_name: np.stack(arrays)})


def measure(tagger, images, rounds: int) -> dict[str, list[float]]:
    from django.conf import settings

    from taggers.models import Prediction
    from taggers.services import predictions_for

    paths = [Path(settings.MEDIA_ROOT) / image.file.name for image in images]
    results: dict[str, list[float]] = {"plain loop": [], "predictions_for": []}
    for _ in range(rounds):
        started = time.perf_counter()
        plain_loop(tagger, paths, tagger.batch_size)
        results["plain loop"].append(len(images) / (time.perf_counter() - started))
        Prediction.objects.all().delete()
        started = time.perf_counter()
        done = predictions_for(images, tagger)
        results["predictions_for"].append(len(images) / (time.perf_counter() - started))
        assert done.inferred == len(images) and not done.failed
    again = time.perf_counter()
    assert predictions_for(images, tagger).inferred == 0
    results["predictions_for, all stored"] = [len(images) / (time.perf_counter() - again)]
    results["stored bytes per image"] = [
        sum(len(bytes(p.scores)) for p in Prediction.objects.all()) / len(images)
    ]
    return results


def memory(field: str) -> float:
    """A line of /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(args, tagger, results, load_seconds, rss_before, rss_loaded, peak) -> None:
    plain = statistics.median(results["plain loop"])
    service = statistics.median(results["predictions_for"])
    print(
        f"\nautotag bench: {args.images} images (~1 MP JPEG/PNG), batch {tagger.batch_size},"
        f" {args.rounds} rounds, providers {', '.join(tagger.providers)}"
    )
    print(
        f"model: ViT-B/16 at {SIZE}px, {TAGS} tags, ~157 GFLOP/image;"
        f" model.onnx {(tagger.folder / 'model.onnx').stat().st_size / 2**20:.0f} MiB;"
        f" loaded in {load_seconds:.1f} s\n"
    )
    print(f"| {'arm':<28} | {'images/s (median)':>17} | {'rounds':<20} | {'vs plain':>8} |")
    print(f"| {'-' * 28} | {'-' * 17} | {'-' * 20} | {'-' * 8} |")
    for arm in ("plain loop", "predictions_for", "predictions_for, all stored"):
        values = results[arm]
        rounds = ", ".join(f"{v:.3f}" for v in values)
        print(
            f"| {arm:<28} | {statistics.median(values):>17.3f} | {rounds:<20} |"
            f" {statistics.median(values) / plain:>7.2f}x |"
        )
    ratio = service / plain
    print(
        f"\npredictions_for / plain loop = {ratio:.3f} (target >= 0.9):"
        f" {'met' if ratio >= 0.9 else 'MISSED'}"
    )
    print(
        f"stored scores: {results['stored bytes per image'][0]:.0f} bytes per image"
        f" ({TAGS} tags; float32 would be {4 * TAGS})"
    )
    print(
        f"memory (VmRSS): {rss_before:.0f} MiB before the model, {rss_loaded:.0f} MiB with it"
        f" loaded (+{rss_loaded - rss_before:.0f}); peak (VmHWM) {peak:.0f} MiB after the runs"
    )


# A probe, not a load: ten GETs a second cost the server a few % of a core.
API_GAP_S = 0.1


def job_arm(tagger, images, batch: int, nice: int, rounds: int) -> dict:
    """Run the images as jobs in a real `serve`'s worker thread; API latencies around them.

    Each round runs the plain loop here, the job alone, 100 idle GETs, then the
    job under the GET probe, so every arm sees the same load of a shared machine.
    """
    import socket
    import subprocess

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts.services import token_create
    from jobs.services import autotag_enqueue
    from sessions_app import services as session_services
    from sessions_app.services.autotag import autotag_options

    user = get_user_model().objects.get(username="bench")
    session = session_services.session_create(owner=user, name=f"bench {time.time_ns()}").value
    session_services.session_images_add(session, actor=user, images=images)
    _, token = token_create(user, name="bench")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "TAGGER_JOB_CHUNK": str(batch),
        "TAGGER_WORKER_NICE": str(nice),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        url = f"http://127.0.0.1:{port}/api/sessions/{session.pk}/progress"
        options = autotag_options()
        warm = autotag_enqueue(
            session, actor=user, image_ids=[images[0].pk], model="wd-vit-sized", options=options
        ).value
        _wait_job(warm)
        paths = [Path(settings.MEDIA_ROOT) / image.file.name for image in images]
        arms: dict[str, list[float]] = {"plain": [], "quiet": [], "probed": []}
        idle: list[float] = []
        during: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            plain_loop(tagger, paths, tagger.batch_size)
            arms["plain"].append(len(images) / (time.perf_counter() - started))
            quiet, _ = _timed_job(session, user, images)
            arms["quiet"].append(len(images) / _seconds(quiet))
            idle += [_get(url, token) for _ in range(100)]
            probed, gets = _timed_job(session, user, images, probe=(url, token))
            arms["probed"].append(len(images) / _seconds(probed))
            during += gets
        return {**arms, "idle": idle, "during": during}
    finally:
        server.terminate()
        server.wait(30)


def _timed_job(session, user, images, probe=None):
    """One job over every image from no stored prediction; with `probe`, GETs meanwhile."""
    from jobs.models import Job
    from jobs.services import autotag_enqueue
    from sessions_app.services.autotag import autotag_options
    from taggers.models import Prediction

    Prediction.objects.all().delete()
    job = autotag_enqueue(
        session,
        actor=user,
        image_ids=[image.pk for image in images],
        model="wd-vit-sized",
        options=autotag_options(mode="replace"),
    ).value
    during: list[float] = []
    while not job.finished:
        if probe is None:
            time.sleep(0.2)
        else:
            for _ in range(10):
                during.append(_get(*probe))
                time.sleep(API_GAP_S)
        job = Job.objects.get(pk=job.pk)
    return job, during


def _seconds(job) -> float:
    return (job.finished_at - job.started_at).total_seconds()


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def _wait_job(job) -> None:
    while not job.finished:
        time.sleep(0.2)
        job.refresh_from_db()


def _get(url: str, token: str) -> float:
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_job(job: dict, nice: int) -> None:
    plain = statistics.median(job["plain"])
    print(f"\njob arm, interleaved rounds, worker thread at niceness {nice}:")
    print(f"| {'arm':<28} | {'images/s (median)':>17} | {'rounds':<26} | {'vs plain':>8} |")
    print(f"| {'-' * 28} | {'-' * 17} | {'-' * 26} | {'-' * 8} |")
    for name, key in (
        ("plain loop", "plain"),
        ("job in serve, no requests", "quiet"),
        ("job in serve, API probed", "probed"),
    ):
        values = job[key]
        rounds = ", ".join(f"{v:.3f}" for v in values)
        median = statistics.median(values)
        print(f"| {name:<28} | {median:>17.3f} | {rounds:<26} | {median / plain:>7.2f}x |")
    idle, during = job["idle"], job["during"]
    print(f"\n| {'API GET /progress':<22} | {'n':>5} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"| {'-' * 22} | {'-' * 5} | {'-' * 7} | {'-' * 7} |")
    for name, values in (("idle", idle), ("during the job", during)):
        p50, p99 = _p(values, 0.5), _p(values, 0.99)
        print(f"| {name:<22} | {len(values):>5} | {p50:>7.2f} | {p99:>7.2f} |")
    ratio = statistics.median(job["probed"]) / plain
    p99 = _p(during, 0.99) / _p(idle, 0.99)
    print(
        f"\njob / plain loop = {ratio:.3f} (target >= 0.9): {'met' if ratio >= 0.9 else 'MISSED'};"
        f" API p99 during / idle = {p99:.2f} (target <= 2): {'met' if p99 <= 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
