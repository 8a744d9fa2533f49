"""A policy that keeps its own timers, for tests/test_timers.py.

At run start it arms a periodic timer every ``period`` whose run costs ``work``
on the op clock, and a one-shot call ``once`` later; it records the op clock at
the start of every run, and every ``slabpolicy_tick``.
"""
from slabpolicy import Option, PolicySpec, hookimpl


class Timed:
    def __init__(self, options):
        self.period = options["period"]
        self.work = options["work"]
        self.once = options["once"]
        self.runs = []             # op clock at the start of each periodic run
        self.once_at = []
        self.ticks = []            # (now_ns, op clock) of each slabpolicy_tick
        self.timer = None

    @hookimpl
    def slabpolicy_run_start(self, sim):
        self.timer = sim.schedule_every(self.period, lambda: self.periodic(sim))
        if self.once is not None:
            sim.schedule(self.once, lambda: self.once_at.append(sim.now))

    def periodic(self, sim):
        self.runs.append(sim.now)
        sim.slub.now += self.work

    @hookimpl
    def slabpolicy_tick(self, sim, now_ns):
        self.ticks.append((now_ns, sim.now))


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="timed", version="0.1", description="keeps timers",
                       factory=Timed,
                       options=(Option("period", "duration", "10ms", "periodic timer"),
                                Option("work", "duration", 0, "what each run costs"),
                                Option("once", "duration", None, "a one-shot call")))]
