"""tcma core: the app factory, configuration, data, accounts, partners, storage and API."""
