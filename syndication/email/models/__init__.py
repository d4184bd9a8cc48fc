"""The email domain's tables: contacts and lists, suppression, contact imports."""

from syndication.email.models.contacts import (
    Contact,
    ContactList,
    ContactStatus,
    ContactTag,
    ListMembership,
)
from syndication.email.models.imports import (
    ContactImport,
    ContactImportIssue,
    ImportStatus,
)
from syndication.email.models.suppression import Suppression, SuppressionReason

__all__ = ["Contact", "ContactImport", "ContactImportIssue", "ContactList", "ContactStatus",
           "ContactTag", "ImportStatus", "ListMembership", "Suppression", "SuppressionReason"]
