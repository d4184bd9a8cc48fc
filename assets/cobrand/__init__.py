"""Co-branding engine: zones, partner text, PDF and image stamping, previews.

Everything here takes bytes and plain values and returns bytes and plain values:
- ``zones``: where things go on a page, validated against the page sizes;
- ``text``: partner tokens rendered in a sandbox, and the text fitting shared by both outputs;
- ``logo``: partner logo preparation (padding trimmed, bounded upscaling);
- ``pdf``: inspecting untrusted PDFs under a time and memory bound, and stamping them;
- ``image``: inspecting and stamping PNG, JPEG and WebP files;
- ``preview``: a PDF page as PNG for the zone editor, and warnings for values that do not fit.
"""

from __future__ import annotations

from assets.cobrand.zones import Brand, Zone, parse_zones, zones_to_json

__all__ = ["Brand", "Zone", "parse_zones", "zones_to_json"]
