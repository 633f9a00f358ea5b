"""Order builders shared by the store tests."""

from nbexec.core.orders import Order, make_tag


def new_order(
    signal_id: str = "sig-1", account: str = "ACC1", quantity: int = 10, side: str = "BUY", instrument: str = "NSE:INFY"
) -> Order:
    return Order(
        order_id=make_tag(signal_id, account),
        signal_id=signal_id,
        account=account,
        instrument=instrument,
        side=side,
        quantity=quantity,
        created_at_ns=1,
    )
