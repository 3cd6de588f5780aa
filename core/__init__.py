"""Services and domain rules; nothing here knows a chat platform."""
