"""Signals the core sends so that domain packages can act on them, without the core importing
them: dependencies point one way (domain packages -> ``tcma``).

A domain package connects its receivers when the app factory registers it (never at import
time of the core). Receivers run synchronously, inside the sender's transaction: they may add
rows or queue work with ``tcma.queue.enqueue`` (sent only if the transaction commits), must not
commit, and whatever they raise fails the sender's request, so they keep to quick work.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A new brand-profile version was flushed (text changed, logo added, replaced or removed).
#: Sender: the ``Partner``. Keyword arguments: ``profile``, the new ``BrandProfile`` (it has
#: its id), and ``previous``, the version it replaces (compare their ``logo_key`` to see
#: whether the logo changed).
brand_profile_saved = _signals.signal("brand-profile-saved")
