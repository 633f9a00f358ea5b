"""Zerodha Kite Connect v3: wire codecs, REST adapter, ticker client."""
