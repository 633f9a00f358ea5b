"""Broker adapters (one subpackage per broker, same inner layout, each with its market-feed
client and factory), the registry of factories, the order transport and retry rules. The paper
exchange is not here: it is `nbexec.paper`, beside this package."""
