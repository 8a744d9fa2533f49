"""The kinds of the events on a run's queue (:class:`~slabpolicy.kernel.event_queue.EventQueue`).

An event is ``(t, kind, a, b, c)``; the engine's loop (kernel/engine.py) tells the
kinds apart, most frequent first.  They live here, apart from the engine, so that
the kernel-model modules that queue their own work (kernel/turns.py, rcu.py,
reclaim.py) push it on the queue directly, without importing the engine that
imports them.
"""

#: a stream's next allocation, an object's free, an accounted object's free (its objcg
#: in the event), a cgroup's arrival, its offline, a policy generator resumed, a
#: policy's scheduled call, a sample of the memory figures
ALLOC, FREE, FREE_ACCOUNTED, ARRIVE, OFFLINE, RESUME, CALL, SAMPLE = range(8)
#: the continuation of an operation stopped at a lock (kernel/turns.py)
TURN = 8
#: a task of a cgroup moves to another cpu
MIGRATE = 9
#: kernel-model work ``a(t, b, c)``: an object going unused or freed through RCU, its
#: expiry, an RCU grace period or batch, kswapd (kernel/rcu.py, reclaim.py)
KERNEL = 10
