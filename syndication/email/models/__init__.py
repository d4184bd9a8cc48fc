"""The email domain's tables: contacts and lists, suppression, contact imports, deliveries."""

from syndication.email.models.contacts import (
    Contact,
    ContactList,
    ContactStatus,
    ContactTag,
    ListMembership,
)
from syndication.email.models.deliveries import FINAL, Delivery, DeliveryStatus
from syndication.email.models.imports import (
    ContactImport,
    ContactImportIssue,
    ImportStatus,
)
from syndication.email.models.suppression import Suppression, SuppressionReason

__all__ = ["FINAL", "Contact", "ContactImport", "ContactImportIssue", "ContactList",
           "ContactStatus", "ContactTag", "Delivery", "DeliveryStatus", "ImportStatus",
           "ListMembership", "Suppression", "SuppressionReason"]
