"""Web syndication: vendor content shown in a partner-branded widget on partners' sites."""
