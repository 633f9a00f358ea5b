"""The notebook surface: IPython extension, %oms magics, live widgets.

`%load_ext nbexec` (extension) registers `%oms` / `%%oms` (magics: grammar -> Command -> the
kernel's engine). The engine lives in `session`, one per kernel; `sync` runs its coroutines
from cells that do not await. Widgets are thin shells (`live`) over pure data logic:
blotter (+ blotter_model, fed by notifications), ticket, killswitch, progress, prices,
positions, latency (+ charts), grouped by `desk`. `runner` and `demo` execute notebooks in
real kernels.
"""
