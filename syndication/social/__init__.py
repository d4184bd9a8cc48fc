"""Social syndication: partners' connected LinkedIn, X and Facebook accounts."""
