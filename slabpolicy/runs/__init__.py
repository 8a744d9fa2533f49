"""Running workloads: one run of a workload under a policy and a seed, as a
result document (runner); the workload x policy x seed matrix of ``compare`` in
worker processes (matrix); result files and directories (results).
"""
