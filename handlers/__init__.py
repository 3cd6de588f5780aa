"""One module per command; platform-neutral, driven through :mod:`handlers.port`."""
