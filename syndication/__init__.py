"""Syndication: every channel a partner markets through (links, landing pages and leads,
email, social, widget)."""
