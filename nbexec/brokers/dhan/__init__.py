"""Dhan v2: wire codecs, REST adapter, market feed and order-update clients."""
