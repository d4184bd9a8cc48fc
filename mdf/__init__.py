"""Market development funds: funds, allocations, requests, claims, payments and their ledger."""
