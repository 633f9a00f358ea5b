"""Broker adapters (one subpackage per broker, same inner layout) and the paper exchange."""
