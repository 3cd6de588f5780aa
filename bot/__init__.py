"""Platform adapters and the entrypoint (``python -m bot``)."""
