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
#: kernel-model work ``a(t, b, c)``: an RCU grace period, a kfree_rcu() drain, kswapd
#: (kernel/rcu.py, reclaim.py)
KERNEL = 10
#: the kernel-model events of every object on memory-pressure, each with its own kind
#: so that the loop calls its handler directly (a C call on the compiled core) rather
#: than a callback ``a`` as a Python call: an object going unused (``a`` its list item,
#: ``b`` its second lifetime, ``c`` its cpu: Reclaim.unused_event), an unused object's
#: expiry (``a`` its list item: Reclaim._expire_event), an object's free through RCU
#: (Rcu.free_event), one cpu's RCU batch after a grace period (``a`` the callbacks:
#: Rcu._do_batch)
UNUSED, EXPIRE, RCU_FREE, RCU_BATCH = range(11, 15)
