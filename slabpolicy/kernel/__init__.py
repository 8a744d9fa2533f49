"""The kernel model: SLUB (slub), memcgs and their page counters (memcg), object
cgroups (objcg), slab geometry (geometry), spinlocks as /proc/lock_stat sees
them (locks), the cost of each step (costs), the accounting checker
(accounting), and the discrete-event engine that runs them on N cpus (engine).
"""
