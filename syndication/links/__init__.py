"""Tracking links: one short, per-partner link for every URL a partner shares, whose clicks
are recorded off the request path and counted honestly (bots, previews, scanners and repeats
kept but set apart)."""
