"""Email: partners' own contacts, their lists and consent, the global suppression list, and
(later) kits' emails rendered and sent under the partner's identity."""
