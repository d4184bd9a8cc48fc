"""Campaign kits: vendor-authored emails, schedules and references, versioned on publish."""
