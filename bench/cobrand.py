"""What co-branding costs, against the raw libraries doing the bare minimum.

Measures, in one run on the same generated files:
(a) our PDF stamping (``stamp_pdf``: open, check zones, lay out the partner's text, embed the
    font subset and the logo, apply, save) of a 20-page vendor PDF vs. the raw pikepdf floor:
    a pre-built overlay form XObject applied to every page and saved with the same options,
    in pages/s. pikepdf's own one-call ``add_overlay`` with its default save, and pypdf's
    ``merge_page``, are shown beside it;
(b) our image co-branding (``stamp_image``) of a 2000x2000 JPEG vs. raw Pillow decode + paste
    of a pre-sized logo + one line of text + encode, in images/s;
(c) cache-hit latency of a rendition download through the app: a signed-in partner's
    ``GET /library/<asset>/download`` of a done copy (a real app on SQLite and local storage,
    Flask's test client), p50 and p99 over 300 requests;
(d) peak RSS of a fresh process stamping a 500-page PDF (its VmHWM: imports included).

"Ours" stamps 64 partners in turn (own logo, own phone number), in four states of the
worker's in-process caches (``assets.cobrand.overlay``), each against the same floor:
- first copy (``RESULT.pdf_ratio``): every partner's logo, text widths and overlays are
  forgotten before each call, so each call pays what a partner's first copy on a running
  worker pays, as production runs it: their logo was prepared when they uploaded it (the
  ``prepare_partner_logo`` job, run here beforehand through ``assets.logos.store_prepared``
  into a local storage folder), so the copy reads its prepared artefacts from storage (inside
  the timing: a fresh ``PreparedLogo`` per call, as ``brand_for`` makes) instead of decoding
  and deflating the logo; it still lays out the text. Only what partners share stays
  (registered fonts, the font subset of their scripts);
- first copy before the job has run (``pdf_ratio_unprepared``): the same, with no prepared
  artefacts: the logo decoded, trimmed and deflated in the call;
- next asset (``pdf_ratio_next_asset``): logos kept, overlays and text widths forgotten: a
  partner's second asset with other zones;
- cached overlay (``pdf_ratio_warm``): the same zones and brand again, e.g. the next version
  of an asset whose zones did not change.
As before, the vendor file and the logo's PNG are handed over in memory (the rendition's
storage reads are the same in every state and the floor has none).
A fresh worker's very first copy (font files parsed, subsets built) is timed on its own.

Targets (issue 4): (a), (b) >= 0.8x their baselines, (c) p50 < 10 ms, (d) < 300 MB.
Run: .venv/bin/python bench/cobrand.py
"""

from __future__ import annotations

import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAGES = 20
BIG_PAGES = 500


def per_second(fn: Callable[[], object], units: int, *, rounds: int = 7,
               budget: float = 0.4) -> float:
    """Median units/s over ``rounds`` rounds of about ``budget`` seconds each."""
    fn()
    start = time.perf_counter()
    fn()
    repeat = max(1, int(budget / max(time.perf_counter() - start, 1e-6)))
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        rates.append(units * repeat / (time.perf_counter() - start))
    return statistics.median(rates)


def best_of(fns: list[Callable[[], object]], units: int, **kwargs) -> list[float]:
    """The rate of each of ``fns``, each the best of two interleaved measurements."""
    first = [per_second(fn, units, **kwargs) for fn in fns]
    second = [per_second(fn, units, **kwargs) for fn in fns]
    return [max(a, b) for a, b in zip(first, second, strict=True)]


def vendor_pdf(pages: int) -> bytes:
    """A brochure as design tools export it: compressed text, a JPEG photo and a link on every
    page (the photo stored once and shared, as InDesign does)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    photo = Image.merge("RGB", [Image.radial_gradient("L"), Image.linear_gradient("L"),
                                Image.effect_noise((256, 256), 30)]).resize((800, 500))
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", quality=85)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    for number in range(pages):
        canvas.setFont("Helvetica-Bold", 22)
        canvas.drawString(56, 770, f"Cloud Backup 7 - chapter {number + 1}")
        canvas.setFont("Helvetica", 10)
        for line in range(40):
            canvas.drawString(56, 720 - line * 14, "Lorem ipsum dolor sit amet, consectetur "
                              f"adipiscing elit, sed do eiusmod tempor {number}.{line}")
        canvas.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 300, 60, 240, 150)
        canvas.linkURL("https://vendor.example", (56, 760, 400, 795))
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def zones_for(pages: int):
    """A footer with the partner's phone and website on every page; logo and contact block
    on the last page: the usual brochure layout."""
    from assets.cobrand.zones import Zone

    zones = [Zone(page=i, x=56, y=805, width=480, height=20, kind="text",
                  template="{{ partner.display_name }} · {{ partner.phone }} · "
                           "{{ partner.website }}", size=9, min_size=7, color="#333333")
             for i in range(pages)]
    zones += [
        Zone(page=pages - 1, x=56, y=40, width=180, height=70, kind="logo"),
        Zone(page=pages - 1, x=300, y=40, width=240, height=70, kind="text",
             template="{{ partner.display_name }}\n{{ partner.address_line1 }}\n"
                      "{{ partner.postal_code }} {{ partner.city }}\n{{ partner.phone }}",
             size=11, min_size=8, align="right"),
    ]
    return zones


def brands(count: int = 64) -> list:
    """``count`` partners, each with its own logo and phone number, stamped in turn so that no
    per-process cache (logo pixels, text widths) is ever warm for the partner at hand:
    the figures are those of a partner's first download."""
    from PIL import Image, ImageDraw

    from assets.cobrand.text import SAMPLE_PARTNER
    from assets.cobrand.zones import Brand

    out = []
    for number in range(count):
        logo = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
        ImageDraw.Draw(logo).ellipse((20, 20, 580, 220), fill=(200, number * 3, 30, 255))
        ImageDraw.Draw(logo).text((200, 100), f"Partner {number}", fill=(255, 255, 255, 255))
        buf = io.BytesIO()
        logo.save(buf, "PNG")
        values = dict(SAMPLE_PARTNER, phone=f"+49 (0) 7231 123 456-{number:04d}",
                      display_name=f"{SAMPLE_PARTNER['display_name']} {number}")
        out.append(Brand(values=values, logo=buf.getvalue()))
    return out


def rotating(items: list) -> Callable[[], object]:
    """A function returning the next item each call, round and round."""
    state = {"i": -1}

    def next_item():
        state["i"] = (state["i"] + 1) % len(items)
        return items[state["i"]]
    return next_item


def prepared_store(partners: list, zones: list) -> Callable[[object], object]:
    """Run what the upload job does for every partner's logo into a local storage folder;
    return a function giving a partner's Brand reading from it (a fresh reader each time, as
    each rendition gets one)."""
    from assets.cobrand.zones import Brand
    from assets.logos import prepared_logo, store_prepared
    from tcma.storage import LocalStorage

    backend = LocalStorage(Path(tempfile.mkdtemp(prefix="tcma-bench-logos-")))
    for brand in partners:
        store_prepared(backend, brand.logo, zones)
    return lambda brand: Brand(brand.values, brand.logo, prepared_logo(brand.logo, backend))


def bench_pdf(results: dict) -> None:
    import pikepdf
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from assets.cobrand.overlay import forget_partners
    from assets.cobrand.pdf import _save, stamp_pdf

    data = vendor_pdf(PAGES)
    zones, partners = zones_for(PAGES), brands()
    partner = rotating(partners)
    with_prepared = prepared_store(partners, zones)
    # The baselines' overlay is built once, outside the timing: the last page's zones stamped
    # onto a blank page, applied to every page.
    blank = io.BytesIO()
    canvas = Canvas(blank, pagesize=A4)
    canvas.showPage()
    canvas.save()
    last = [replace(z, page=0) for z in zones if z.page == PAGES - 1]
    overlay_pdf = stamp_pdf(blank.getvalue(), last, partners[0])

    def ours_first():
        # A partner's first copy: their logo prepared at upload, read from storage and
        # embedded as it is; their text laid out.
        forget_partners()
        stamp_pdf(data, zones, with_prepared(partner()))

    def ours_unprepared():
        # A partner's first copy before the upload job ran: their logo decoded and deflated.
        forget_partners()
        stamp_pdf(data, zones, partner())

    def ours_next_asset():
        # A partner's next asset (other zones): logo pixels ready, text laid out anew.
        forget_partners(logos=False)
        stamp_pdf(data, zones, with_prepared(partner()))

    def ours_warm():
        # The same zones and brand again (a new file version, unchanged zones): the whole
        # overlay comes from the cache; only the vendor's file is opened, stamped and saved.
        stamp_pdf(data, zones, with_prepared(partner()))

    def raw_floor():
        # The least work the library can do: what stamp_pdf does minus drawing the overlay,
        # saved with the same pass-through options (``_save``).
        with pikepdf.open(io.BytesIO(data)) as pdf, \
                pikepdf.open(io.BytesIO(overlay_pdf)) as overlay:
            form = pdf.copy_foreign(overlay.pages[0].as_form_xobject())
            for page in pdf.pages:
                name = page.add_resource(form, pikepdf.Name.XObject, prefix="Fx")
                page.contents_add(b"q\n", prepend=True)
                page.contents_add(b"\nQ\nq 1 0 0 1 0 0 cm %s Do Q\n" % str(name).encode())
            _save(pdf)

    def raw_add_overlay():
        # The library's own one-call API with its default save.
        with pikepdf.open(io.BytesIO(data)) as pdf, \
                pikepdf.open(io.BytesIO(overlay_pdf)) as overlay:
            form = pdf.copy_foreign(overlay.pages[0].as_form_xobject())
            for page in pdf.pages:
                page.add_overlay(form)
            pdf.save(io.BytesIO())

    rates = {}
    # Two interleaved passes, best of each, so a noisy neighbour hurts all sides alike.
    (rates["pdf_ours_pages_s"], rates["pdf_ours_unprepared_pages_s"],
     rates["pdf_ours_next_asset_pages_s"], rates["pdf_ours_warm_pages_s"],
     rates["pdf_raw_floor_pages_s"]) = best_of(
        [ours_first, ours_unprepared, ours_next_asset, ours_warm, raw_floor], PAGES)
    rates["pdf_raw_add_overlay_pages_s"] = per_second(raw_add_overlay, PAGES)
    try:
        import pypdf
    except ImportError:  # only for the record; not a dependency of the app
        rates["pdf_pypdf_merge_page_pages_s"] = None
    else:
        def pypdf_merge():
            overlay = pypdf.PdfReader(io.BytesIO(overlay_pdf)).pages[0]
            writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
            for page in writer.pages:
                page.merge_page(overlay)
            writer.write(io.BytesIO())

        rates["pdf_pypdf_merge_page_pages_s"] = per_second(pypdf_merge, PAGES, rounds=3)
    results.update(rates)
    results["pdf_ratio"] = rates["pdf_ours_pages_s"] / rates["pdf_raw_floor_pages_s"]
    results["pdf_ratio_unprepared"] = (rates["pdf_ours_unprepared_pages_s"]
                                       / rates["pdf_raw_floor_pages_s"])
    results["pdf_ratio_next_asset"] = (rates["pdf_ours_next_asset_pages_s"]
                                       / rates["pdf_raw_floor_pages_s"])
    results["pdf_ratio_warm"] = rates["pdf_ours_warm_pages_s"] / rates["pdf_raw_floor_pages_s"]
    results["pdf_ratio_vs_add_overlay"] = (rates["pdf_ours_pages_s"]
                                           / rates["pdf_raw_add_overlay_pages_s"])


def bench_image(results: dict) -> None:
    from PIL import Image, ImageCms, ImageDraw, ImageFont

    from assets.cobrand.image import stamp_image
    from assets.cobrand.text import FONT_FILES
    from assets.cobrand.zones import Zone

    # A photo-like 2000x2000 JPEG (gradients and noise: realistic decode/encode cost).
    base = Image.merge("RGB", [Image.radial_gradient("L").resize((2000, 2000)),
                               Image.linear_gradient("L").resize((2000, 2000)),
                               Image.effect_noise((2000, 2000), 40)])
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=90, icc_profile=srgb)
    data = buf.getvalue()
    partners = brands()
    partner = rotating(partners)
    zones = [Zone(page=0, x=1500, y=1750, width=400, height=160, kind="logo", align="right"),
             Zone(page=0, x=100, y=1800, width=1200, height=80, kind="text",
                  template="{{ partner.display_name }} · {{ partner.phone }}", size=40,
                  min_size=20, color="#ffffff")]
    # The baseline's logo is decoded and sized beforehand, its font loaded once.
    logo = Image.open(io.BytesIO(partners[0].logo)).convert("RGBA").resize((400, 160))
    font = ImageFont.truetype(str(FONT_FILES["sans"]), 24)
    line = f"{partners[0].values['display_name']} · {partners[0].values['phone']}"

    def ours():
        stamp_image(data, zones, partner())

    def raw():
        image = Image.open(io.BytesIO(data))
        image.load()
        image.paste(logo, (1500, 1750), logo)
        ImageDraw.Draw(image).text((100, 1850), line, font=font, fill="#ffffff")
        image.save(io.BytesIO(), "JPEG", quality=90, icc_profile=srgb)

    ours_rate, raw_rate = best_of([ours, raw], 1, rounds=5, budget=0.6)
    results["image_ours_per_s"] = ours_rate
    results["image_raw_pillow_per_s"] = raw_rate
    results["image_ratio"] = ours_rate / raw_rate


def bench_cache_hit(results: dict, requests: int = 300) -> None:
    """(c): a signed-in partner's ``GET /library/<asset>/download`` of a copy that is done,
    through a real app (SQLite, local storage) and Flask's test client: the whole request
    (session, permission, audience, rendition lookup, download row, signed URL, commit)."""
    import re

    from tcma import migrate
    from tcma.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="tcma-bench-cobrand-"))
    app = create_app({
        "INSTANCE_PATH": str(folder), "BROKER": "stub", "SECRET_KEY": "bench-" * 8,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "STORAGE_URL": f"file://{folder / 'storage'}", "MAIL_URL": f"outbox:{folder / 'mail'}",
        "BASE_URL": "http://localhost", "OIDC_CLIENT_ID": None,
    })
    with app.app_context():
        migrate.upgrade()
        asset_id, email = _library_with_a_done_copy(folder)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"email": email, "password": BENCH_PASSWORD,
                                            "csrf_token": token})
    assert signed_in.status_code == 302, "bench partner could not sign in"

    url = f"/library/{asset_id}/download"
    timings, with_file = [], []
    for round_ in range(requests + 30):  # the first 30 warm the caches and are not counted
        start = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - start
        assert response.status_code == 302 and "/files/" in response.headers["Location"]
        if round_ >= 30:
            timings.append(elapsed * 1000)
        if round_ % 10 == 0:  # now and then, also the file behind the redirect
            start = time.perf_counter()
            body = client.get(response.headers["Location"].replace("http://localhost", ""))
            assert body.status_code == 200 and body.data[:5] == b"%PDF-"
            with_file.append((elapsed + time.perf_counter() - start) * 1000)
    timings.sort()
    results["cache_hit_p50_ms"] = statistics.median(timings)
    results["cache_hit_p99_ms"] = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    results["cache_hit_with_file_p50_ms"] = statistics.median(with_file)


BENCH_PASSWORD = "bench horse battery staple"


def _library_with_a_done_copy(folder: Path) -> tuple[str, str]:
    """A published 20-page brochure with zones, a partner with a logo, their copy rendered."""
    from werkzeug.security import generate_password_hash

    from assets import library, renditions
    from assets.cobrand import zones_to_json
    from assets.models import AssetStatus, RenditionStatus
    from tcma.auth import service as accounts
    from tcma.auth.models import Role, UserStatus
    from tcma.extensions import db
    from tcma.partners import service as partners

    asset = library.create_asset({"title": "Cloud Backup 7 brochure"}, vendor_pdf(PAGES),
                                 "brochure.pdf", by=None, tiers=["gold"], regions=["EMEA"])
    library.set_zones(asset, zones_to_json(zones_for(PAGES)), by=None)
    asset.status = AssetStatus.PUBLISHED
    partner = partners.create_partner({"name": "Bench Partner", "tier": "gold",
                                       "region": "EMEA", "type": "reseller",
                                       "language": "en"}, by=None)
    brand = brands(1)[0]
    partners.update_brand_profile(partner, {"display_name": brand.values["display_name"],
                                            "phone": brand.values["phone"]},
                                  by=None, logo=(brand.logo, "logo.png"))
    user = accounts.invite_user(email="partner@bench.example", name="Bench Partner Admin",
                                role=Role.PARTNER_ADMIN, partner=partner, notify=False)
    user.password_hash = generate_password_hash(BENCH_PASSWORD)
    user.status = UserStatus.ACTIVE
    rendition = renditions.request_rendition(partner, asset)
    db.session.commit()
    renditions.render(rendition.id)  # what the worker does; the stub broker runs nothing
    db.session.refresh(rendition)
    assert rendition.status is RenditionStatus.DONE, rendition.error
    return asset.public_id, user.email


def peak_rss_kb() -> int:
    """This process's peak resident memory. VmHWM, not ``ru_maxrss``: Linux carries
    ``ru_maxrss`` over fork and exec, so a child started by a big parent reports the parent's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(path: str) -> None:
    """Child: stamp the 500-page PDF at ``path`` and print this process's peak RSS in MB."""
    from assets.cobrand.pdf import stamp_pdf

    data = Path(path).read_bytes()
    start = time.perf_counter()
    out = stamp_pdf(data, zones_for(BIG_PAGES), brands(1)[0])
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_rss_mb": peak_rss_kb() / 1024, "seconds": seconds,
                      "in_mb": len(data) / 1e6, "out_mb": len(out) / 1e6}))


def first_child() -> None:
    """Child: a fresh worker's first 20-page copy, fonts registered and subsets built."""
    from assets.cobrand.pdf import stamp_pdf

    data, zones, brand = vendor_pdf(PAGES), zones_for(PAGES), brands(1)[0]
    start = time.perf_counter()
    stamp_pdf(data, zones, brand)
    print(json.dumps({"ms": (time.perf_counter() - start) * 1000}))


def bench_first(results: dict) -> None:
    done = subprocess.run([sys.executable, __file__, "--first-child"], capture_output=True,
                          text=True, check=True)
    results["pdf_first_in_process_ms"] = json.loads(done.stdout.strip().splitlines()[-1])["ms"]


def bench_rss(results: dict) -> None:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(vendor_pdf(BIG_PAGES))
        file.flush()
        done = subprocess.run([sys.executable, __file__, "--rss-child", file.name],
                              capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    results["peak_rss_mb_500p"] = child["peak_rss_mb"]
    results["stamp_500p_seconds"] = child["seconds"]
    results["stamp_500p_in_out_mb"] = f"{child['in_mb']:.1f} -> {child['out_mb']:.1f}"


def main() -> None:
    results: dict = {}
    bench_pdf(results)
    bench_image(results)
    bench_first(results)
    bench_rss(results)
    bench_cache_hit(results)
    rows = [
        ("(a) PDF, ours: 20 pages, first copy", "pdf_ours_pages_s", "pages/s"),
        ("(a) PDF, raw pikepdf floor, pre-built overlay", "pdf_raw_floor_pages_s", "pages/s"),
        ("(a) ratio ours / raw floor (target >= 0.8)", "pdf_ratio", "x"),
        ("    ours, first copy, logo not prepared yet", "pdf_ours_unprepared_pages_s",
         "pages/s"),
        ("    ratio unprepared first copy / raw floor", "pdf_ratio_unprepared", "x"),
        ("    ours, a partner's next asset (logo ready)", "pdf_ours_next_asset_pages_s",
         "pages/s"),
        ("    ratio next asset / raw floor", "pdf_ratio_next_asset", "x"),
        ("    ours, overlay cached (same zones again)", "pdf_ours_warm_pages_s", "pages/s"),
        ("    ratio cached overlay / raw floor", "pdf_ratio_warm", "x"),
        ("    first copy after worker start (fonts load)", "pdf_first_in_process_ms", "ms"),
        ("    raw pikepdf Page.add_overlay + save()", "pdf_raw_add_overlay_pages_s", "pages/s"),
        ("    ratio ours / raw add_overlay", "pdf_ratio_vs_add_overlay", "x"),
        ("    (record) pypdf merge_page", "pdf_pypdf_merge_page_pages_s", "pages/s"),
        ("(b) image, ours: stamp_image 2000x2000 JPEG", "image_ours_per_s", "images/s"),
        ("(b) image, raw Pillow", "image_raw_pillow_per_s", "images/s"),
        ("(b) ratio ours / raw (target >= 0.8)", "image_ratio", "x"),
        ("(c) cache-hit download p50 (target < 10)", "cache_hit_p50_ms", "ms"),
        ("(c) cache-hit download p99", "cache_hit_p99_ms", "ms"),
        ("    download + fetching the file, p50", "cache_hit_with_file_p50_ms", "ms"),
        ("(d) peak RSS stamping 500 pages (< 300)", "peak_rss_mb_500p", "MB"),
        ("    500-page stamp time", "stamp_500p_seconds", "s"),
        ("    500-page file in -> out", "stamp_500p_in_out_mb", "MB"),
    ]
    print(f"{'measure':<46}{'value':>16}  unit")
    for label, key, unit in rows:
        value = results.get(key) if key else None
        if value is None:
            shown = "n/a"
        elif isinstance(value, float):
            shown = f"{value:,.2f}"
        else:
            shown = str(value)
        print(f"{label:<46}{shown:>16}  {unit}")
    print("RESULT " + json.dumps({
        "pdf_ratio": round(results["pdf_ratio"], 3),
        "image_ratio": round(results["image_ratio"], 3),
        "cache_hit_p50_ms": round(results["cache_hit_p50_ms"], 2),
        "peak_rss_mb_500p": round(results["peak_rss_mb_500p"], 1),
        # Beside the four asked for: pdf_ratio is a partner's first copy with their logo
        # prepared at upload; these are the other states.
        "pdf_ratio_unprepared": round(results["pdf_ratio_unprepared"], 3),
        "pdf_ratio_next_asset": round(results["pdf_ratio_next_asset"], 3),
        "pdf_ratio_warm": round(results["pdf_ratio_warm"], 3),
        "cache_hit_p99_ms": round(results["cache_hit_p99_ms"], 2),
    }))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-child":
        rss_child(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--first-child":
        first_child()
    else:
        main()
