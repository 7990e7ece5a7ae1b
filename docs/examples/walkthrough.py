"""A walk through historian: demo data -> qualification -> summary -> correlation -> plot.

Paste it into a notebook cell by cell (the ``# %%`` lines are cell breaks that VS Code, PyCharm
and Jupytext understand), or run it as a script: ``python docs/examples/walkthrough.py``. It needs
no network and no PLC: the data comes from ``historian.sim.Plant``, the simulated reactor behind
``historian demo``, stepped offline. It writes ``walkthrough.hist`` (and ``walkthrough.png`` when
matplotlib is installed: ``pip install historian[plot]``) in the current folder.

The reactor: a PI controller drives the heater power (TIC-101.OUT) to follow a temperature
setpoint (TIC-101.SP); the jacket (TI-102.PV) follows the heater as a first-order lag with a
2-minute time constant, and the reactor (TIC-101.PV) follows the jacket with a 5-minute one. A
level controller moves the feed valve (FV-104.POS) and the feed flow (FIC-104.PV) follows.
A time constant is not a delay: step 5 finds the jacket leading the reactor by about 2 minutes
and the heater by about 4 (where their correlation peaks; the controller closes the loop). Then
we break things, as real plants do: the temperature transmitter freezes for 20 minutes and
throws a few wild readings, and the flow meter's link drops for 10 minutes.
"""

# %% 1. Demo data: four hours of the simulated reactor, one sample a second
import shutil

import numpy as np

import historian
from historian.kernels import reason_names
from historian.model import quality
from historian.sim import TAGS, Plant

START = historian.model.to_ns("2026-03-02T06:00:00Z")
HOURS = 4
S = 1_000_000_000
SIGNALS = [
    "TIC-101.PV",
    "TIC-101.SP",
    "TIC-101.OUT",
    "TI-102.PV",
    "PI-103.PV",
    "FIC-104.PV",
    "FV-104.POS",
    "LIC-105.PV",
    "P-106.RUN",
]

plant = Plant(seed=7, speed=1.0, dt_s=1.0, sp_period_s=1800.0)  # real time, 30-min setpoints
n = HOURS * 3600
times = START + np.arange(n, dtype=np.int64) * S
data = {name: np.empty(n) for name in SIGNALS}
for i in range(n):
    plant.step()
    values = plant.values()
    for name in SIGNALS:
        data[name][i] = float(values[name])

# The faults: a frozen transmitter, wild readings, a lost link.
frozen = slice(2 * 3600, 2 * 3600 + 20 * 60)  # 08:00-08:20 the temperature reads one value
data["TIC-101.PV"][frozen] = data["TIC-101.PV"][frozen.start]
for k in (3000, 9000, 12000):
    data["TIC-101.PV"][k] += 40.0  # single wild readings
flow_quality = np.zeros(n, dtype=np.uint32)
lost = slice(3 * 3600, 3 * 3600 + 10 * 60)  # 09:00-09:10 the flow meter is unreachable
flow_quality[lost] = quality.BAD_NO_COMMUNICATION
data["FIC-104.PV"][lost] = np.nan  # the collector records "no value, Bad_NoCommunication"

# %% 2. A store, tags with their qualification rules, and the data written through them
shutil.rmtree("walkthrough.hist", ignore_errors=True)  # start afresh when run again
h = historian.open("walkthrough.hist")
for name in SIGNALS:
    info = TAGS[name]
    h.define(
        name, unit=info.unit, kind=info.kind, lo=info.lo, hi=info.hi, description=info.description
    )
h.define(
    "TIC-101.PV",
    unit="degC",
    lo=0,
    hi=150,
    description="Reactor temperature",
    rules={
        "range": {},  # lo/hi from the tag
        "spike": {"window": 11, "k": 5, "min_deviation": 2.0},
        "flatline": {"duration": "5min", "epsilon": 0.0},
    },
)
for name in SIGNALS:
    q = flow_quality if name == "FIC-104.PV" else None
    h.write(name, times, data[name], quality=q)  # qualified on the way in; durable on return
h.flush()
print(h)  # path, tags, time span, points, size on disk

# %% 3. Qualification: what was downgraded, and why (the raw values are all still there)
raw = h.read("TIC-101.PV", reasons=True)
flagged = raw.filter(raw.column("reasons").to_numpy() != 0)
why: dict[str, int] = {}
for r in flagged.column("reasons").to_pylist():
    for rule in reason_names(r):
        why[rule] = why.get(rule, 0) + 1
print(f"TIC-101.PV: {flagged.num_rows} of {raw.num_rows} points downgraded:", why)
first = flagged.slice(0, 1).to_pylist()[0]
print(
    "first one:",
    first["time"],
    first["value"],
    quality.name(first["quality"]),
    reason_names(first["reasons"]),
)

# Rules can change: try a tighter range on history without writing anything (apply=False).
trial = h.qualify("TIC-101.PV", rules={"range": {"lo": 20, "hi": 90}})
print("with range 20-90 degC:", int((trial.column("reasons").to_numpy() != 0).sum()), "flagged")

# %% 4. A summary table: 30-minute time-weighted averages, min, max and % good data
summary = h.summary(
    ["TIC-101.PV", "TI-102.PV", "FIC-104.PV"],
    START,
    START + HOURS * 3600 * S,
    "30min",
    stats=["twa", "min", "max", "pct_good"],
)
table = summary.to_pandas().pivot_table(index="start", columns=["tag", "stat"], values="value")
print(table.round(2).head(8).to_string())  # in a notebook, just `table`

# %% 5. Correlation: which signals lead the reactor temperature, and by how long?
# The lag printed is where the correlation is strongest: about 2 min for the jacket, 4 for the
# heater - shorter than the 2 + 5 min time constants, since a first-order lag responds at once
# and only settles slowly.
lead = h.correlate(
    ["TIC-101.OUT", "TI-102.PV", "FIC-104.PV", "LIC-105.PV", "TIC-101.PV"],
    START,
    START + HOURS * 3600 * S,
    "1min",
    max_lag="30min",
    target="TIC-101.PV",
    progress=False,
)
for row in lead.to_pylist():
    print(
        f"{row['tag_a']:<12} leads TIC-101.PV by {row['lag_steps']:>3} min: "
        f"r = {row['r_at_lag']:+.2f} over {row['n_at_lag']} minutes"
    )

# %% 6. A chart: h.plot() values (a few per pixel), Bad periods shaded
try:
    import matplotlib.pyplot as plt

    from historian.plotting import plot_tag
except ImportError:
    print("matplotlib is not installed (pip install historian[plot]): no chart")
else:
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    plot_tag(h, "TIC-101.PV", START, START + HOURS * 3600 * S, ax=axes[0])
    plot_tag(h, "FIC-104.PV", START, START + HOURS * 3600 * S, ax=axes[1])
    fig.tight_layout()
    fig.savefig("walkthrough.png", dpi=80)  # in a notebook the figure shows by itself
    plt.close(fig)
    print("chart: walkthrough.png")

h.close()
