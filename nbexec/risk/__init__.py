"""Pre-trade risk: pure checks that each refuse an order with a reason, or let it pass."""
