"""The desk: kill switch, live blotter and positions in one box (what `%oms blotter` returns).

Displaying it shows all three; `desk.blotter.df` is the blotter's rows as a DataFrame.
"""

from __future__ import annotations

import ipywidgets as w

from ..engine.oms import OMS
from .blotter import Blotter
from .killswitch import KillSwitch
from .notifications import NotificationHub
from .positions import PositionsPanel


class Desk:
    """Create inside the kernel's loop; each part stops updating when the engine stops."""

    def __init__(self, oms: OMS, hub: NotificationHub) -> None:
        self.kill_switch = KillSwitch(oms)
        self.blotter = Blotter(oms, hub)
        self.positions = PositionsPanel(oms)
        self.widget = w.VBox([self.kill_switch.widget, self.blotter.widget, self.positions.widget])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
