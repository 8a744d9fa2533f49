"""Real workloads: kernel slab traffic recorded with ftrace, read, paired and replayed.

* :mod:`~slabpolicy.traces.parser`: one ftrace text line -> one :class:`Event`,
  for the formats kernels and tools really print (``cat trace``,
  ``trace_pipe``, ``options/fields``, no ``context-info``, ``trace-cmd
  report``; kernels before ``name=`` and ``accounted=``);
* :mod:`~slabpolicy.traces.tracefile`: opening a trace (gzip or not, a
  recorded file with its metadata header or plain ftrace text) and streaming
  its events with their line numbers;
* :mod:`~slabpolicy.traces.stats`: pairing frees with allocations by pointer
  and counting what a trace holds (``slabpolicy trace stats``);
* :mod:`~slabpolicy.traces.source`: a trace as a workload source
  (``trace:`` in a workload file), its filters and the caches it uses;
* :mod:`~slabpolicy.traces.replay`: the replay of a trace through the engine;
* :mod:`~slabpolicy.traces.record`: ``slabpolicy record`` on a Linux host;
* :mod:`~slabpolicy.traces.check`: ``slabpolicy replay-check``, predicted
  against measured counters.
"""
