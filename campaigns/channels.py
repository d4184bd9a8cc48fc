"""The channels a launch's steps go out through, registered by the domains that send them.

A launch belongs to campaigns, but sending belongs to syndication (email now, social posts
later), which sits above campaigns: campaigns must not import it. So each channel registers
an object here when the app is built (``syndication.email.launching`` registers "email"), and
launches talk to channels only through this protocol, by the kind of the kit item a step
sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from campaigns.models import KitVersion, Launch, LaunchStep
    from tcma.partners.models import Partner


class Channel(Protocol):
    def prepare(self, partner: Partner, version: KitVersion,
                options: dict[str, Any]) -> dict[str, Any]:
        """The launch options this channel keeps (e.g. the email list), checked; raise
        ValidationFailed naming the option's field otherwise. ``{}`` picks the defaults."""

    def problems(self, partner: Partner, version: KitVersion,
                 options: dict[str, Any]) -> list[str]:
        """What the partner must fix before this launch can go out, in words."""

    def audiences(self, partner: Partner) -> list[dict[str, Any]]:
        """Who a launch of this channel can go to, for the launch form: e.g. the email
        channel's contact lists as {"id", "name", "default", "reachable"}."""

    def scheduled(self, launch: Launch) -> None:
        """A launch was just created with steps of this channel: make whatever rows the
        partner should see before the first step is due (flush, do not commit)."""

    def start_step(self, step: LaunchStep) -> None:
        """Begin sending a step that just became due (flush; queue work after commit)."""

    def resume(self, launch: Launch) -> None:
        """Queue again the unsent work of a launch's started steps."""

    def cancel(self, launch: Launch) -> None:
        """Make sure nothing unsent of ``launch`` ever goes out."""

    def progress(self, launches: list[Launch]) -> dict[int, dict[str, int]]:
        """Counts per step id of these launches, in a query or two: messages by state
        ({"queued": 10, "sent": 90, "failed": 0, ...}) and, where the channel knows it,
        "opened" (approximate)."""


class ItemizedChannel(Protocol):
    def messages(self, launch: Launch) -> list[dict[str, Any]]:
        """Optional: a channel whose messages are few (posts, not emails) lists them for the
        launch page: {"step", "title", "status", "due_at", "detail", "url", "external_url",
        "external_id"}."""


_channels: dict[str, Channel] = {}


def register(kind: str, channel: Channel) -> None:
    _channels[kind] = channel


def channel(kind: str) -> Channel:
    try:
        return _channels[kind]
    except KeyError:
        raise RuntimeError(f"no channel sends kit items of kind {kind!r}") from None


def kinds() -> list[str]:
    return list(_channels)


def audiences(kind: str, partner: Partner) -> list[dict[str, Any]]:
    """The audiences ``kind``'s channel offers ``partner`` (none if no such channel)."""
    return _channels[kind].audiences(partner) if kind in _channels else []


def messages(launch: Launch) -> list[dict[str, Any]]:
    """Every itemizing channel's messages of ``launch`` (none for email: thousands)."""
    found: list[dict[str, Any]] = []
    for kind in dict.fromkeys(s.kind for s in launch.steps):
        lister = getattr(_channels.get(kind), "messages", None)
        if lister is not None:
            found += lister(launch)
    return found
